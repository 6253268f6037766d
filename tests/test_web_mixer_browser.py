"""The karaoke maker's mixer on a 4-minute song, in a real browser: it mixes in the page.

`kit app` (Voila) driven by Debian's Chromium through Playwright on a phone-sized
screen (390x844), as in ``test_app_browser.py`` (same fixtures, same skips). A
generated 4-minute song is uploaded and separated with the fast ``center`` method
(two stems), part by part. Then:

* what reached the page for the whole song (every websocket frame the page
  received from pressing Separate on) is at most 12 MB;
* a gain change reaches the Web Audio gain node within 100 ms, read from the page
  (``el.kitMixer``); nothing goes to the kernel in that time, and the one small
  message that later tells the kernel the settings brings no audio back;
* the playhead keeps its place, space plays and pauses, the sliders move with the
  arrow keys, and the mixer fits the phone's width;
* the download is named after the settings the page had.
"""

from __future__ import annotations

import time

import pytest
from test_app_browser import (  # noqa: F401 (fixtures)
    LOAD_TIMEOUT_MS,
    WORK_TIMEOUT_MS,
    _choose_model,
    _make_song,
    _upload,
    app_url,
    browser,
    shots,
)

MAX_PAGE_MB = 12.0

_MEASURE_GAIN = """async ([db]) => {
    const el = document.querySelector('.kit-web-mixer');
    const mixer = el.kitMixer;
    const row = [...el.querySelectorAll('.kit-wm-row')].find(r => r.innerText.includes('accompaniment'));
    const slider = row.querySelector('.kit-wm-gain');
    const target = Math.pow(10, db / 20);
    const t0 = performance.now();
    slider.value = String(db);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    while (Math.abs(mixer.nodes.accompaniment.gain.value - target) > 1e-3 && performance.now() - t0 < 2000) {
        await new Promise(r => setTimeout(r, 1));
    }
    return { ms: performance.now() - t0, value: mixer.nodes.accompaniment.gain.value, target };
}"""


def _mixer(page, expr: str):
    return page.evaluate(f"() => document.querySelector('.kit-web-mixer').kitMixer.{expr}")


@pytest.fixture(scope="module")
def phone(browser, app_url):  # noqa: F811 (fixtures)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, accept_downloads=True)
    page = context.new_page()
    page.frames_sent, page.frames_received = [], []
    page.on("websocket", lambda ws: (
        ws.on("framesent", lambda data: page.frames_sent.append((time.monotonic(), len(data)))),
        ws.on("framereceived", lambda data: page.frames_received.append((time.monotonic(), len(data))))))
    page.goto(app_url, wait_until="commit")
    page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
    yield page
    context.close()


