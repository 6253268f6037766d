"""The karaoke maker in a real browser: `kit app` served by Voila, driven by Chromium.

Playwright drives Debian's ``chromium`` through ``executable_path`` (no browser
download). Two visitors use the app at the same time, each in its own browser
context (own cookies, own Voila kernel):

* visitor A separates the bundled song with ``unet`` (the real pretrained
  Spleeter 2-stem weights; the clip is shorter than a preview, so the whole song
  is the only button), switches the vocals on and off, hears a backing track in
  the player (limiter on, no clipping warning) and downloads it as MP3 in one click;
* visitor B uploads a 12 MB MP3 and a 45 MB WAV made here, previews the MP3
  with the fast ``center`` method, then uploads a 110 MB file (over the stated
  100 MB limit), refused under the upload button, and a text file, refused
  beside the upload button (the song line cleared).

Neither sees the other's song. Then both choose a 300 MB file (over the websocket
limit too): the browser refuses it in words before sending it (the websocket
carries a few bytes), and a short song uploaded next plays its preview.

Screenshots (1280x800 for A, 390x844 phone for B) go to ``$KIT_SCREENSHOT_DIR``
or a temporary folder. Without Chromium or Playwright the tests skip, unless
``KIT_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import wait_until

import kit
from kit.audio import resample
from kit.ui.upload import too_big_message

REQUIRE = os.environ.get("KIT_REQUIRE_BROWSER") == "1"
LOAD_TIMEOUT_MS = 240_000  # a page starts a kernel that imports torch: slow on a busy 2-core runner
WORK_TIMEOUT_MS = 180_000


def _missing(reason: str):
    if REQUIRE:
        pytest.fail(f"KIT_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    # scripts/test.sh says why its install failed (e.g. apt-get: "dpkg was interrupted")
    _missing(os.environ.get("KIT_BROWSER_UNAVAILABLE")
             or "Debian's chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("KIT_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`kit app` on a free port, with its own stem cache; stopped (Ctrl-C) at the end."""
    port = _free_port()
    home = tmp_path_factory.mktemp("app")
    env = {**os.environ, "KIT_CACHE_DIR": str(home / "cache"), "HF_HUB_OFFLINE": "1", "TMPDIR": str(home)}
    log = open(home / "app.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "kit", "app", "--port", str(port)], cwd=home,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (our own local server)
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
    log.seek(0)
    started = log.read()
    assert proc.poll() is None, f"kit app stopped:\n{started}"
    assert f"running at {url}" in started, started
    yield url
    proc.send_signal(2)  # Ctrl-C
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    # each visitor's kernel kept its files in its own folder under TMPDIR; all gone with the kernels
    assert not list(home.glob("kit-app-*")), "a kernel's temporary folder outlived the app"


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _make_song(path: Path, seconds: float) -> Path:
    """A real song file: the bundled clip looped (with a fade at each seam) to ``seconds``."""
    y, sr = kit.examples.load_song()
    reps = int(np.ceil(seconds * sr / y.shape[1]))
    long = np.tile(y, (1, reps))[:, : int(seconds * sr)] * 0.9
    kit.save(path, long, sr)
    return path


def _shoot(page, path: Path, section: str = ".kit-section-separate") -> None:
    """Screenshot the window with ``section`` scrolled into view (Voila scrolls inside the page,
    so full-page and element shots of what is off screen come out blank)."""
    page.locator(section).scroll_into_view_if_needed()
    page.screenshot(path=str(path))


def _status(page) -> str:
    return page.inner_text(".kit-status")


def _wait_status(page, text: str):
    page.wait_for_function("t => (document.querySelector('.kit-status') || {}).innerText?.includes(t)",
                           arg=text, timeout=WORK_TIMEOUT_MS)


def _choose_model(page, name: str):
    select = page.locator(".kit-model select")
    # ipywidgets writes spaces in option labels as no-break spaces
    labels = [t.replace("\xa0", " ") for t in select.evaluate("s => [...s.options].map(o => o.textContent)")]
    index = next(i for i, t in enumerate(labels) if f" {name} - " in t)
    select.select_option(index=index)


def _upload(page, path: Path):
    # what a person does: click the upload button and pick the file in the chooser
    with page.expect_file_chooser(timeout=WORK_TIMEOUT_MS) as chooser:
        page.click(".kit-upload button")
    chooser.value.set_files(str(path))


# bytes each page has sent over its websockets (to the kernel), by id(page)
_SENT: dict[int, list[int]] = {}


def _watch_websockets(page) -> None:
    counts = _SENT.setdefault(id(page), [])
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: counts.append(len(payload))))


