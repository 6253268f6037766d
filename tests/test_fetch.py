"""`kit fetch` / kit.fetch against a real HTTP server on 127.0.0.1 (nothing else is contacted).

yt-dlp's generic extractor downloads direct links to media files, so a local
http.server serving an MP3 exercises the real download path: request, progress,
file naming, the final rename.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

import kit
from kit.errors import DownloadError
from kit.fetch import check_url, fetch_audio, make_safe_filename

WEIRD = "-rf $(touch pwned) 'x' ; ls | cat.mp3"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving a short MP3 (under two names) and an HTML page."""
    root = tmp_path_factory.mktemp("www")
    y, sr = kit.examples.load_song(duration_s=1.5)
    kit.save(root / "song.mp3", y * 0.8, sr)
    (root / WEIRD).write_bytes((root / "song.mp3").read_bytes())
    (root / "page.html").write_text("<html><body>no media here</body></html>")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the socket is: connections are refused


def run_kit(*args, cwd):
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, "-m", "kit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def _one_line_error(proc):
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kit: error: "), proc.stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_fetch_direct_link_through_the_cli(server, tmp_path):
    base, root = server
    proc = run_kit("fetch", f"{base}/song.mp3", "-o", "songs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path == (tmp_path / "songs" / "song.mp3").absolute() or path == Path("songs/song.mp3")
    path = tmp_path / "songs" / "song.mp3"
    assert path.read_bytes() == (root / "song.mp3").read_bytes()  # the audio as served: no re-encoding
    y, sr = kit.load(path)
    assert sr == 44100 and y.shape[1] > sr
    assert sorted(p.name for p in (tmp_path / "songs").iterdir()) == ["song.mp3"]  # no temp folder left


def test_progress_reaches_one_and_nothing_is_replaced(server, tmp_path):
    base, _ = server
    seen = []
    first = fetch_audio(f"{base}/song.mp3", out_dir=tmp_path, progress=seen.append)
    second = fetch_audio(f"{base}/song.mp3", out_dir=tmp_path)
    assert first.name == "song.mp3" and second.name == "song (1).mp3"
    assert seen and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)


def test_dangerous_title_becomes_a_safe_name_and_runs_nothing(server, tmp_path):
    base, root = server
    url = f"{base}/{urllib.parse.quote(WEIRD)}"
    proc = run_kit("fetch", url, "-o", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in tmp_path.iterdir()]
    assert len(files) == 1
    name = files[0].name
    assert not name.startswith(("-", ".")) and "/" not in name and "$" not in name and "|" not in name
    assert name.endswith(".mp3") and "touch pwned" in name  # readable, just defused
    assert Path(proc.stdout.strip()).name == name
    for folder in (tmp_path, root, Path(tempfile.gettempdir())):
        assert not (folder / "pwned").exists()


def test_not_found_is_one_line_and_leaves_nothing(server, tmp_path):
    base, _ = server
    line = _one_line_error(run_kit("fetch", f"{base}/missing.mp3", cwd=tmp_path))
    assert "404" in line and "missing.mp3" in line
    assert list(tmp_path.iterdir()) == []


def test_page_without_media_is_one_line(server, tmp_path):
    base, _ = server
    line = _one_line_error(run_kit("fetch", f"{base}/page.html", cwd=tmp_path))
    assert "Unsupported URL" in line
    assert list(tmp_path.iterdir()) == []


def test_refused_connection_is_one_line_and_leaves_nothing(closed_port, tmp_path):
    line = _one_line_error(run_kit("fetch", f"http://127.0.0.1:{closed_port}/song.mp3", cwd=tmp_path))
    assert "refused" in line.lower() and "Traceback" not in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/song.mp3", "song.mp3",
                                 "http:///nohost", "javascript:alert(1)", "-o"])
def test_only_http_urls_are_accepted(url, tmp_path):
    with pytest.raises(DownloadError, match="http:// and https://|file on this computer"):
        fetch_audio(url, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_rejects_file_urls_without_contacting_anything(tmp_path):
    line = _one_line_error(run_kit("fetch", "file:///etc/passwd", cwd=tmp_path))
    assert "file:///etc/passwd" in line and "https://" in line
    local = tmp_path / "mine.mp3"
    local.write_bytes(b"x")
    line = _one_line_error(run_kit("fetch", "mine.mp3", cwd=tmp_path))
    assert "file on this computer" in line


def test_check_url_keeps_good_addresses():
    assert check_url(" https://www.youtube.com/watch?v=A9B1Uo-VQas ") == "https://www.youtube.com/watch?v=A9B1Uo-VQas"
    assert check_url("HTTP://127.0.0.1:8000/a.mp3") == "HTTP://127.0.0.1:8000/a.mp3"


@pytest.mark.parametrize("title, expected", [
    ("Prince Royce - Dec. 21 (Official Video)", "Prince Royce - Dec. 21 (Official Video)"),
    ("-rf x", "rf x"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("..", "download"),
    ("", "download"),
    ("a\x00b\nc\td", "ab c d"),
    ("AC/DC: Back in Black?", "AC_DC_ Back in Black_"),
    ("CON", "download CON"),
    ("`rm -rf ~` $HOME", "_rm -rf ~_ _HOME"),
])
def test_make_safe_filename(title, expected):
    assert make_safe_filename(title) == expected


def test_make_safe_filename_limits_bytes_not_characters():
    name = make_safe_filename("é" * 500)
    assert len(name.encode("utf-8")) <= 180 and set(name) == {"é"}
    assert np.all([c not in make_safe_filename("a/b\\c") for c in "/\\"])