def test_a_four_minute_song_is_mixed_in_the_page(phone, shots, tmp_path):  # noqa: F811 (fixtures)
    page = phone
    song = _make_song(tmp_path / "Four minutes.mp3", 240.0)
    page.click(".kit-source button:has-text('Upload a file')")
    _upload(page, song)
    page.wait_for_function("() => document.querySelector('.kit-song-name').innerText.includes('Four minutes')",
                           timeout=WORK_TIMEOUT_MS)
    _choose_model(page, "center")
    page.evaluate("() => 0")  # let Playwright hand over the frames seen so far
    received_before = sum(n for _, n in page.frames_received)

    page.click("button.kit-whole")
    page.wait_for_function("() => { const m = document.querySelector('.kit-web-mixer');"
                           " return m && m.kitMixer && m.kitMixer.readyEnd() > 10; }", timeout=WORK_TIMEOUT_MS)
    # playing where the song is not separated yet: the page waits, says so, and plays once it is there
    at = page.evaluate("() => { const m = document.querySelector('.kit-web-mixer').kitMixer;"
                       " const ready = m.readyEnd(); m.seekTo(235); m.toggle(); return ready; }")
    assert at < 235, "the whole song was in the page before the first part could be played"
    page.wait_for_function("() => document.querySelector('.kit-web-mixer').kitMixer.isWaiting()",
                           timeout=WORK_TIMEOUT_MS)
    assert "Waiting for the next part" in page.inner_text(".kit-wm-ready")
    assert not _mixer(page, "isPlaying()")
    page.wait_for_function("() => document.querySelector('.kit-web-mixer').kitMixer.position() > 235.2",
                           timeout=WORK_TIMEOUT_MS)
    assert _mixer(page, "isPlaying()") and not _mixer(page, "isWaiting()")
    page.evaluate("() => { const m = document.querySelector('.kit-web-mixer').kitMixer; m.toggle(); m.seekTo(0); }")
    page.wait_for_function("() => document.querySelector('.kit-status').innerText.includes('Separated the whole')",
                           timeout=WORK_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('.kit-web-mixer').kitMixer.readyEnd() > 239.9",
                           timeout=WORK_TIMEOUT_MS)
    assert _mixer(page, "chunkCount()") > 1  # it came part by part
    received_mb = (sum(n for _, n in page.frames_received) - received_before) / 1e6
    print(f"sent to the page for the 4-minute song: {received_mb:.1f} MB")
    assert received_mb <= MAX_PAGE_MB, received_mb

    # play; the singer is out (a karaoke maker starts without the vocals)
    page.locator(".kit-web-mixer").scroll_into_view_if_needed()
    page.click(".kit-wm-play")
    page.wait_for_function("() => document.querySelector('.kit-web-mixer').kitMixer.position() > 0.3",
                           timeout=WORK_TIMEOUT_MS)
    assert _mixer(page, "gains()") == {"vocals": 0, "accompaniment": 1, "__rest__": 1}

    # a gain change: the node has it within 100 ms, and nothing was sent to the kernel meanwhile
    before = _mixer(page, "position()")
    sent_before = len(page.frames_sent)
    result = page.evaluate(_MEASURE_GAIN, [-6.0])
    print(f"gain change reached the Web Audio gain node in {result['ms']:.1f} ms")
    assert result["ms"] < 100, result
    assert len(page.frames_sent) == sent_before, "the gain change went to the kernel at once"
    changed_at = time.monotonic()
    # the limiter's curve (and the "Playing" line) are for the mix before the change until the kernel
    # measures it again: the page says so
    assert _mixer(page, "mixStale()")
    assert "Measuring the new mix (a moment): until then the limiter" in page.inner_text(".kit-wm-limiter")
    assert _mixer(page, "position()") > before  # the playhead kept going: no reload, no restart
    assert _mixer(page, "isPlaying()")
    # a moment later one small message tells the kernel (for the download); no audio comes back
    page.wait_for_function("() => document.querySelector('.kit-section-mix').innerText.includes('accompaniment -6 dB')",
                           timeout=WORK_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('.kit-web-mixer').kitMixer.mixStale()",
                           timeout=WORK_TIMEOUT_MS)
    assert page.inner_text(".kit-wm-limiter").strip() == ""
    page.wait_for_timeout(1000)
    later = [n for t, n in page.frames_sent if t > changed_at]
    assert 1 <= len(later) <= 3 and max(later) < 2000, later
    back = sum(n for t, n in page.frames_received if t > changed_at)
    assert back < 100_000, back  # words and numbers, no re-rendered mix

    # the arrow keys move a slider, a switch acts at once
    page.focus(".kit-wm-row:has-text('accompaniment') .kit-wm-gain")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(100)
    assert abs(_mixer(page, "gains()")["accompaniment"] - 10 ** (-5.5 / 20)) < 1e-3
    page.click(".kit-wm-row:has-text('vocals') .kit-wm-on")
    page.wait_for_timeout(100)
    assert abs(_mixer(page, "gains()")["vocals"] - 1.0) < 1e-3

    # space pauses and plays again, from the same place
    page.locator("body").focus()
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press(" ")
    page.wait_for_timeout(200)
    assert not _mixer(page, "isPlaying()")
    paused_at = _mixer(page, "position()")
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    assert _mixer(page, "isPlaying()") and _mixer(page, "position()") >= paused_at

    # it fits the phone's width
    right = page.evaluate("() => document.querySelector('.kit-web-mixer').getBoundingClientRect().right")
    assert right <= 390, right
    page.screenshot(path=str(shots / "b_390_web_mixer.png"))

    # the download is made from what the page had
    page.wait_for_function("() => document.querySelector('.kit-section-mix').innerText"
                           ".includes('Playing: full mix, accompaniment -5.5 dB')",
                           timeout=WORK_TIMEOUT_MS)
    with page.expect_download(timeout=WORK_TIMEOUT_MS) as info:
        page.click(".kit-section-download .kit-download button")
    assert info.value.suggested_filename == "Four minutes (full mix, accompaniment -5.5 dB).mp3"