def _sent(page) -> int:
    return sum(_SENT[id(page)])


def _watch_outside_requests(page) -> list:
    """URLs the page asks of any host but the app's own (the app must work with no internet)."""
    outside = []
    local = ("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "ws://localhost", "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    return outside


@pytest.fixture(scope="module")
def visitors(browser, app_url):
    """Two visitors opening the app at the same moment (separate contexts: separate kernels)."""
    a = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    b = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, accept_downloads=True)
    page_a, page_b = a.new_page(), b.new_page()
    for page in (page_a, page_b):
        _watch_websockets(page)
        page.outside_requests = _watch_outside_requests(page)
    page_a.goto(app_url, wait_until="commit")
    page_b.goto(app_url, wait_until="commit")
    for page in (page_a, page_b):
        page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
    yield page_a, page_b
    a.close()
    b.close()


def test_two_visitors_at_once(visitors, shots, tmp_path):
    page_a, page_b = visitors
    page_a.screenshot(path=str(shots / "a_1280_start.png"))
    page_b.screenshot(path=str(shots / "b_390_start.png"))
    # nothing is fetched from the internet (Voila's own template asks a CDN for icon stylesheets)
    assert page_a.outside_requests == [] and page_b.outside_requests == []
    # the bundled song is there at first start, and the engine says what it uses
    assert "Bundled song" in page_a.inner_text(".kit-song-name")
    assert "using CPU" in page_a.inner_text(".kit-engine") or "using CUDA" in page_a.inner_text(".kit-engine")

    # the clip (10.9 s) is shorter than a preview: one way to separate it, and its length said once
    assert not page_a.locator("button.kit-preview").is_visible() and page_a.locator("button.kit-whole").is_visible()
    assert page_a.inner_text(".kit-song").count("10.9") == 1
    # A separates the whole clip with unet; while A's kernel works, B uploads a 12 MB MP3 (B's kernel)
    _choose_model(page_a, "unet")
    page_a.click("button.kit-whole")
    mp3 = _make_song(tmp_path / "Long song.mp3", 300.0)
    assert mp3.stat().st_size > 11e6
    page_b.click(".kit-source button:has-text('Upload a file')")
    _upload(page_b, mp3)
    page_b.wait_for_function("() => document.querySelector('.kit-song-name').innerText.includes('Long song')",
                             timeout=WORK_TIMEOUT_MS)
    assert "5:00" in page_b.inner_text(".kit-song-duration")
    _wait_status(page_a, "Separated the whole song")
    assert page_a.locator("button.kit-whole").is_enabled()
    # the first mix: limiter on and said so, no clipping warning (it read "+0.4 dBFS ... will clip")
    mixer_text = page_a.inner_text(".kit-mixer")
    assert "limiter on" in mixer_text and "clip" not in mixer_text.replace("peaks may clip", ""), mixer_text
    vocals_on = page_a.locator(".kit-mixer .kit-wm-on[title^='vocals ']")  # the vocals' on/off switch
    vocals_on.click()  # vocals back in...
    page_a.wait_for_function("() => document.querySelector('.kit-mixer').innerText.includes('full mix')",
                             timeout=WORK_TIMEOUT_MS)
    vocals_on.click()  # ...and out again
    page_a.wait_for_function("() => document.querySelector('.kit-mixer').innerText.includes('Playing: no vocals')",
                             timeout=WORK_TIMEOUT_MS)
    # the page's mixer (kit.ui.web_mixer) holds the stems of the whole song, decoded
    duration = page_a.evaluate("() => document.querySelector('.kit-mixer .kit-web-mixer').kitMixer.decodedSeconds()")
    assert abs(duration - 10.88) < 0.2, duration

    # B: preview 20 s of the long song with the fast centre-channel method
    _choose_model(page_b, "center")
    page_b.click("button.kit-preview")
    _wait_status(page_b, "Separated the preview (0:00.0 to 0:20.0)")
    _shoot(page_b, shots / "b_390_separated.png")
    _shoot(page_b, shots / "b_390_mixer.png", ".kit-section-mix")

    # A: download the backing track as MP3: one click
    _shoot(page_a, shots / "a_1280_separated.png")
    with page_a.expect_download(timeout=WORK_TIMEOUT_MS) as info:
        page_a.click(".kit-section-download .kit-download button")
    download = info.value
    page_a.wait_for_selector(".kit-section-download .kit-download-note[data-kind='saved']", timeout=WORK_TIMEOUT_MS)
    _shoot(page_a, shots / "a_1280_download.png", ".kit-section-download")
    assert download.suggested_filename == "Bundled song (ccMixter clip) (no vocals).mp3"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    y, sr = kit.load(saved)
    song, song_sr = kit.examples.load_song()
    assert sr == song_sr and abs(y.shape[1] / sr - song.shape[1] / song_sr) < 0.05
    # a backing track, not the song: the vocals are out, so it differs from the original
    n = min(y.shape[1], song.shape[1])
    assert np.sqrt(np.mean((y[:, :n] - song[:, :n]) ** 2)) > 0.01
    # the backing down 12 dB and download in the same moment: the page tells the kernel of a gain
    # 400 ms after the slider stops, the click at once; the click brings the page's settings
    with page_a.expect_download(timeout=WORK_TIMEOUT_MS) as info:
        page_a.evaluate("""() => {
            const s = document.querySelector(".kit-mixer .kit-wm-gain[aria-label^='accompaniment']");
            s.value = "-12"; s.dispatchEvent(new Event("input", { bubbles: true }));
            document.querySelector(".kit-section-download .kit-download button").click(); }""")
    assert info.value.suggested_filename == "Bundled song (ccMixter clip) (no vocals, accompaniment -12 dB).mp3"
    info.value.save_as(tmp_path / "quieter.mp3")
    quieter, _ = kit.load(tmp_path / "quieter.mp3")
    n = min(quieter.shape[1], y.shape[1])
    level = 20 * np.log10(np.sqrt(np.mean(quieter[:, :n] ** 2)) / np.sqrt(np.mean(y[:, :n] ** 2)))
    assert -13 < level < -11, level  # the file is 12 dB down, as the page played it
    page_a.wait_for_function("() => document.querySelector('.kit-mixer').innerText.includes('accompaniment -12 dB')",
                             timeout=WORK_TIMEOUT_MS)  # and the kernel hears of it a moment later

    # B: a 45 MB WAV gets through the websocket too
    wav = tmp_path / "Big take.wav"
    import soundfile as sf

    long, long_sr = kit.load(mp3, duration_s=255.0)
    sf.write(str(wav), long.T, long_sr, subtype="PCM_16")
    assert wav.stat().st_size > 44e6
    _upload(page_b, wav)
    page_b.wait_for_function("() => document.querySelector('.kit-song-name').innerText.includes('Big take')",
                             timeout=WORK_TIMEOUT_MS)
    assert "4:15" in page_b.inner_text(".kit-song-duration")

    # B: a file over the stated limit is refused under the button, and the song stays
    huge = tmp_path / "Huge.wav"
    with open(huge, "wb") as f:
        f.truncate(110 * 10**6)
    _upload(page_b, huge)
    page_b.wait_for_selector(".kit-upload .kit-upload-message:has-text('up to 100 MB')", timeout=WORK_TIMEOUT_MS)
    assert "Big take" in page_b.inner_text(".kit-song-name")

    # B: not audio -> a sentence beside the upload button, the song line cleared, the app keeps working
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my lyrics, not a song\n" * 100)
    _upload(page_b, notes)
    page_b.wait_for_selector(".kit-upload-error:has-text('notes.txt')", timeout=WORK_TIMEOUT_MS)
    error = page_b.inner_text(".kit-upload-error")
    assert "Traceback" not in error and "not a sound file" in error
    assert not page_b.locator(".kit-error").is_visible()
    assert "Big take" not in page_b.inner_text(".kit-song") and "none yet" in page_b.inner_text(".kit-song")
    _shoot(page_b, shots / "b_390_error.png", ".kit-upload")
    assert page_b.locator("button.kit-preview").is_enabled()

    # each visitor saw only their own song
    assert "Bundled song" in page_a.inner_text(".kit-song-name")
    text_a, text_b = page_a.inner_text("body"), page_b.inner_text("body")
    assert "Long song" not in text_a and "Big take" not in text_a and "notes.txt" not in text_a
    assert "ccMixter clip) (no vocals" not in text_b


