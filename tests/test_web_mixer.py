"""The mixer that plays in the browser (kit.ui.web_mixer), checked in the kernel.

What the page plays is rebuilt here from what the kernel sent it: the MP3 parts,
decoded, scaled by the gains the page applies, times the limiter's gain curve
drawn as Web Audio draws it. That must sound like the WAV stems (codec quality)
and equal the download (kit's own render). The page itself is driven in
``tests/test_web_mixer_browser.py``.
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kit  # noqa: E402
from kit import ui  # noqa: E402
from kit.errors import OptionError  # noqa: E402
from kit.loudness import measure_loudness  # noqa: E402
from kit.ui.web_mixer import (  # noqa: E402
    REST_NAME,
    decode_stem,
    encode_stem,
    measure_limiter_gain,
)

SR = 44100


def _third_octave_db(y: np.ndarray) -> np.ndarray:
    """Long-term level per third-octave band from 50 Hz to 12.7 kHz, dB, per channel.

    LAME at 128 kbit/s cuts above about 17 kHz (the 16 kHz band loses 3 dB on noise): a
    stated limit of the bitrate, which the bands stop short of."""
    spec = np.abs(np.fft.rfft(y, axis=1)) ** 2
    freqs = np.fft.rfftfreq(y.shape[1], 1 / SR)
    centres = 1000 * 2.0 ** (np.arange(-13, 12) / 3)
    bands = [(freqs >= c * 2 ** (-1 / 6)) & (freqs < c * 2 ** (1 / 6)) for c in centres]
    return 10 * np.log10(np.array([[s[b].sum() for b in bands] for s in spec]) + 1e-12)


def _page_mix(mixer) -> np.ndarray:
    """What the page plays: decoded parts, the page's gains, and the limiter curve (linear between points)."""
    web = mixer.web
    n = round(web.duration_s * SR)
    names = list(web.stems) + [REST_NAME]
    tracks = {name: np.zeros((2, n), np.float32) for name in names}
    for part in web.parts:
        a = round(part.start_s * SR)
        for name, data in zip(part.names, part.audio, strict=True):
            y = decode_stem(data, SR)
            tracks[name][:, a:a + y.shape[1]] = y
    soloing = any(web.solo.values())
    kept = [s for s in web.stems if (web.solo[s] if soloing else web.on[s])]
    out = np.zeros((2, n), np.float64)
    for name in kept:
        out += tracks[name] * 10 ** (web.gains_db[name] / 20)
    if kept:
        out += tracks[REST_NAME]
    if web.envelope:
        curve = np.frombuffer(web.envelope, dtype="<f4")
        out *= np.interp(np.arange(n) / SR, np.arange(curve.size) / web.envelope_rate_hz, curve)
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def song():
    """20 s of a song with true stems (loud enough that +6 dB on the drums clips), and a residue."""
    mix, stems = kit.examples.make_multitrack(20.0, SR)
    two = {"vocals": stems["vocals"], "accompaniment": stems["drums"] + stems["bass"] + stems["other"]}
    residue = 0.05 * np.sin(2 * np.pi * 220 * np.arange(mix.shape[1]) / SR).astype(np.float32)
    return mix + residue, two


def test_stems_sent_as_mp3_sound_like_the_wav():
    """Each stem crosses as MP3 (V5, ~130 kbit/s): same length, timing and level, spectrum within 1 dB a band."""
    _, stems = kit.examples.make_multitrack(10.0, SR)
    y, sr = kit.examples.load_song()
    for name, stem in [*stems.items(), ("real song", y)]:
        data = encode_stem(stem, SR)
        assert len(data) * 8 / (stem.shape[1] / SR) / 1000 < 170, name  # kbit/s: 4 minutes under 5.1 MB
        back = decode_stem(data, SR)
        assert back.shape == stem.shape, name  # the gapless header: no delay, no padding
        snr = 10 * np.log10(np.sum(stem ** 2) / np.sum((back - stem) ** 2))
        # waveform SNR of a perceptual codec; the noise-like drums are coded to their spectrum, not their wave
        assert snr > (10 if name == "drums" else 18), (name, snr)
        ref, got = _third_octave_db(stem), _third_octave_db(back)
        audible = ref > ref.max() - 30
        assert np.max(np.abs(ref - got)[audible]) < 1.0, (name, np.max(np.abs(ref - got)[audible]))
    late = np.roll(y, 441, axis=1)  # a 10 ms shift is seen: the test can fail on timing
    assert 10 * np.log10(np.sum(y ** 2) / np.sum((decode_stem(encode_stem(late, SR), SR) - y) ** 2)) < 3