_ROWS = """() => [...document.querySelectorAll('.kit-web-mixer .kit-wm-row')].map(r => [
    r.querySelector('.kit-wm-name').innerText, r.querySelector('.kit-wm-on').innerText.trim(),
    r.querySelector('.kit-wm-on').getAttribute('aria-pressed'),
    r.querySelector('.kit-wm-on').classList.contains('mod-active') ? 'looks pressed' : 'looks raised'])"""


def _rows(page) -> list:
    return [tuple(r) for r in page.evaluate(_ROWS)]


def test_switches_say_what_is_heard_and_keep_backing_vocals_splits_the_rows(browser, app_url, shots, tmp_path):  # noqa: F811
    """A stem's switch reads "off" when it is off (it read "on" either way in a screenshot); the
    "keep the backing vocals" switch brings lead and backing rows with only the lead off."""
    import kit

    mix, _ = kit.examples.make_harmony_song(8.0, 44100, harmony="wide")
    song = tmp_path / "Harmonies.wav"
    kit.save(song, mix, 44100)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="commit")
        page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
        page.click(".kit-source button:has-text('Upload a file')")
        _upload(page, song)
        page.wait_for_function("() => document.querySelector('.kit-song-name').innerText.includes('Harmonies')",
                               timeout=WORK_TIMEOUT_MS)
        _choose_model(page, "unet")
        page.click("button.kit-whole")
        page.wait_for_function("() => document.querySelector('.kit-status').innerText.includes('Separated the whole')",
                               timeout=WORK_TIMEOUT_MS)
        page.wait_for_function("() => document.querySelectorAll('.kit-web-mixer .kit-wm-row').length == 2",
                               timeout=WORK_TIMEOUT_MS)
        assert _rows(page) == [("vocals", "off", "false", "looks raised"),
                               ("accompaniment", "on", "true", "looks pressed")]
        vocals = ".kit-wm-row:has-text('vocals') .kit-wm-on"
        page.click(vocals)
        page.wait_for_timeout(100)
        assert _rows(page)[0] == ("vocals", "on", "true", "looks pressed")
        assert abs(_mixer(page, "targets.vocals") - 1.0) < 1e-6
        page.click(vocals)
        page.wait_for_timeout(100)
        assert _rows(page)[0] == ("vocals", "off", "false", "looks raised")
        assert _mixer(page, "targets.vocals") == 0
        page.wait_for_function("() => document.querySelector('.kit-section-mix').innerText"
                               ".includes('Playing: no vocals')", timeout=WORK_TIMEOUT_MS)

        page.locator(".kit-keep-backing input").check()
        page.wait_for_function("() => document.querySelectorAll('.kit-web-mixer .kit-wm-row').length == 3",
                               timeout=WORK_TIMEOUT_MS)
        assert _rows(page) == [("lead_vocals", "off", "false", "looks raised"),
                               ("backing_vocals", "on", "true", "looks pressed"),
                               ("accompaniment", "on", "true", "looks pressed")]
        page.wait_for_function("() => document.querySelector('.kit-web-mixer').kitMixer.readyEnd() > 7.9",
                               timeout=WORK_TIMEOUT_MS)
        gains = _mixer(page, "targets")
        assert gains["lead_vocals"] == 0 and gains["backing_vocals"] == 1 and gains["accompaniment"] == 1
        page.wait_for_function("() => document.querySelector('.kit-section-mix').innerText"
                               ".includes('Playing: no lead_vocals')", timeout=WORK_TIMEOUT_MS)
        page.locator(".kit-section-mix").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "c_1280_keep_backing.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator(".kit-section-mix").scroll_into_view_if_needed()
        right = page.evaluate("() => document.querySelector('.kit-web-mixer').getBoundingClientRect().right")
        assert right <= 390, right
        page.screenshot(path=str(shots / "c_390_keep_backing.png"))
        with page.expect_download(timeout=WORK_TIMEOUT_MS) as info:
            page.click(".kit-section-download .kit-download button")
        assert info.value.suggested_filename == "Harmonies (no lead_vocals).mp3"
    finally:
        context.close()