def test_a_singer_adds_their_voice(visitors, shots, tmp_path):
    """Visitor A (who separated the whole bundled song) uploads a recorded take and gets a mix."""
    page_a, _ = visitors
    voice = ".kit-section-voice"
    page_a.locator(voice).scroll_into_view_if_needed()
    page_a.wait_for_selector(f"{voice} button:has-text('Mix my voice')", timeout=WORK_TIMEOUT_MS)
    # the take: the song's own vocals (unet), 80 ms late, 6 dB down, recorded at 48 kHz as phones do
    song, sr = kit.examples.load_song()
    vocals = kit.separate(song, sr, model="unet")["vocals"]
    delay = int(0.080 * sr)
    take = np.zeros_like(vocals)
    take[:, delay:] = 0.5 * vocals[:, :-delay]
    take_path = tmp_path / "My take.wav"
    kit.save(take_path, resample(take, sr, sr=48000), 48000)
    with page_a.expect_file_chooser(timeout=WORK_TIMEOUT_MS) as chooser:
        page_a.click(f"{voice} .widget-upload")
    chooser.value.set_files(str(take_path))
    page_a.wait_for_function("s => document.querySelector(s).innerText.includes('Take ready: My take.wav')",
                             arg=voice, timeout=WORK_TIMEOUT_MS)
    page_a.click(f"{voice} button:has-text('Mix my voice')")
    page_a.wait_for_selector(f"{voice} .kit-download button", timeout=WORK_TIMEOUT_MS)
    report = page_a.inner_text(voice)
    assert "48000 Hz; converted to 44100 Hz" in report  # the phone's rate, said in words
    # plain sentences first, against the vocal the app separated; the numbers folded away
    summary = page_a.inner_text(f"{voice} .kit-voice-summary")
    assert summary.startswith("Your voice came in 80 ms late against the song's vocal (as kit separated it)")
    assert "LUFS" not in summary and "dBTP" not in summary
    assert "LUFS" not in report  # the accordion is closed
    assert "Traceback" not in report
    # the "Mixing" bar is gone once the mix is done
    assert page_a.locator(f"{voice} .kit-voice-progress").evaluate("e => getComputedStyle(e).visibility") == "hidden"
    _shoot(page_a, shots / "a_1280_voice.png", voice)
    page_a.click(f"{voice} .kit-voice-numbers .lm-AccordionPanel-title, {voice} .kit-voice-numbers .p-Collapse-header,"
                 f" {voice} .kit-voice-numbers .jupyter-widget-Collapse-header")
    page_a.wait_for_function("s => document.querySelector(s).innerText.includes('LUFS')",
                             arg=f"{voice} .kit-voice-numbers", timeout=WORK_TIMEOUT_MS)
    _shoot(page_a, shots / "a_1280_voice_numbers.png", f"{voice} .kit-voice-numbers")
    with page_a.expect_download(timeout=WORK_TIMEOUT_MS) as info:
        page_a.click(f"{voice} .kit-download button")
    download = info.value
    assert download.suggested_filename == "Bundled song (ccMixter clip) (my mix).mp3"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    mix, mix_sr = kit.load(saved)
    assert mix_sr == sr and abs(mix.shape[1] - song.shape[1]) / sr < 0.05
    assert np.max(np.abs(mix)) < 1.0  # -1 dBTP output: no clipping
    # WAV chosen: the voice mix downloads as WAV
    page_a.click(".kit-section-download .widget-toggle-buttons button:has-text('WAV')")
    with page_a.expect_download(timeout=WORK_TIMEOUT_MS) as info:
        page_a.click(f"{voice} .kit-download button")
    assert info.value.suggested_filename == "Bundled song (ccMixter clip) (my mix).wav"
    wav = tmp_path / "mix.wav"
    info.value.save_as(wav)
    assert wav.read_bytes()[:4] == b"RIFF"


