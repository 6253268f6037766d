"""Singing in the karaoke maker in a real browser: Chromium's fake microphone plays a known take.

Chromium plays a WAV file as the microphone (``--use-fake-device-for-media-stream
--use-file-for-fake-audio-capture=FILE``). The song is synthetic (a backing track and
a formant-synthesised vocal singing a known melody), uploaded and separated with the
fast ``center`` method; the "microphone" sings that melody with one note flat, one
sharp and one missed, starting late. The test checks the score, the flagged notes,
the lag (against where the fake microphone's file really started in the recorded
take) and the downloads. A second browser, on a phone-sized page, refuses the
microphone (no permission), then records a silent file: one sentence each.

Each browser starts its own Voila kernel (it imports torch): slow on a busy 2-core
machine. Without Chromium or Playwright the tests skip (fail with KIT_REQUIRE_BROWSER=1).
Screenshots go to ``$KIT_SCREENSHOT_DIR`` or a temporary folder.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf
import test_app_browser as app_browser
from test_app_browser import (
    LOAD_TIMEOUT_MS,
    WORK_TIMEOUT_MS,
    _choose_model,
    _chromium,
    _missing,
    _shoot,
    _upload,
    _wait_status,
)

import kit
from kit.audio import resample
from kit.singing import estimate_delay

SR = 44100
MIC_SR = 48000
SONG_S = 9.0
NOTES = kit.examples.multitrack_melody(SONG_S - 0.6)
FLAT, SHARP, MISSED = 2, 11, 5
FILE_DELAY_S = 0.9  # silence at the start of the microphone's file (it starts playing when the mic opens)
SECTION = ".kit-section-sing"

app_url = app_browser.app_url  # `kit app` on a free port (a fixture: this module gets its own server)
shots = app_browser.shots


def _song(folder) -> tuple:
    """A synthetic song file and its true vocal: the voice in the middle, the band panned hard left and right,
    so that the fast ``center`` method separates the voice well enough to find its melody."""
    _, stems = kit.examples.make_multitrack(SONG_S, sr=SR)
    vocal, _ = kit.examples.make_sung_melody(NOTES, SR, duration_s=SONG_S)
    band = np.stack([(stems["drums"] + stems["bass"]).mean(axis=0), stems["other"].mean(axis=0)])
    song = band + np.repeat(vocal, 2, axis=0)
    path = folder / "Synth song.wav"
    sf.write(str(path), song.T, SR, subtype="PCM_16")
    return path, vocal


def _mic_file(folder, name: str, y: np.ndarray) -> str:
    path = folder / name
    sf.write(str(path), np.clip(y[0], -1, 1), MIC_SR, subtype="PCM_16")
    return str(path)


def _launch(playwright, mic_file: str, *, fake_ui: bool):
    args = ["--no-sandbox", "--disable-dev-shm-usage", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic_file}", "--autoplay-policy=no-user-gesture-required"]
    if fake_ui:
        args.append("--use-fake-ui-for-media-stream")  # says yes to the microphone prompt
    return playwright.chromium.launch(executable_path=_chromium(), args=args)


@pytest.fixture(scope="module")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as p:
        yield p


def _open_and_separate(page, url: str, song_path=None, *, model: str = "center"):
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".kit-song-name", timeout=LOAD_TIMEOUT_MS)
    if song_path is not None:
        page.click(".kit-source button:has-text('Upload a file')")
        _upload(page, song_path)
        page.wait_for_function("n => document.querySelector('.kit-song-name').innerText.includes(n)",
                               arg=song_path.stem, timeout=WORK_TIMEOUT_MS)
    _choose_model(page, model)
    page.click("button.kit-whole")
    _wait_status(page, "Separated the whole song")
    page.locator(SECTION).scroll_into_view_if_needed()
    page.wait_for_selector(f"{SECTION} button.kit-record-button:not([disabled])", timeout=WORK_TIMEOUT_MS)


def _sing_error(page) -> str:
    page.wait_for_selector(f"{SECTION} .kit-sing-error:has-text('Problem')", timeout=WORK_TIMEOUT_MS)
    return page.inner_text(f"{SECTION} .kit-sing-error")


def test_a_take_sung_into_the_fake_microphone_is_scored_lined_up_and_mixed(playwright, app_url, shots, tmp_path):
    song_path, vocal = _song(tmp_path)
    take = kit.examples.make_sung_take(NOTES, MIC_SR, cents_off={FLAT: -90, SHARP: 90}, missed=[MISSED],
                                       delay_s=FILE_DELAY_S)
    mic = _mic_file(tmp_path, "take.wav", np.pad(take, ((0, 0), (0, 4 * MIC_SR))))
    browser = _launch(playwright, mic, fake_ui=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    try:
        _open_and_separate(page, app_url, song_path)
        # WAV, from the app's format chooser (section 5): exact samples to compare
        page.click(".kit-section-download .widget-toggle-buttons button:has-text('WAV')")
        page.click(f"{SECTION} button.kit-record-button")
        page.wait_for_selector(f"{SECTION} button.kit-record-button:has-text('Stop')", timeout=WORK_TIMEOUT_MS)
        _shoot(page, shots / "sing_1280_recording.png", SECTION)
        # no Stop: the take ends with the song, and the score comes without another click
        page.wait_for_selector(f"{SECTION} .kit-sing-score", timeout=WORK_TIMEOUT_MS)
        text = page.inner_text(f"{SECTION} .kit-sing-result")
        assert "Traceback" not in text and page.locator(f"{SECTION} .kit-sing-error").inner_text() == ""
        score = int(re.search(r"Score: (\d+)/100", text).group(1))
        assert 50 <= score <= 92, text
        in_tune, total = map(int, re.search(r"(\d+) of (\d+) notes in tune", text).groups())
        assert abs(total - len(NOTES)) <= 2 and total - 5 <= in_tune <= total - 3, text  # the notes of the stem
        # the notes flagged: the flat, the sharp and the missed one, where they were sung (one more at most)
        listed = page.locator(f"{SECTION} .kit-sing-notes pre").text_content()
        flagged = [(60 * int(m) + float(s), verdict)
                   for m, s, verdict in re.findall(r"(\d+):(\d+\.\d)\s+\S+\s+(flat|sharp|missed)", listed)]
        for index, verdict in [(FLAT, "flat"), (SHARP, "sharp"), (MISSED, "missed")]:
            assert any(v == verdict and abs(t - NOTES[index][0]) < 0.25 for t, v in flagged), (verdict, flagged)
        assert len(flagged) <= 4, flagged
        lag_ms = int(re.search(r"came in (\d+) ms late", text).group(1))
        _shoot(page, shots / "sing_1280_result.png", f"{SECTION} .kit-sing-result")
        page.locator(f"{SECTION} .kit-sing-history").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "sing_1280_history.png"))

        # the take as recorded: where the microphone's file started in it gives the true lag
        with page.expect_download(timeout=WORK_TIMEOUT_MS) as info:
            page.click(f"{SECTION} .kit-sing-take button")
        assert info.value.suggested_filename == "Synth song (my take 1).wav"
        info.value.save_as(tmp_path / "got take.wav")
        got, got_sr = kit.load(tmp_path / "got take.wav")
        assert got_sr == SR and abs(got.shape[1] / SR - SONG_S) < 1.0  # stopped at the song's end
        sent = resample(take, MIC_SR, sr=SR)[0]
        corr = np.correlate(got[0, : 4 * SR], sent[: 6 * SR], mode="full")
        file_start_s = (int(np.argmax(corr)) - (6 * SR - 1)) / SR  # negative: the file began before the take
        true_lag_s = FILE_DELAY_S + file_start_s
        assert 0.0 < true_lag_s < FILE_DELAY_S
        assert abs(lag_ms / 1000 - true_lag_s) < 0.02, (lag_ms, true_lag_s)
        # and against the true vocal, the take lines up by the same lag (the app used the separated one)
        assert abs(estimate_delay(got, vocal, SR)[0] - true_lag_s) < 0.02

        with page.expect_download(timeout=WORK_TIMEOUT_MS) as info:
            page.click(f"{SECTION} .kit-sing-mix button")
        assert info.value.suggested_filename == "Synth song (my take 1, mixed).wav"
        info.value.save_as(tmp_path / "got mix.wav")
        mix, mix_sr = kit.load(tmp_path / "got mix.wav")
        assert mix_sr == SR and abs(mix.shape[1] / SR - SONG_S) < 0.05 and np.max(np.abs(mix)) < 0.95

        # the band down 12 dB and Record in the same moment: the page tells the kernel of a gain 400 ms
        # after the slider stops, Record at once; Record brings the page's mixer, so the singer hears the
        # band down. The fader goes back up during the take; the take is still mixed over the band it was
        # sung to (sent with it), not the kernel's mix at its end. Measured as the band's share of each
        # take's mix (the true band is the song minus its vocal), take 2 against take 1: a quarter
        # (-12 dB), or a little more where the first mix was turned down to its ceiling.
        fader = ".kit-mixer .kit-wm-gain[aria-label^='accompaniment']"
        page.evaluate("""fader => {
            const s = document.querySelector(fader);
            s.value = "-12"; s.dispatchEvent(new Event("input", { bubbles: true }));
            document.querySelector(".kit-section-sing button.kit-record-button").click(); }""", fader)
        page.wait_for_selector(f"{SECTION} button.kit-record-button:has-text('Stop')", timeout=WORK_TIMEOUT_MS)
        page.evaluate("""fader => { const s = document.querySelector(fader);
            s.value = "0"; s.dispatchEvent(new Event("input", { bubbles: true })); }""", fader)
        page.wait_for_function(f"() => document.querySelector('{SECTION} .kit-sing-history').innerText"
                               ".includes('Take 2')", timeout=WORK_TIMEOUT_MS)
        with page.expect_download(timeout=WORK_TIMEOUT_MS) as info:
            page.click(f"{SECTION} .kit-sing-mix button")
        assert info.value.suggested_filename == "Synth song (my take 2, mixed).wav"
        info.value.save_as(tmp_path / "got mix 2.wav")
        mix2, _ = kit.load(tmp_path / "got mix 2.wav")
        song, _ = kit.load(song_path)
        band = song - np.repeat(vocal, 2, axis=0)
        n = min(mix.shape[1], mix2.shape[1], band.shape[1])
        share = [float(np.sum(m[:, :n] * band[:, :n]) / np.sum(band[:, :n] ** 2)) for m in (mix, mix2)]
        assert 0.2 < share[1] / share[0] < 0.4, share

        # the same page on a phone
        page.set_viewport_size({"width": 390, "height": 844})
        _shoot(page, shots / "sing_390_result.png", f"{SECTION} .kit-sing-result")
        width = page.evaluate(f"() => document.querySelector('{SECTION}').scrollWidth")
        assert width <= 390, width
    finally:
        context.close()
        browser.close()


def test_a_refused_microphone_and_a_silent_take_get_one_sentence_each(playwright, app_url, shots, tmp_path):
    mic = _mic_file(tmp_path, "silence.wav", np.zeros((1, 15 * MIC_SR), np.float32))
    browser = _launch(playwright, mic, fake_ui=False)  # no fake prompt: the page has no permission
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, accept_downloads=True)
    page = context.new_page()
    try:
        _open_and_separate(page, app_url)  # the bundled song
        _shoot(page, shots / "sing_390_ready.png", SECTION)
        page.click(f"{SECTION} button.kit-record-button")
        error = _sing_error(page)
        assert "not allowed to use the microphone" in error and "Traceback" not in error
        _shoot(page, shots / "sing_390_refused.png", SECTION)
        assert page.locator(f"{SECTION} .kit-sing-score").count() == 0

        context.grant_permissions(["microphone"])
        page.click(f"{SECTION} button.kit-record-button")
        page.wait_for_selector(f"{SECTION} button.kit-record-button:has-text('Stop')", timeout=WORK_TIMEOUT_MS)
        page.wait_for_timeout(4000)
        page.click(f"{SECTION} button.kit-record-button")  # Stop
        page.wait_for_selector(f"{SECTION} .kit-sing-error:has-text('silent')", timeout=WORK_TIMEOUT_MS)
        error = page.inner_text(f"{SECTION} .kit-sing-error")
        assert "Your take is silent" in error and "not allowed" not in error
        assert page.locator(f"{SECTION} .kit-sing-score").count() == 0  # nothing half-done
        _shoot(page, shots / "sing_390_silent.png", SECTION)
    finally:
        context.close()
        browser.close()