def test_browser_mixer_sends_each_stem_once_and_the_settings_come_back(song):
    mix, stems = song
    mixer = ui.stem_mixer(stems, SR, mixture=mix, player="browser", show_plots=False, limit=False)
    web = mixer.web
    assert web.stems == ["vocals", "accompaniment"] and web.duration_s == pytest.approx(20.0)
    (part,) = web.parts
    # the residue (mixture minus stems: here the 220 Hz tone) goes along at a lower rate
    assert part.names == ["vocals", "accompaniment", REST_NAME]
    assert web.bytes_sent < 3 * 170 * 1000 / 8 * 20.0  # three tracks of 20 s, under 170 kbit/s each
    # the page changes a gain and a switch: nothing is re-encoded, the kernel's settings follow
    web.gains_db = {**web.gains_db, "accompaniment": -3.0}
    web.on = {**web.on, "vocals": False}
    assert web.parts == [part]
    assert mixer.describe() == "no vocals, accompaniment -3 dB"
    assert "no vocals" in mixer._status.value
    expected = 10 ** (-3 / 20) * stems["accompaniment"] + (mix - stems["vocals"] - stems["accompaniment"])
    assert np.allclose(mixer.render(), expected, atol=1e-5)
    # and the kernel's set_stem reaches the page's settings
    mixer.set_stem("vocals", solo=True)
    assert web.solo["vocals"] and mixer.settings["dropped"] == ["accompaniment"]
    with pytest.raises(OptionError, match="not a player"):
        ui.stem_mixer(stems, SR, player="speakers")


def test_the_download_is_what_the_page_plays_gains_and_limiter(song):
    """Loudness within 0.5 dB and the same peak limiting, the limiter's gain measured by the kernel."""
    mix, stems = song
    mixer = ui.stem_mixer(stems, SR, mixture=mix, player="browser", show_plots=False, key_shift=False,
                          limit=False)
    web = mixer.web
    web.gains_db = {"vocals": -2.0, "accompaniment": 9.0}  # as the page sends them: well over full scale
    assert web.envelope == b""
    loud = _page_mix(mixer)
    assert np.max(np.abs(loud)) > 10 ** (4 / 20)  # +4 dBFS before the limiter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixer._limit.value = True
    assert web.envelope, "the kernel sent no limiter gain"
    download = mixer.render()
    heard = _page_mix(mixer)
    download_peak_db = 20 * np.log10(np.max(np.abs(download)))
    assert -2.0 < download_peak_db < 0.0  # kit's limiter: peaks held near its -1 dBTP ceiling
    peak_db = 20 * np.log10(np.max(np.abs(heard)))
    assert abs(peak_db - download_peak_db) < 0.5, (peak_db, download_peak_db)  # the page holds them alike
    assert abs(measure_loudness(heard, SR) - measure_loudness(download, SR)) < 0.5
    # the settings the page had are the download's: without the +9 dB it would be far quieter
    plain = kit.make_backing_track(stems, keep=["vocals", "accompaniment"], method="minus", mixture=mix)
    assert measure_loudness(download, SR) - measure_loudness(plain, SR) > 3.0
    mixer._limit.value = False
    assert web.envelope == b""


def test_the_page_is_told_which_settings_the_limiter_curve_was_measured_for(song):
    """The page says the curve is stale while its settings differ from ``measured`` (web_mixer.js)."""
    mix, stems = song
    mixer = ui.stem_mixer(stems, SR, mixture=mix, player="browser", show_plots=False, key_shift=False)
    web = mixer.web
    assert web.measured == {"on": web.on, "solo": web.solo, "gains_db": web.gains_db, "limit": True}
    web.gains_db = {"vocals": -2.0, "accompaniment": 9.0}  # the page's change reaches the kernel...
    assert web.measured["gains_db"] == {"vocals": -2.0, "accompaniment": 9.0}  # ...which measures it
    assert web.envelope  # the curve that came with it
    mixer.set_stem("vocals", on=False)
    assert web.measured["on"] == {"vocals": False, "accompaniment": True}
    mixer.set_limiter(False)
    assert web.measured["limit"] is False and web.envelope == b""