def test_a_file_over_the_limit_is_refused_in_the_browser_before_sending(visitors, shots, tmp_path):
    huge = tmp_path / "Concert take.wav"  # 300 MB to the file chooser, sparse on disk; over the websocket limit
    with open(huge, "wb") as f:
        f.truncate(300 * 10**6)
    short = _make_song(tmp_path / "Short song.mp3", 12.0)
    for page, shot in zip(visitors, ("a_1280_too_big.png", "b_390_too_big.png"), strict=True):
        if not page.locator(".kit-upload").is_visible():
            page.click(".kit-source button:has-text('Upload a file')")
        before = _sent(page)
        _upload(page, huge)
        message = page.wait_for_selector(".kit-upload .kit-upload-message[data-kind='problem']",
                                         timeout=WORK_TIMEOUT_MS)
        # the kernel's own sentence, in the browser
        assert message.inner_text().strip() == "Problem: " + too_big_message("Concert take.wav", "300")
        _shoot(page, shots / shot, ".kit-upload")
        assert _sent(page) - before < 10_000, "the refused file went to the kernel"

        # the connection lives: a short song goes through, replaces the message, and is separated
        before = _sent(page)
        _upload(page, short)
        page.wait_for_function("() => document.querySelector('.kit-song-name').innerText.includes('Short song')",
                               timeout=WORK_TIMEOUT_MS)
        assert _sent(page) - before > short.stat().st_size  # the counter sees uploads
        assert not page.locator(".kit-upload .kit-upload-message").is_visible()
        _choose_model(page, "center")
        page.click("button.kit-whole")  # 12 s: shorter than a preview, so separated whole
        _wait_status(page, "Separated the whole song")


