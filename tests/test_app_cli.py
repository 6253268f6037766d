"""`kit app`: serves the karaoke maker with Voila, prints the URL, opens a browser only when asked.

The page itself is driven in a real browser in ``test_app_browser.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from cli_helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(tmp_path, *args, timeout_s=90, cwd=None, env=None):
    """Run `kit app` with a fake browser (the BROWSER variable) that records the URL it is given."""
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "fake_browser.py"
    # Voila may open a small local HTML page that redirects to the URL: record its text too
    fake.write_text(textwrap.dedent(f"""
        import sys
        url = sys.argv[1]
        page = open(url[len("file://"):]).read() if url.startswith("file://") else ""
        open({str(opened)!r}, "a").write(url + "\\n" + page)
    """))
    env = {**os.environ, **(env or {}), "BROWSER": f"{sys.executable} {fake} %s"}
    log = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "app", *args], cwd=cwd or tmp_path, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None and "running at" not in log.read_text():
        time.sleep(0.5)
    return proc, log, opened


def _stop(proc) -> int:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_app_prints_its_url_serves_and_stops_on_ctrl_c(tmp_path):
    port = _free_port()
    proc, log, opened = _start_app(tmp_path, "--port", str(port))
    try:
        text = log.read_text()
        url = f"http://127.0.0.1:{port}/"
        assert f"kit: the karaoke maker is running at {url}" in text, text
        assert "uploads up to 100 MB" in text and "256 MiB" in text
        # the server answers (a path that is not there: no kernel needs to start)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "kit-no-such-page", timeout=10)  # noqa: S310 (local server)
        assert err.value.code in (403, 404)  # an HTTP answer from Voila (it forbids unknown paths)
    finally:
        code = _stop(proc)
    assert code == 0
    # No waiting needed: Voila opens a browser from a non-daemon thread started before it serves, and
    # the process has exited, which joins that thread, so an opened browser has already written the file.
    assert not opened.exists(), "kit app opened a browser without --open"


def test_ctrl_c_stops_an_idle_app_whichever_thread_the_signal_lands_on(tmp_path):
    # Linux may hand a process's SIGINT to any thread that does not block it (ZeroMQ's, Tornado's);
    # an idle server whose main thread sleeps in the loop must still wake and stop (CI once saw it
    # outlive Ctrl-C by 30 s). The script sends the signal to its own, non-main thread once idle.
    port = _free_port()
    script = tmp_path / "signal_on_a_thread.py"
    script.write_text(textwrap.dedent(f"""
        import signal, threading, time, urllib.error, urllib.request
        from kit.app_server import serve

        def ctrl_c_on_this_thread():
            while True:
                try:
                    urllib.request.urlopen("http://127.0.0.1:{port}/kit-no-such-page", timeout=5)
                except urllib.error.HTTPError:
                    break  # the server answers
                except OSError:
                    time.sleep(0.2)
            time.sleep(2)  # idle: nothing wakes the loop but the signal
            print("signal sent", flush=True)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

        threading.Thread(target=ctrl_c_on_this_thread, daemon=True).start()
        print("exit code", serve(port={port}), flush=True)
    """))
    log = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    wait_until(lambda: "signal sent" in log.read_text() or proc.poll() is not None, 90, "the app to serve")
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the app went on serving after a Ctrl-C that landed on another thread")
    assert code == 0 and "exit code 0" in log.read_text(), log.read_text()


def test_app_open_flag_opens_the_browser_on_the_url(tmp_path):
    port = _free_port()
    proc, log, opened = _start_app(tmp_path, "--port", str(port), "--open")
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not opened.exists():
            time.sleep(0.5)
    finally:
        _stop(proc)
    assert opened.exists(), log.read_text()
    assert f"127.0.0.1:{port}" in opened.read_text()


def test_app_refuses_a_port_in_use_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "kit", "app", "--port", str(port)], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert f"Port {port} is in use" in res.stderr and "--port" in res.stderr
    assert "Traceback" not in res.stderr


def test_app_refuses_a_bad_port_number(tmp_path):
    res = subprocess.run([sys.executable, "-m", "kit", "app", "--port", "99999"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2 and "not a port number" in res.stderr and "Traceback" not in res.stderr


def test_limits_are_big_enough_for_songs_in_every_way_of_starting(monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    from kit.app_server import (
        IDLE_MINUTES,
        MAX_BUFFER_MB,
        PAGE_TEMPLATE,
        WEBSOCKET_LIMIT_MB,
        prepare_app_page,
        tornado_settings,
    )
    from kit.ui.upload import UPLOAD_LIMIT_MB

    wav_45mb, stated = 45e6, UPLOAD_LIMIT_MB * 1e6
    limit = tornado_settings()["websocket_max_message_size"]
    assert limit > max(wav_45mb, stated)
    assert MAX_BUFFER_MB >= WEBSOCKET_LIMIT_MB
    monkeypatch.delenv("KIT_IDLE_MINUTES", raising=False)
    # Voila by hand: JUPYTER_CONFIG_PATH=jupyter-config voila notebooks/09_karaoke_maker.ipynb
    voila = PyFileConfigLoader("voila.py", path=str(ROOT / "jupyter-config")).load_config()
    assert voila.Voila.tornado_settings["websocket_max_message_size"] == limit
    assert voila.VoilaConfiguration.prelaunch_hook is prepare_app_page
    assert voila.VoilaConfiguration.template == PAGE_TEMPLATE
    assert voila.MappingKernelManager.cull_idle_timeout == IDLE_MINUTES * 60
    # Binder and `jupyter lab` (voila/render/...): the server's own limits
    server = PyFileConfigLoader("jupyter_server_config.py", path=str(ROOT / "jupyter-config")).load_config()
    assert server.ServerApp.tornado_settings["websocket_max_message_size"] == limit
    assert server.ServerApp.max_buffer_size >= limit and server.ServerApp.max_body_size >= limit
    assert server.VoilaConfiguration.prelaunch_hook is prepare_app_page
    assert server.MappingKernelManager.cull_idle_timeout == IDLE_MINUTES * 60
    assert server.MappingKernelManager.cull_connected is False  # an open page is never culled


def test_idle_minutes_come_from_the_option_or_the_environment(monkeypatch):
    from kit.app_server import culling_settings, parse_idle_minutes
    from kit.errors import OptionError

    monkeypatch.setenv("KIT_IDLE_MINUTES", "3")
    assert parse_idle_minutes() == 3.0
    assert parse_idle_minutes("0.5") == 0.5
    assert culling_settings(0.5)["cull_idle_timeout"] == 30
    assert 1 <= culling_settings(0.5)["cull_interval"] <= 30
    monkeypatch.setenv("KIT_IDLE_MINUTES", "soon")
    with pytest.raises(OptionError, match="KIT_IDLE_MINUTES=soon"):
        parse_idle_minutes()
    for bad in ("0", "-2", "nan", "inf", "ten"):
        with pytest.raises(OptionError, match="--idle-minutes"):
            parse_idle_minutes(bad)
    res = subprocess.run([sys.executable, "-m", "kit", "app", "--idle-minutes", "0"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--idle-minutes 0" in res.stderr, res.stderr


def test_from_the_repository_root_voila_is_voila_and_kit_app_starts(tmp_path):
    """A voila.py at the root was imported instead of Voila: NameError get_config."""
    res = subprocess.run([sys.executable, "-c", "import voila.app"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "kit", "app", "--help"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert res.returncode == 0 and "--idle-minutes" in res.stdout, res.stderr
    port = _free_port()
    proc, log, _ = _start_app(tmp_path, "--port", str(port), cwd=ROOT)
    code = _stop(proc)
    assert f"running at http://127.0.0.1:{port}/" in log.read_text() and code == 0, log.read_text()


def test_app_page_keeps_the_app_and_drops_the_lesson_cells():
    from kit.app_server import notebook_path, prepare_app_page

    nb = nbformat.read(notebook_path(), as_version=4)
    n_before = len(nb.cells)
    app_nb = prepare_app_page(None, nb, str(ROOT / "notebooks"))
    sources = [c.source for c in app_nb.cells]
    assert 3 <= len(app_nb.cells) < n_before
    assert any("karaoke_maker(" in s for s in sources)
    assert not any("kit.separate(" in s for s in sources), "the app page would separate on load"
    assert any("parameters" in c.metadata.get("tags", []) for c in app_nb.cells)


def test_a_kernels_temporary_folder_goes_when_the_kernel_ends(tmp_path):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        code = textwrap.dedent("""
            from kit.ui.workdir import make_session_folder
            folder = make_session_folder()
            (folder / "upload.mp3").write_bytes(b"x" * 1000)
            print(folder)
        """)
        out = []
        reply = kc.execute_interactive(code, timeout=120,
                                       output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok"
        folder = Path("".join(out).strip())
        assert folder.is_dir() and folder.parent == tmp_path and folder.name.startswith("kit-app-")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # what Voila does when a visitor leaves
    assert not folder.exists()


# --- what happens to a page's kernel (no browser: the page's own requests, made here) ---

PAGE_TIMEOUT_S = 240  # a page starts a kernel that imports kit and torch: slow on a busy 2-core runner


class _Visitor:
    """A browser's part in talking to the app: cookies, the page (which starts a kernel), its requests."""

    def __init__(self, url: str):
        import http.cookiejar

        self.url, self.cookies = url, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open_page(self) -> str:
        """GET the app page, as a browser does; returns the page's kernel id."""
        import re

        with self.opener.open(self.url, timeout=PAGE_TIMEOUT_S) as reply:
            html = reply.read().decode()
        return re.search(r'"kernelId": "([0-9a-f-]+)"', html).group(1)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def leave(self, kernel_id: str) -> int:
        """What Voila's page sends when its tab closes: a form POST with the _xsrf cookie's value."""
        boundary = "kitboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n"
                f"{self.cookie('_xsrf') or ''}\r\n--{boundary}--\r\n").encode()
        request = urllib.request.Request(f"{self.url}voila/api/shutdown/{kernel_id}", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with self.opener.open(request, timeout=60) as reply:
                return reply.status
        except urllib.error.HTTPError as err:
            return err.code

    def kernel_exists(self, kernel_id: str) -> bool:
        try:
            with self.opener.open(f"{self.url}api/kernels/{kernel_id}", timeout=30):
                return True
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise

    def connect_websocket(self, kernel_id: str) -> None:
        """Open the kernel's websocket as the page does, ask for kernel_info, close it."""
        import asyncio
        import json
        import uuid

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        cookie = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        ws_url = self.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"

        async def talk():
            ws = await websocket_connect(HTTPRequest(ws_url, headers={"Cookie": cookie}))
            msg_id = str(uuid.uuid4())
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": "", "session": "",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell", "buffers": []}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.read_message(), 60))
                if reply.get("parent_header", {}).get("msg_id") == msg_id and reply["channel"] == "shell":
                    break
            ws.close()

        asyncio.run(talk())


