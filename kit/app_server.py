"""Serve the karaoke maker notebook with Voila: message limits big enough for songs, one kernel per open page.

Uploads travel over the kernel's websocket. Tornado's default message limit
(10 MiB) drops an ordinary MP3 or any WAV song without a word, and its server
buffer (100 MiB) caps a single message. ``kit app`` raises both; the page states
the upload limit (:data:`kit.ui.upload.UPLOAD_LIMIT_MB`, 100 MB), and its upload
button refuses a bigger file in the browser, in words, before sending it
(:mod:`kit.ui.upload_button`). Messages up to :data:`WEBSOCKET_LIMIT_MB` get
through, so an upload that comes another way is still answered by the kernel.

Each page has its own kernel (hundreds of MB once a model is loaded). Voila's
page asks the server to end it when the tab closes or reloads, with an
``_xsrf`` token read from a cookie that Voila never sets: the request was
refused (403) and the kernel lived on. :func:`prepare_app_page` sets that cookie.
A page that leaves without a word (a browser killed, a phone that dropped the
connection) loses its kernel after :data:`IDLE_MINUTES` without a page connected
(``--idle-minutes``, ``KIT_IDLE_MINUTES``); a page that is open is never culled.

The page is Voila's lab template without the two stylesheets it fetches from a CDN
(``kit/share/voila/templates/kit-app``): they sit in the page head, and on Wi-Fi
that resolves names but reaches nothing the browser drew nothing until they timed out.
The template also tells the visitor when the app has stopped, when the page's
session ended, and that a reload started the app afresh.

The same settings reach Voila three ways: ``kit app`` (:func:`serve`), Voila run
by hand with ``JUPYTER_CONFIG_PATH=jupyter-config`` (``jupyter-config/voila.py``
calls :func:`configure_voila`), and Binder, whose ``postBuild`` copies
``jupyter-config/`` into Jupyter's configuration folder
(``jupyter_server_config.py`` calls :func:`configure_jupyter_server`). No
``voila.py`` sits at the repository root: Python would import it instead of Voila.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import tempfile
from pathlib import Path

from .errors import KitError, OptionError

__all__ = ["WEBSOCKET_LIMIT_MB", "MAX_BUFFER_MB", "DEFAULT_PORT", "LESSON_TAG", "PAGE_TEMPLATE", "IDLE_MINUTES",
           "IDLE_MINUTES_ENV", "notebook_path", "tornado_settings", "strip_lesson_cells", "prepare_app_page",
           "use_page_template", "parse_idle_minutes", "culling_settings", "configure_voila",
           "configure_jupyter_server", "serve"]

WEBSOCKET_LIMIT_MB = 256  # MiB: the largest websocket message (an upload) the server accepts
MAX_BUFFER_MB = 288  # MiB: the HTTP server's read buffer must hold one whole message
DEFAULT_PORT = 8866  # Voila's usual port
PAGE_TEMPLATE = "kit-app"  # kit/share/voila/templates/kit-app: Voila's lab page, no CDN stylesheets
IDLE_MINUTES = 10.0  # a kernel with no page connected (and not working) ends after this long
IDLE_MINUTES_ENV = "KIT_IDLE_MINUTES"
LESSON_TAG = "lesson"  # cells with this tag are the lesson around the app; the app page skips them

# A Unix socket path holds at most 107 bytes on Linux (103 on macOS). A kernel's IPC
# sockets live at <root>/voila_XXXXXXXX/kernel-<36-char id>-ipc-N: 65 bytes after the root.
_IPC_PATH_MAX = 100
_IPC_PATH_AFTER_ROOT = 65


def notebook_path() -> Path:
    """The karaoke maker notebook in this checkout of the repository."""
    path = Path(__file__).resolve().parent.parent / "notebooks" / "09_karaoke_maker.ipynb"
    if not path.is_file():
        raise KitError(
            f"The app notebook is not at '{path}'. kit app runs from a clone of the repository: "
            "git clone it and run `pip install -e .` there."
        )
    return path


def tornado_settings() -> dict:
    """Tornado application settings for the app (the websocket message limit, in bytes)."""
    return {"websocket_max_message_size": WEBSOCKET_LIMIT_MB * 2**20}


def strip_lesson_cells(request_handler, notebook, cwd):
    """Drop the cells tagged ``lesson`` so the page is the app alone.

    In JupyterLab the notebook reads as the last lesson; under Voila the lesson
    cells would slow the page down (they separate a clip) and bury the app.
    """
    notebook.cells = [cell for cell in notebook.cells
                      if LESSON_TAG not in cell.get("metadata", {}).get("tags", [])]
    return notebook


def prepare_app_page(request_handler, notebook, cwd):
    """Voila ``prelaunch_hook``: give the page its ``_xsrf`` cookie and drop the lesson cells.

    Voila's page ends its kernel when it closes by posting to
    ``voila/api/shutdown/<kernel>`` with the ``_xsrf`` cookie's value. Voila
    renders its page without ever asking for that token, so the cookie is not
    there and the server refuses the request ("'_xsrf' argument missing"): asking
    for it here, before the page's headers go out, sets the cookie.
    """
    if request_handler is not None:
        request_handler.xsrf_token  # noqa: B018 (reading it sets the cookie)
    return strip_lesson_cells(request_handler, notebook, cwd)


def use_page_template() -> str:
    """Let Voila find kit's page template (no stylesheets from a CDN); returns its name.

    Voila looks for templates under ``voila/templates`` in the Jupyter data
    folders, which ``JUPYTER_PATH`` extends: kit's folder goes first.
    """
    here = str(Path(__file__).parent / "share")
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != here]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([here, *paths])
    return PAGE_TEMPLATE


def parse_idle_minutes(text=None, *, flag: str = "--idle-minutes") -> float:
    """Minutes a kernel may sit with no page before it ends: ``text``, else ``KIT_IDLE_MINUTES``, else 10."""
    if text is None:
        text, flag = os.environ.get(IDLE_MINUTES_ENV), IDLE_MINUTES_ENV + "="
        if text is None or not text.strip():
            return IDLE_MINUTES
    try:
        minutes = float(str(text).strip())
    except ValueError:
        minutes = float("nan")
    if not minutes > 0 or minutes == float("inf"):
        sep = "" if flag.endswith("=") else " "
        raise OptionError(f"{flag}{sep}{text} is not a number of minutes above 0; give e.g. {flag}{sep}10.")
    return minutes


def culling_settings(idle_minutes: float = IDLE_MINUTES) -> dict:
    """Jupyter's ``MappingKernelManager`` settings that end a kernel left ``idle_minutes`` without a page.

    Jupyter culls only kernels that are idle (not busy: a long separation is safe)
    and have no websocket connected (an open page is safe, however long it waits).
    """
    idle_s = max(1, round(idle_minutes * 60))
    return {"cull_idle_timeout": idle_s, "cull_interval": max(1, min(60, idle_s // 4)),
            "cull_busy": False, "cull_connected": False}


def _kernel_transport() -> dict:
    """Kernels talk to the server over Unix sockets where their paths fit, else over TCP.

    Over TCP, each kernel prints a warning about unencrypted traffic to the terminal,
    and other users of the computer could reach its ports; Unix sockets are private.
    """
    if os.name != "posix":
        return {}
    for root in (tempfile.gettempdir(), "/tmp"):  # noqa: S108 (a short folder for the socket paths)
        if len(root) + _IPC_PATH_AFTER_ROOT <= _IPC_PATH_MAX and os.path.isdir(root) and os.access(root, os.W_OK):
            return {"transport": "ipc", "connection_dir_root": root}
    return {}


def configure_voila(c, *, idle_minutes: float | None = None):
    """Put the app's settings into a traitlets config ``c`` for Voila (the app or its server extension).

    ``jupyter-config/voila.py`` calls this for Voila run by hand; :func:`serve`
    for ``kit app``. Returns ``c``.
    """
    minutes = parse_idle_minutes() if idle_minutes is None else idle_minutes
    c.Voila.tornado_settings = tornado_settings()
    c.VoilaConfiguration.template = use_page_template()
    c.VoilaConfiguration.prelaunch_hook = prepare_app_page
    for name, value in culling_settings(minutes).items():
        setattr(c.MappingKernelManager, name, value)
    transport = _kernel_transport()
    if transport:
        c.KernelManager.transport = transport["transport"]
        c.Voila.connection_dir_root = transport["connection_dir_root"]
    return c


def configure_jupyter_server(c, *, idle_minutes: float | None = None):
    """The app's settings for a Jupyter server with Voila's extension (Binder's ``voila/render/...``).

    The server's websocket and buffer limits let songs through, idle kernels
    end as under ``kit app``, and ``voila/render`` shows the app alone in kit's page.
    Returns ``c``.
    """
    minutes = parse_idle_minutes() if idle_minutes is None else idle_minutes
    c.ServerApp.tornado_settings = tornado_settings()
    c.ServerApp.max_buffer_size = MAX_BUFFER_MB * 2**20
    c.ServerApp.max_body_size = MAX_BUFFER_MB * 2**20
    for name, value in culling_settings(minutes).items():
        setattr(c.MappingKernelManager, name, value)
    c.VoilaConfiguration.template = use_page_template()
    c.VoilaConfiguration.prelaunch_hook = prepare_app_page
    return c


class _QuietKnownNoise(logging.Filter):
    """Drops the log lines that are harmless but read as alarms to a singer; says culling in words."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        # Trust is about showing a notebook's stored outputs; the app notebook is committed without any.
        if msg.startswith("Notebook %s is not trusted"):
            return False
        # jupyter_server gives Tornado its ping interval in ms where Tornado reads seconds, so Tornado
        # sees a timeout (90000) over the interval (30000); jupyter_server's own pings still run every 30 s.
        if msg.startswith("The websocket_ping_timeout"):
            return False
        # A page whose session ended asks after its kernel (to tell its visitor so): the answer is 404.
        text = record.getMessage()
        if "Kernel does not exist" in text or text.startswith("404 GET /api/kernels/"):
            return False
        if msg.startswith("Culling '%s' kernel") and record.args and len(record.args) >= 5:
            kernel_id, idle_s = record.args[2], record.args[4]
            print(f"kit: ended the session of a page that left without closing it "
                  f"(kernel {str(kernel_id)[:8]}, unused for {idle_s} s)", flush=True)
            return False
        return True


def _quiet_known_noise(app_log: logging.Logger) -> None:
    noise = _QuietKnownNoise()
    for log in (app_log, logging.getLogger("tornado.general"), logging.getLogger("tornado.access")):
        log.addFilter(noise)


def _check_host(host: str) -> str:
    """The address to listen on, checked before Voila starts: an IP address of this machine."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise OptionError(f"--host {host!r} is not an IP address; use 127.0.0.1 (this computer only) or "
                          "0.0.0.0 (every network this computer is on, e.g. a class server).") from None
    return host


def _check_port(port: int, host: str = "127.0.0.1") -> None:
    if not 0 < port < 65536:
        raise OptionError(f"--port {port} is not a port number; use one between 1024 and 65535, e.g. 8866.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OptionError(f"Port {port} is in use (is the app already running?); "
                                  "choose another with --port, e.g. --port 8899.") from None
            raise OptionError(f"Cannot listen on port {port} ({exc.strerror}); choose another with --port.") from None


def _make_app_class():
    from voila.app import Voila

    class KitVoila(Voila):
        """Voila that passes bigger buffer limits to its HTTP server and prints the URL."""

        def listen(self):
            raw_listen = self.app.listen

            def listen_with_limits(port, address="", **kwargs):
                kwargs.setdefault("max_buffer_size", MAX_BUFFER_MB * 2**20)
                kwargs.setdefault("max_body_size", MAX_BUFFER_MB * 2**20)
                server = raw_listen(port, address, **kwargs)
                print(f"kit: the karaoke maker is running at http://{address}:{port}/  (Ctrl-C stops it)",
                      flush=True)
                return server

            self.app.listen = listen_with_limits
            _stop_loop_on_ctrl_c()
            super().listen()

    return KitVoila


def _stop_loop_on_ctrl_c() -> None:
    """Ctrl-C (SIGINT) stops the serving loop, whichever of the app's threads the signal lands on.

    With only Python's handler, a SIGINT that Linux hands to another thread (ZeroMQ's, Tornado's)
    sets a flag the main thread reads when it next wakes, and an idle server sleeps for minutes:
    CI saw `kit app` outlive its Ctrl-C by 30 s. asyncio's handler also writes to a wakeup fd the
    loop watches, so the loop wakes at once; Voila's own ``finally`` then ends the kernels.
    """
    import asyncio
    import signal

    loop = asyncio.get_event_loop()

    def stop() -> None:
        # a second Ctrl-C while the kernels end is Python's KeyboardInterrupt again (`kit` says "stopped")
        loop.remove_signal_handler(signal.SIGINT)
        loop.stop()

    try:
        loop.add_signal_handler(signal.SIGINT, stop)
    except (NotImplementedError, RuntimeError):  # Windows' loops have no signal handlers
        pass


def serve(*, port: int = DEFAULT_PORT, open_browser: bool = False, notebook=None,
          idle_minutes: float | None = None, host: str = "127.0.0.1") -> int:
    """Serve the app on ``host`` (default 127.0.0.1, this computer only) until Ctrl-C; returns an exit code.

    On any other address (a class server) the kernels refuse links to loopback and
    private addresses (:func:`kit.fetch.check_public_host`).

    ``idle_minutes``: a kernel with no page connected ends after this long
    (default: ``KIT_IDLE_MINUTES`` or :data:`IDLE_MINUTES`).

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    path = Path(notebook) if notebook else notebook_path()
    minutes = parse_idle_minutes() if idle_minutes is None else idle_minutes
    _check_port(port, _check_host(host))
    from traitlets.config import Config

    app_class = _make_app_class()
    argv = [
        str(path),
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",
        "--no-browser" if not open_browser else "--Voila.open_browser=True",
        # Voila's own lines (where it stores files, its URL again, each kernel started) are noise to a
        # singer; warnings and errors still show.
        "--Voila.log_level=WARN",
    ]
    app = app_class.instance(config=configure_voila(Config(), idle_minutes=minutes))
    app.initialize(argv)
    _quiet_known_noise(app.log)
    print(f"kit: starting the karaoke maker ({path.name}); uploads up to {_upload_limit_mb()} MB, websocket "
          f"messages up to {WEBSOCKET_LIMIT_MB} MiB; a closed page's session ends at once, an abandoned "
          f"one after {minutes:g} min", flush=True)
    sys.stdout.flush()
    # A process started in the background by a non-interactive shell inherits SIGINT as ignored,
    # and Python then leaves it so: Ctrl-C (or a supervisor's SIGINT) would not stop the app,
    # and kernels would be killed later without removing their temporary folders.
    import os
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    # kernels inherit it: links to private addresses are refused unless the app serves only this computer
    os.environ["KIT_APP_BIND"] = host
    app.start()
    return 0


def _upload_limit_mb() -> int:
    from .ui.upload import UPLOAD_LIMIT_MB

    return UPLOAD_LIMIT_MB