# --- the page and the server behind it: kernels end with their pages, a stopped app says so ---


@pytest.fixture
def own_app(tmp_path):
    """A `kit app` for one test (which may stop it); abandoned sessions end after 30 idle seconds."""
    port = _free_port()
    env = {**os.environ, "KIT_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    log_path = tmp_path / "app.log"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "app", "--port", str(port), "--idle-minutes", "0.5"],
                            cwd=tmp_path, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    wait_until(lambda: proc.poll() is not None or "running at" in log_path.read_text(), 120, "kit app to start")
    assert proc.poll() is None, log_path.read_text()
    yield url, proc, log_path
    if proc.poll() is None:
        proc.send_signal(2)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _kernel_of(page) -> str:
    return page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def _kernel_exists(url: str, kernel_id: str) -> bool:
    import urllib.error

    try:
        with urllib.request.urlopen(f"{url}api/kernels/{kernel_id}", timeout=30):  # noqa: S310 (local server)
            return True
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise


def _open_app(context, url: str):
    page = context.new_page()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
    return page


def test_a_reloaded_or_closed_tab_ends_its_kernel_and_a_reload_says_the_app_was_reset(browser, own_app, shots):
    url, _, log_path = own_app
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = _open_app(context, url)
        first = _kernel_of(page)
        assert _kernel_exists(url, first)
        assert not page.locator(".kit-page-notice").is_visible()  # a first visit has nothing to be told

        page.reload(wait_until="commit")
        page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
        notice = page.wait_for_selector(".kit-page-notice[data-kind='reset']", timeout=WORK_TIMEOUT_MS)
        assert "started afresh" in notice.inner_text() and "Choose your song again" in notice.inner_text()
        page.screenshot(path=str(shots / "reload_notice.png"))
        second = _kernel_of(page)
        assert second != first
        # the old page's goodbye ended its kernel (Voila refused it: 403 '_xsrf' argument missing)
        reload_s = wait_until(lambda: not _kernel_exists(url, first), 20, "the reloaded page's old kernel to end")

        page.close(run_before_unload=True)  # what closing the tab does
        close_s = wait_until(lambda: not _kernel_exists(url, second), 20, "the closed tab's kernel to end")
        print(f"kernel gone {reload_s:.1f} s after a reload, {close_s:.1f} s after the tab closed")
        # ended by the pages' goodbyes, not by the idle culler
        assert "ended the session of a page that left" not in log_path.read_text()

        # a page whose kernel ended while it was out of sight (a phone asleep; its session culled) says so
        # when seen again
        page = _open_app(context, url)
        xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_xsrf")
        assert context.request.post(f"{url}voila/api/shutdown/{_kernel_of(page)}",
                                    multipart={"_xsrf": xsrf}).status == 204
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")  # the phone wakes up
        notice = page.wait_for_selector(".kit-page-notice[data-kind='ended']", timeout=60_000)
        assert "session has ended" in notice.inner_text() and "Reload the page" in notice.inner_text()
    finally:
        context.close()


def test_a_page_says_when_the_app_has_stopped_and_how_to_start_it(browser, own_app, shots):
    url, proc, _ = own_app
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = _open_app(context, url)
        page.wait_for_function("() => performance.getEntriesByType('resource')"
                               ".some(r => r.name.includes('/api/kernels/'))", timeout=WORK_TIMEOUT_MS)
        start = time.monotonic()
        proc.send_signal(2)  # Ctrl-C in the app's terminal
        proc.wait(timeout=60)
        notice = page.wait_for_selector(".kit-page-notice[data-kind='stopped']", timeout=60_000)
        print(f"the page said the app had stopped {time.monotonic() - start:.1f} s after Ctrl-C")
        text = notice.inner_text()
        assert "has stopped" in text and "kit app" in text and "bash scripts/karaoke.sh" in text
        page.screenshot(path=str(shots / "b_390_app_stopped.png"))
        # the dead buttons are greyed out and take no clicks
        assert page.evaluate("() => getComputedStyle(document.getElementById('rendered_cells')).pointerEvents") \
            == "none"
    finally:
        context.close()
