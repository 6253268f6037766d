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

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(tmp_path, *args, timeout_s=90):
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
    env = {**os.environ, "BROWSER": f"{sys.executable} {fake} %s"}
    log = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "app", *args], cwd=tmp_path, env=env,
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
    time.sleep(1.0)  # the browser is opened from a thread, a moment after the server starts
    assert not opened.exists(), "kit app opened a browser without --open"


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


def test_limits_are_big_enough_for_songs_in_both_ways_of_starting():
    from traitlets.config.loader import PyFileConfigLoader

    from kit.app_server import MAX_BUFFER_MB, WEBSOCKET_LIMIT_MB, strip_lesson_cells, tornado_settings
    from kit.ui.upload import UPLOAD_LIMIT_MB

    wav_45mb, stated = 45e6, UPLOAD_LIMIT_MB * 1e6
    assert tornado_settings()["websocket_max_message_size"] > max(wav_45mb, stated)
    assert MAX_BUFFER_MB >= WEBSOCKET_LIMIT_MB
    # `voila notebooks/09_karaoke_maker.ipynb` from the repository root reads voila.py
    config = PyFileConfigLoader("voila.py", path=str(ROOT)).load_config()
    assert config.Voila.tornado_settings["websocket_max_message_size"] == tornado_settings()[
        "websocket_max_message_size"]
    assert config.VoilaConfiguration.prelaunch_hook is strip_lesson_cells


def test_app_page_keeps_the_app_and_drops_the_lesson_cells():
    from kit.app_server import notebook_path, strip_lesson_cells

    nb = nbformat.read(notebook_path(), as_version=4)
    n_before = len(nb.cells)
    app_nb = strip_lesson_cells(None, nb, str(ROOT / "notebooks"))
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
