"""A class on one server: eight visitors on one `kit app` press Preview at the same moment.

`kit app` with ``KIT_MAX_JOBS=1`` (one separation at a time, the default on 2 cores) and
its own queue folder (``KIT_JOBS_DIR``). Eight browser pages (Debian's chromium through
Playwright, as in ``tests/test_app_browser.py``; each its own context, so its own kernel)
each upload a song of their own (30 s, so no page is served from the stem cache) and
press Preview (20 s with ``unet``, the real pretrained network) one right after another.
Checked:

* every page ends with its stems, and none shows an error;
* the whole server (the `kit app` process and every kernel under it, resident memory
  summed, sampled every 0.5 s) stays under :data:`MEMORY_BOUND_GB`;
* the queue is fair: the slots were given in arrival order (``served.log`` in the queue
  folder lists the tickets as served; a ticket is named by its arrival time);
* the last visitor presses Cancel while waiting (its kernel hears the click while it
  waits), gets the page back, presses Preview again and is served last.

Loopback only; it stops by itself (pages closed, the app stopped with Ctrl-C). The
numbers it measured are printed, and the README's "A class on one server" quotes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from cli_helpers import wait_until
from test_app_browser import LOAD_TIMEOUT_MS, WORK_TIMEOUT_MS, _choose_model, _chromium, _free_port, _missing, _upload

import kit

pytestmark = pytest.mark.slow

VISITORS = 8
# measured here (2 cores, load average 3 and 14): 5.9-6.1 GB resident memory summed over 11 processes (Voila
# and 8 kernels with unet loaded, each ~680 MB of which the shared libraries count 8 times), 4.8-4.9 GB PSS; the
# bound leaves room for a busier run, and fails if each kernel kept, say, another 250 MB
MEMORY_BOUND_GB = 8.0


class MemorySampler(threading.Thread):
    """The peak memory of a process and all its descendants, sampled every ``every_s``.

    Two sums: resident memory (RSS; a library shared by the kernels counts once per kernel,
    so this is an upper bound) and proportional memory (PSS; shared pages split between their
    users: what the machine really gives the server).
    """

    def __init__(self, pid: int, every_s: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.root, self.every_s = psutil.Process(pid), every_s
        self.peak_rss, self.peak_pss, self.peak_processes = 0, 0, 0
        self.stop = threading.Event()

    def sample(self) -> None:
        import psutil

        rss, pss, n = 0, 0, 0
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                info = p.memory_full_info()
            except psutil.Error:  # ended between the listing and the reading
                continue
            rss, pss, n = rss + info.rss, pss + getattr(info, "pss", info.rss), n + 1
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, n)

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - the server stopped: keep the peak seen so far
                return


@pytest.fixture
def class_server(tmp_path):
    """`kit app` for a class: one separation at a time, its own queue and stem cache."""
    pytest.importorskip("psutil")
    port = _free_port()
    env = {**os.environ, "KIT_CACHE_DIR": str(tmp_path / "cache"), "KIT_JOBS_DIR": str(tmp_path / "jobs"),
           "KIT_MAX_JOBS": "1", "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kit", "app", "--port", str(port)], cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    wait_until(lambda: proc.poll() is not None or "running at" in log_path.read_text(), 120, "kit app to start")
    assert proc.poll() is None, log_path.read_text()
    yield f"http://127.0.0.1:{port}/", proc, tmp_path / "jobs"
    proc.send_signal(2)  # Ctrl-C
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def _status(page) -> str:
    return page.inner_text(".kit-status")


def test_eight_visitors_press_preview_at_once(class_server, tmp_path):
    url, server, jobs = class_server
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    songs = []
    for i in range(VISITORS):  # a song of their own each: no page gets its stems from the cache
        mix, _ = kit.examples.make_multitrack(30.0, seed=100 + i)
        songs.append(kit.save(tmp_path / f"Song {i}.mp3", mix, 44100))
    sampler = MemorySampler(server.pid)
    sampler.start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            contexts = [browser.new_context(viewport={"width": 1000, "height": 800}) for _ in range(VISITORS)]
            pages = [c.new_page() for c in contexts]
            for page in pages:
                page.goto(url, wait_until="commit")
            for page, song in zip(pages, songs, strict=True):
                # eight kernels import torch at once on two cores: twice one page's time (one CI run
                # on a busy machine took over 240 s for the first page)
                page.wait_for_selector(".kit-song-name", timeout=2 * LOAD_TIMEOUT_MS)
                page.click(".kit-source button:has-text('Upload a file')")
                _upload(page, song)
            for page, song in zip(pages, songs, strict=True):
                page.wait_for_function("t => document.querySelector('.kit-song-name').innerText.includes(t)",
                                       arg=song.stem, timeout=WORK_TIMEOUT_MS)
                _choose_model(page, "unet")
            t0 = time.perf_counter()
            for page in pages:  # one right after another: the kernels see the clicks at about the same time
                page.click("button.kit-preview")

            # the last visitor gives up while waiting (its kernel hears Cancel), then queues again
            last = pages[-1]
            last.wait_for_function("() => /ahead of you|you are next/.test("
                                   "document.querySelector('.kit-status').innerText)", timeout=WORK_TIMEOUT_MS)
            waited = _status(last)
            last.click("button.kit-cancel")
            last.wait_for_function("() => document.querySelector('.kit-status').innerText.includes('Cancelled')",
                                   timeout=WORK_TIMEOUT_MS)
            assert last.locator("button.kit-preview").is_enabled() and last.locator("button.kit-cancel").count() == 0
            last.click("button.kit-preview")

            finished = []
            deadline = time.monotonic() + 600
            while len(finished) < VISITORS:
                assert time.monotonic() < deadline, [_status(p) for p in pages]
                for i, page in enumerate(pages):
                    if i not in finished and "Separated the preview" in _status(page):
                        finished.append(i)
                    assert not page.locator(".kit-error").is_visible(), (i, page.inner_text(".kit-error"))
                time.sleep(0.2)
            elapsed_s = time.perf_counter() - t0
            statuses = [_status(p) for p in pages]
        finally:
            browser.close()
    sampler.stop.set()
    sampler.join(timeout=10)
    peak_gb, peak_pss_gb = sampler.peak_rss / 1e9, sampler.peak_pss / 1e9
    print(f"\n{VISITORS} visitors, one at a time: all done {elapsed_s:.0f} s after the clicks; "
          f"peak server memory {peak_gb:.2f} GB RSS summed, {peak_pss_gb:.2f} GB PSS, over "
          f"{sampler.peak_processes} processes; the last one waited with: {waited!r}")

    assert all("Separated the preview (0:00.0 to 0:20.0)" in s and "vocals" in s for s in statuses), statuses
    assert peak_gb < MEMORY_BOUND_GB, f"the server used {peak_gb:.2f} GB, over {MEMORY_BOUND_GB} GB"
    assert sampler.peak_processes >= VISITORS + 1  # the sampler saw every kernel
    # fair: served in arrival order, the one who cancelled and came back last of all
    served = [line.split() for line in (jobs / "served.log").read_text().splitlines()]
    tickets = [t for t, _slot in served]
    assert len(served) == VISITORS and tickets == sorted(tickets), served
    assert finished[-1] == VISITORS - 1, finished
    assert not [p for p in (jobs / "queue").iterdir()], "a ticket stayed in the queue"