def test_limiter_gain_follows_the_limiter():
    y = np.full((1, SR), 0.5, np.float32)  # under the -1 dB ceiling...
    y[:, SR // 2:] = 4.0  # ...then far over it
    limited = kit.mix.apply_limiter(y, SR)
    gain, rate = measure_limiter_gain(y, limited, SR)
    assert SR / rate == 220 and gain.size == 201
    t = np.arange(gain.size) / rate
    assert np.allclose(gain[t < 0.49], 1.0, atol=0.02)
    assert np.allclose(gain[(t > 0.51) & (t < 0.99)], 10 ** (-1 / 20) / 4.0, rtol=0.05)


def test_a_part_then_the_rest(song):
    """A song separated part by part: the first part plays, extend() sends only the new samples."""
    mix, stems = song
    n = 5 * SR
    first = {k: v[:, :n] for k, v in stems.items()}
    mixer = ui.stem_mixer(first, SR, mixture=mix[:, :n], player="browser", duration_s=20.0, limit=False)
    assert mixer.web.ready_s == pytest.approx(5.0) and mixer.web.duration_s == pytest.approx(20.0)
    sent = mixer.web.bytes_sent
    mixer.extend({k: v[:, n:] for k, v in stems.items()}, mixture=mix[:, n:])
    assert [p.start_s for p in mixer.web.parts] == [0.0, 5.0] and mixer.web.ready_s == pytest.approx(20.0)
    assert mixer.web.bytes_sent - sent < 1.1 * sent * 15 / 5  # the first part is not sent again
    assert np.allclose(mixer.render(), kit.make_backing_track(stems, keep=list(stems), method="minus",
                                                              mixture=mix), atol=1e-6)
    heard = _page_mix(mixer)  # the two parts join without a gap or a click
    assert 10 * np.log10(np.sum(mix ** 2) / np.sum((heard - mix) ** 2)) > 15
    edge = heard[:, n - 2000:n + 2000] - mix[:, n - 2000:n + 2000]
    assert np.max(np.abs(edge)) < 0.1
    with pytest.raises(OptionError, match="needs the stems"):
        mixer.extend({"vocals": stems["vocals"]}, mixture=mix)


def test_a_key_change_sends_new_stems_that_replace_the_old(song):
    mix, stems = song
    short = {k: v[:, : 3 * SR] for k, v in stems.items()}
    mixer = ui.stem_mixer(short, SR, mixture=mix[:, : 3 * SR], player="browser", show_plots=False)
    (old,) = mixer.web.parts
    mixer._semitones.value = -2.0
    assert mixer.web.generation == 1
    (new,) = mixer.web.parts
    assert new is not old and new.generation == 1 and old.comm is None  # the old part is closed
    shifted = decode_stem(new.audio[1], SR)
    expected = kit.pitch.shift_pitch(short["accompaniment"], SR, semitones=-2.0)
    assert 10 * np.log10(np.sum(expected ** 2) / np.sum((shifted - expected) ** 2)) > 15


@pytest.mark.parametrize("n", [44100, 44370, 8 * 44100, 1000])
def test_limiter_gain_for_any_length(n):
    """Songs whose length leaves less than half a block at the end (a crash on short limited songs)."""
    from kit.ui.web_mixer import measure_limiter_gain

    y = np.ones((2, n), np.float32)
    gain, rate = measure_limiter_gain(y, 0.5 * y, 44100)
    assert gain.shape == (n // round(44100 / rate) + 1,) and np.allclose(gain, 0.5)


@pytest.mark.parametrize("player", ["kernel", "browser"])
def test_stems_dropped_at_first_are_off_and_say_so(song, player):
    mix, stems = song
    mixer = ui.stem_mixer(stems, SR, mixture=mix, player=player, show_plots=False, limit=False, drop=["vocals"])
    assert mixer.describe() == "no vocals" and mixer.controls("vocals")["on"] is False
    expected = mix - stems["vocals"]
    assert np.allclose(mixer.render(), expected, atol=1e-5)
    if player == "kernel":  # the switch's words: "off" (the page's own buttons: test_web_mixer_browser)
        assert mixer._on["vocals"].description == "off" and mixer._on["accompaniment"].description == "on"
    with pytest.raises(OptionError, match="names no stem"):
        ui.stem_mixer(stems, SR, drop=["vocal"])