def test_a_leaving_page_ends_its_kernel_and_an_abandoned_one_is_ended_after_the_idle_minutes(tmp_path):
    port = _free_port()
    proc, log, _ = _start_app(tmp_path, "--port", str(port), "--idle-minutes", "0.5")
    url = f"http://127.0.0.1:{port}/"
    try:
        assert "an abandoned one after 0.5 min" in log.read_text()
        visitor = _Visitor(url)
        kernel = visitor.open_page()
        assert visitor.kernel_exists(kernel)
        # the page has the cookie its goodbye needs (Voila never set it: 403 '_xsrf' argument missing)
        assert visitor.cookie("_xsrf"), "the page got no _xsrf cookie"
        assert visitor.leave(kernel) == 204
        gone_s = wait_until(lambda: not visitor.kernel_exists(kernel), 20, "the closed page's kernel to end")
        print(f"a closed page's kernel ended {gone_s:.1f} s after its goodbye")

        # a page that never says goodbye (its browser crashed): ended after the idle time, in words
        abandoned = _Visitor(url)
        kernel = abandoned.open_page()
        culled_s = wait_until(lambda: not abandoned.kernel_exists(kernel), 150, "the abandoned kernel to end")
        print(f"an abandoned page's kernel ended {culled_s:.1f} s after the page loaded (idle limit 30 s)")
        wait_until(lambda: f"kernel {kernel[:8]}" in log.read_text(), 10, "the app to say it ended a session")
        assert "ended the session of a page that left without closing it" in log.read_text()
    finally:
        code = _stop(proc)
    assert code == 0


