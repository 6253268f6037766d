"""Serve the karaoke maker notebook with Voila, with message limits big enough for songs.

Uploads travel over the kernel's websocket. Tornado's default message limit
(10 MiB) drops an ordinary MP3 or any WAV song without a word, and its server
buffer (100 MiB) caps a single message. ``kit app`` raises both; the page states
the upload limit (:data:`kit.ui.upload.UPLOAD_LIMIT_MB`, 100 MB), and its upload
button refuses a bigger file in the browser, in words, before sending it
(:mod:`kit.ui.upload_button`). Messages up to :data:`WEBSOCKET_LIMIT_MB` get
through, so an upload that comes another way is still answered by the kernel.

The page is Voila's lab template without the two stylesheets it fetches from a CDN
(``kit/share/voila/templates/kit-app``): they sit in the page head, and on Wi-Fi
that resolves names but reaches nothing the browser drew nothing until they timed out.

``voila notebooks/09_karaoke_maker.ipynb`` from the repository root reads the same
settings from ``voila.py``; Binder's ``postBuild`` writes the websocket limit for Jupyter.
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path

from .errors import KitError, OptionError

__all__ = ["WEBSOCKET_LIMIT_MB", "MAX_BUFFER_MB", "DEFAULT_PORT", "LESSON_TAG", "PAGE_TEMPLATE", "notebook_path",
           "tornado_settings", "strip_lesson_cells", "use_page_template", "serve"]

WEBSOCKET_LIMIT_MB = 256  # MiB: the largest websocket message (an upload) the server accepts
MAX_BUFFER_MB = 288  # MiB: the HTTP server's read buffer must hold one whole message
DEFAULT_PORT = 8866  # Voila's usual port
PAGE_TEMPLATE = "kit-app"  # kit/share/voila/templates/kit-app: Voila's lab page, no CDN stylesheets
IDLE_KERNEL_TIMEOUT_S = 2 * 3600  # a visitor's kernel (and its temporary files) goes after 2 idle hours
LESSON_TAG = "lesson"  # cells with this tag are the lesson around the app; the app page skips them


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
    """Voila ``prelaunch_hook``: drop the cells tagged ``lesson`` so the page is the app alone.

    In JupyterLab the notebook reads as the last lesson; under Voila the lesson
    cells would slow the page down (they separate a clip) and bury the app.
    """
    notebook.cells = [cell for cell in notebook.cells
                      if LESSON_TAG not in cell.get("metadata", {}).get("tags", [])]
    return notebook


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise OptionError(f"--port {port} is not a port number; use one between 1024 and 65535, e.g. 8866.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
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
            super().listen()

    return KitVoila


def serve(*, port: int = DEFAULT_PORT, open_browser: bool = False, notebook=None) -> int:
    """Serve the app on 127.0.0.1 until Ctrl-C; returns an exit code.

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    path = Path(notebook) if notebook else notebook_path()
    _check_port(port)
    app_class = _make_app_class()
    argv = [
        str(path),
        f"--template={use_page_template()}",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--no-browser" if not open_browser else "--Voila.open_browser=True",
        f"--MappingKernelManager.cull_idle_timeout={IDLE_KERNEL_TIMEOUT_S}",
        "--MappingKernelManager.cull_interval=300",
    ]
    app = app_class.instance()
    app.initialize(argv)
    app.tornado_settings = {**app.tornado_settings, **tornado_settings()}
    app.voila_configuration.prelaunch_hook = strip_lesson_cells
    print(f"kit: starting the karaoke maker ({path.name}); uploads up to "
          f"{_upload_limit_mb()} MB, websocket messages up to {WEBSOCKET_LIMIT_MB} MiB", flush=True)
    sys.stdout.flush()
    # A process started in the background by a non-interactive shell inherits SIGINT as ignored,
    # and Python then leaves it so: Ctrl-C (or a supervisor's SIGINT) would not stop the app,
    # and kernels would be killed later without removing their temporary folders.
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    app.start()
    return 0


def use_page_template() -> str:
    """Let Voila find kit's page template (no stylesheets from a CDN); returns its name.

    Voila looks for templates under ``voila/templates`` in the Jupyter data
    folders, which ``JUPYTER_PATH`` extends: kit's folder goes first.
    """
    import os

    here = str(Path(__file__).parent / "share")
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != here]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([here, *paths])
    return PAGE_TEMPLATE


def _upload_limit_mb() -> int:
    from .ui.upload import UPLOAD_LIMIT_MB

    return UPLOAD_LIMIT_MB