def test_serving_shows_the_url_and_nothing_alarming(tmp_path):
    port = _free_port()
    proc, log, _ = _start_app(tmp_path, "--port", str(port))
    url = f"http://127.0.0.1:{port}/"
    try:
        visitor = _Visitor(url)
        kernel = visitor.open_page()
        visitor.connect_websocket(kernel)  # a page's websocket: Tornado's ping warning came here
        assert visitor.leave(kernel) == 204
        wait_until(lambda: not visitor.kernel_exists(kernel), 20, "the closed page's kernel to end")
    finally:
        code = _stop(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    print(f"kit app printed {len(lines)} lines while a page opened, talked and closed")
    # was: "not trusted", "Kernel is running over TCP without encryption", "websocket_ping_timeout ...",
    # Voila's own info lines and its URL a second time
    assert all(line.startswith("kit: ") for line in lines), "\n".join(lines)
    assert code == 0


def test_binders_app_link_opens_the_app_alone(tmp_path):
    """Binder: postBuild, then a Jupyter server, then the README's app link (voila/render/...).

    The server starts outside the repository (as `jupyter lab` may): the settings come from
    Jupyter's configuration folder, where postBuild put them, not from the folder it starts in.
    """
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    (bin_dir / "pip").write_text("#!/bin/sh\nexit 0\n")  # kit is installed here already
    (bin_dir / "pip").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    env.update(HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", KIT_CACHE_DIR=str(tmp_path / "cache"),
               MPLCONFIGDIR=os.environ.get("MPLCONFIGDIR", str(Path.home() / ".config" / "matplotlib")))
    subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], env=env, check=True, timeout=60)

    port, token = _free_port(), "kit-test-token"
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", "--allow-root"],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    visitor = _Visitor(f"http://127.0.0.1:{port}/")
    try:
        def up() -> bool:
            assert proc.poll() is None, "the Jupyter server stopped"
            try:
                visitor.opener.open(f"{visitor.url}api/status?token={token}", timeout=5)
                return True
            except OSError:
                return False

        wait_until(up, 120, "the Jupyter server to start")
        link = f"{visitor.url}voila/render/notebooks/09_karaoke_maker.ipynb?token={token}"
        with visitor.opener.open(link, timeout=PAGE_TIMEOUT_S) as reply:
            html = reply.read().decode()
        # the app, alone, in kit's page
        assert "application/vnd.jupyter.widget-view+json" in html
        assert "Step 4" not in html and "The last lesson puts the course to work" not in html
        assert "cdn.jsdelivr.net" not in html and "kit-page-notice" in html
        # and its goodbye ends its kernel here too
        import re

        kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', html).group(1)
        assert visitor.kernel_exists(kernel)
        assert visitor.leave(kernel) == 204
        wait_until(lambda: not visitor.kernel_exists(kernel), 20, "the closed page's kernel to end")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        print(log.read()[-3000:])
        log.close()



def test_a_bad_host_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kit", "app", "--host", "class-server"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("kit: error: --host 'class-server' is not an IP address")
