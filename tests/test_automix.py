"""kit.automix: each mixing rule checked where the answer is known.

Signals: the synthetic multitrack's true stems (kit.examples.make_multitrack) and
test signals built here with known delays, loudness ranges and band levels.
Loudness is cross-checked with pyloudnorm and true peak with a 4x oversampled
peak computed here, not only with the numbers the report gives. The shortcuts that
make a whole song quick (lags searched block by block, a centred voice processed
once for both channels, loudness ranges computed without FFmpeg far from the limit,
no second FFmpeg run after the output gain) are checked against the slow way.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pedalboard
import pyloudnorm
import pytest
from scipy import signal

import kit
from kit.automix import (
    MAX_LRA_LU,
    add_reverb,
    align_vocal,
    apply_noise_gate,
    balance_levels,
    compress_vocal,
    finish_mix,
    format_report,
    unmask_vocal,
)
from kit.eq import BAND_CENTRES_HZ, compute_band_levels, k_weight
from kit.errors import AudioContentError, KitError
from kit.loudness import measure_ebur128, measure_lra
from kit.reverb import DAMPING, compute_reverb_time, measure_rt60

SR = 44100


def lufs(y, sr=SR):
    return pyloudnorm.Meter(sr).integrated_loudness(np.asarray(y, np.float64).T)


def oversampled_peak_db(y):
    up = signal.resample_poly(np.asarray(y, np.float64), 4, 1, axis=-1)
    return 20 * math.log10(np.max(np.abs(up)))


@pytest.fixture(scope="module")
def song():
    """6 s synthetic song at 120 BPM: a true vocal stem and the backing it sits in."""
    _, stems = kit.examples.make_multitrack(6.0, SR, tempo_bpm=120.0)
    backing = stems["drums"] + stems["bass"] + stems["other"]
    return stems["vocals"], backing


def delay(y, n):
    return np.pad(y, ((0, 0), (n, 0)))[:, : y.shape[1]] if n >= 0 else np.pad(y[:, -n:], ((0, 0), (0, -n)))


# --- 1. timing ----------------------------------------------------------------------


def test_vocal_delayed_50_ms_is_realigned_to_the_sample(song):
    vocal, backing = song
    n = int(0.050 * SR)  # 2205 samples
    rng = np.random.default_rng(1)
    recorded = delay(vocal, n) * 0.3 + rng.standard_normal(vocal.shape).astype(np.float32) * 1e-4
    aligned, info = align_vocal(recorded, vocal, SR, against="the original vocal")
    assert info["offset_samples"] == n and info["offset_ms"] == pytest.approx(50.0) and info["shifted"]
    np.testing.assert_array_equal(aligned[:, : -n], recorded[:, n:])
    assert "50.0 ms late" in info["summary"]
    # through the whole chain, with the original vocal as the reference
    _, report = kit.automix(recorded, backing, SR, reference_vocal=vocal, compress=False, eq=False, reverb=False)
    assert report["alignment"]["offset_samples"] == n


def test_early_vocal_is_moved_later(song):
    vocal, _ = song
    _, info = align_vocal(delay(vocal, -1323), vocal, SR)
    assert info["offset_samples"] == -1323 and "early" in info["summary"]


def test_unrelated_reference_leaves_the_vocal_alone(song):
    vocal, _ = song
    noise = np.random.default_rng(2).standard_normal(vocal.shape).astype(np.float32)
    out, info = align_vocal(vocal, noise, SR)
    assert not info["shifted"] and info["offset_samples"] == 0
    np.testing.assert_array_equal(out, vocal)


# --- 2. noise gate --------------------------------------------------------------------


def test_noise_gate_silences_room_noise_and_keeps_the_singing(song):
    vocal, _ = song
    noisy = vocal + np.random.default_rng(3).standard_normal(vocal.shape).astype(np.float32) * 3e-4
    gated, info = apply_noise_gate(noisy, SR)
    # the synthetic singer breathes: true silence there; skip the gate's 100 ms release into each gap
    voiced = np.concatenate([[0], np.cumsum(np.max(np.abs(vocal), axis=0) > 0)])
    k = int(0.15 * SR)
    gaps = np.zeros(vocal.shape[1], bool)
    gaps[k:] = (voiced[k + 1:] - voiced[1:-k]) == 0
    assert gaps.sum() > SR * 0.1
    assert np.std(gated[:, gaps]) < 0.1 * np.std(noisy[:, gaps])
    assert lufs(gated) == pytest.approx(lufs(noisy), abs=0.3)
    assert info["threshold_db"] <= info["loud_db"] - 25


# --- 3. level balance -------------------------------------------------------------------


@pytest.mark.parametrize("target_lu", [-0.5, -3.0])
def test_balance_puts_vocal_minus_backing_at_the_target(song, target_lu):
    vocal, backing = song
    out, info = balance_levels(vocal * 0.05, backing, SR, target_lu=target_lu)
    assert lufs(out) - lufs(backing) == pytest.approx(target_lu, abs=0.5)
    assert info["difference_after_lu"] == pytest.approx(target_lu, abs=0.05)


def test_balance_holds_through_the_whole_chain(song):
    vocal, backing = song
    _, report = kit.automix(vocal * 0.05, backing, SR, reverb=False)
    assert report["level"]["difference_final_lu"] == pytest.approx(-0.5, abs=0.5)
    assert report["level"]["gain_db"] > 20  # the quiet take was turned up


# --- 4. compression ------------------------------------------------------------------------


def _phrases(depth_db, seconds=16.0, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    env = np.where((t // 4) % 2 == 0, 1.0, 10 ** (-depth_db / 20))  # 4 s loud, 4 s soft
    return (0.5 * env * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32), sr


def _check_schedule(steps):
    for k, step in enumerate(steps):
        assert step["threshold_db"] == pytest.approx(-3.0 * k)
        assert step["ratio"] == pytest.approx(3.0 + 0.1 * k)


def test_compression_stops_when_the_loudness_range_is_reached():
    y, sr = _phrases(20.0)
    out, info = compress_vocal(y, sr)
    assert info["lra_before_lu"] > MAX_LRA_LU
    steps = info["steps"]
    _check_schedule(steps)
    assert steps[-1]["lra_lu"] <= MAX_LRA_LU and all(s["lra_lu"] > MAX_LRA_LU for s in steps[:-1])
    assert info["reached"] and steps[-1]["threshold_db"] > -35
    assert measure_lra(out, sr) <= MAX_LRA_LU  # the audio returned is the compressed one
    assert lufs(out, sr) == pytest.approx(lufs(y, sr), abs=0.3)  # make-up gain keeps the level


def test_compression_gives_up_past_minus_35_db():
    # one click at full scale: normalising to the peak leaves the singing far below every threshold
    y, sr = _phrases(20.0)
    y = y * 10 ** (-45 / 20)
    y[0, sr] = 1.0
    _, info = compress_vocal(y, sr)
    steps = info["steps"]
    _check_schedule(steps)
    assert len(steps) == 12 and steps[-1]["threshold_db"] == -33.0
    assert not info["reached"] and all(s["lra_lu"] > MAX_LRA_LU for s in steps)
    assert "-35" in info["stopped_because"]


def test_a_lower_loudness_range_limit_compresses_further():
    y, sr = _phrases(20.0)
    _, default = compress_vocal(y, sr)
    out, tight = compress_vocal(y, sr, max_lra_lu=MAX_LRA_LU - 6)
    assert tight["reached"] and len(tight["steps"]) > len(default["steps"])
    assert measure_lra(out, sr) <= MAX_LRA_LU - 6 < default["steps"][-1]["lra_lu"]


def test_steady_vocal_needs_no_compression():
    y, sr = _phrases(0.0)
    out, info = compress_vocal(y, sr)
    assert info["steps"] == [] and info["threshold_db"] is None
    np.testing.assert_allclose(out, y, atol=1e-4)


# --- 5. EQ unmasking ------------------------------------------------------------------------


def _shaped_noise(levels_db: dict, seconds=3.0, seed=0):
    """Noise whose power density per octave band (centre Hz -> dB) is set; other bands at 0 dB."""
    n = int(seconds * SR)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    gain = np.ones_like(freqs)
    for fc, db in levels_db.items():
        gain[(freqs >= fc / 2 ** 0.5) & (freqs < fc * 2 ** 0.5)] = 10 ** (db / 20)
    y = np.fft.irfft(spec * gain, n)
    return (y / np.max(np.abs(y)) * 0.3)[None].astype(np.float32)


def test_vocal_masked_in_one_band_is_boosted_there_only():
    vocal = _shaped_noise({250: 10, 500: 10, 1000: 10, 2000: 10})
    backing = _shaped_noise({31.5: 35, 63: 35, 125: 35, 1000: 25}, seed=1)
    out, info = unmask_vocal(vocal, backing, SR, max_gain_db=12.0)
    assert [(f["freq_hz"], f["action"]) for f in info["filters"]] == [(1000.0, "boost")]
    assert info["filters"][0]["gain_db"] > 2.0
    centres, before = compute_band_levels(vocal, SR)
    _, after = compute_band_levels(out, SR)
    change = dict(zip(centres, after - before, strict=True))
    far = [31.5, 63.0, 125.0, 4000.0, 8000.0, 16000.0]  # two octaves or more from 1 kHz: no rule there
    level_shift = np.mean([change[f] for f in far])  # the loudness restore moves every band alike
    assert max(abs(change[f] - level_shift) for f in far) < 0.3
    # a Q=2 peak is ~0.7 octave wide: averaged over the octave band it gives a good part of its peak gain
    gain = info["filters"][0]["gain_db"]
    assert 0.5 * gain < change[1000.0] - level_shift <= gain + 0.2


@pytest.mark.parametrize("max_gain_db", [6.0, 1.5])
def test_the_eq_gain_limit_caps_the_boost(max_gain_db):
    # the same masked band as above: unlimited it wants more than 2 dB
    vocal = _shaped_noise({250: 10, 500: 10, 1000: 10, 2000: 10})
    backing = _shaped_noise({31.5: 35, 63: 35, 125: 35, 1000: 25}, seed=1)
    _, wide = unmask_vocal(vocal, backing, SR, max_gain_db=12.0)
    _, info = unmask_vocal(vocal, backing, SR, max_gain_db=max_gain_db)
    want = wide["filters"][0]["gain_db"]
    assert info["max_gain_db"] == max_gain_db
    assert info["filters"][0]["gain_db"] == pytest.approx(min(want, max_gain_db), abs=1e-6)


def test_vocal_crowding_a_backing_band_is_cut():
    # the backing's main bands are 63-250 Hz; the vocal is strong at 125 Hz though its main bands are 0.5-4 kHz
    vocal = _shaped_noise({125: 39, 500: 40, 1000: 40, 2000: 40, 4000: 40})
    backing = _shaped_noise({63: 40, 125: 40, 250: 40, 500: 30, 1000: 30, 2000: 30, 4000: 30}, seed=1)
    _, info = unmask_vocal(vocal, backing, SR)
    cuts = [f for f in info["filters"] if f["action"] == "cut"]
    assert [f["freq_hz"] for f in cuts] == [125.0] and cuts[0]["gain_db"] < 0


# --- 6. reverb --------------------------------------------------------------------------------


def _schroeder_rt60(ir, sr):
    """An independent T20 read-out, to check kit's own measurement."""
    edc = np.cumsum((np.asarray(ir, np.float64) ** 2).sum(axis=0)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-300)
    t = np.arange(edc_db.size) / sr
    span = (edc_db <= -5) & (edc_db >= -25)
    return -60 / np.polyfit(t[span], edc_db[span], 1)[0]


def test_rt60_measurement_on_a_known_decay():
    sr = 16000
    t = np.arange(4 * sr) / sr
    for rt in (0.8, 1.5):
        ir = np.random.default_rng(0).standard_normal(t.size) * 10 ** (-3 * t / rt)
        assert measure_rt60(ir, sr)["rt60_s"] == pytest.approx(rt, rel=0.03)


def test_120_bpm_gives_1_78_s_and_the_reverb_applied_has_it(song):
    vocal, backing = song
    assert compute_reverb_time(120) == pytest.approx(1.78, abs=0.005)
    mix, report = kit.automix(vocal * 0.2, backing, SR)
    rev = report["reverb"]
    assert rev["tempo_bpm"] == pytest.approx(120, abs=3)
    assert rev["rt_target_s"] == pytest.approx(compute_reverb_time(rev["tempo_bpm"]), abs=0.01)
    # rebuild the reverb the report names and measure its impulse response here
    impulse = np.zeros((2, 8 * SR), np.float32)
    impulse[:, 0] = 1.0
    ir = pedalboard.Reverb(room_size=rev["room_size"], damping=DAMPING, wet_level=1.0, dry_level=0.0)(impulse, SR)
    assert _schroeder_rt60(ir, SR) == pytest.approx(rev["rt_target_s"], rel=0.15)
    assert rev["rt60_measured_s"] == pytest.approx(rev["rt_target_s"], rel=0.15)


@pytest.mark.parametrize("return_lu", [None, -8.0])  # None: the default, 14 LU below the mix
def test_reverb_return_sits_14_lu_below_the_mix_or_where_asked(song, return_lu):
    vocal, backing = song
    options = {} if return_lu is None else {"return_lu": return_lu}
    wet, info = add_reverb(vocal, backing, SR, tempo_bpm=90, **options)
    assert lufs(wet) - lufs(vocal + backing) == pytest.approx(return_lu or -14.0, abs=0.5)
    assert info["rt_target_s"] == pytest.approx(-90 / 45 + 40 / 9, abs=0.001)


# --- 7. output ------------------------------------------------------------------------------------


def test_output_true_peak_is_at_most_minus_1_dbtp(song):
    vocal, backing = song
    loud_backing = backing / np.max(np.abs(backing))  # touches full scale: the sum must be turned down
    mix, report = kit.automix(vocal, loud_backing, SR, tempo_bpm=120)
    assert mix.shape == loud_backing.shape and mix.dtype == np.float32
    assert report["output"]["gain_db"] < 0
    assert report["output"]["true_peak_dbtp"] <= -1.0
    assert oversampled_peak_db(mix) <= -1.0 + 0.05


def test_every_automix_option_changes_the_mix_as_asked(song):
    """automix() with a value other than the default for each option: each one reaches its step."""
    vocal, backing = song
    loud_backing = backing / np.max(np.abs(backing))
    mix, report = kit.automix(vocal, loud_backing, SR, tempo_bpm=100, ceiling_dbtp=-6.0, target_lu=2.0,
                              reverb_return_lu=-8.0, max_lra_lu=3.0, max_eq_gain_db=2.0)
    # the ceiling moves the peak (the default run above stops at -1 dBTP)
    assert report["output"]["ceiling_dbtp"] == -6.0 and oversampled_peak_db(mix) <= -6.0 + 0.05
    assert report["level"]["target_lu"] == 2.0
    assert report["level"]["difference_after_lu"] == pytest.approx(2.0, abs=0.05)
    assert report["reverb"]["tempo_bpm"] == 100 and not report["reverb"]["tempo_estimated"]
    assert report["reverb"]["rt_target_s"] == pytest.approx(-100 / 45 + 40 / 9, abs=0.001)
    assert report["reverb"]["return_lu"] == -8.0
    # this voice's loudness range is 3.4 LU: the default 16.7 leaves it alone, 3 LU compresses it (measured: 2.4)
    comp = report["compression"]
    assert comp["max_lra_lu"] == 3.0 and comp["steps"] and comp["lra_before_lu"] > 3.0 >= comp["lra_after_lu"]
    # this voice is not masked, so no band is boosted; the limit reaches the EQ step
    # (test_the_eq_gain_limit_caps_the_boost shows what it does there)
    assert report["eq"]["max_gain_db"] == 2.0
    assert all(abs(f["gain_db"]) <= 2.0 for f in report["eq"]["filters"])


def test_report_is_json_and_reads_as_text(song):
    vocal, backing = song
    _, report = kit.automix(delay(vocal, 441) * 0.1, backing, SR, reference_vocal=vocal, tempo_bpm=120)
    back = json.loads(json.dumps(report))
    text = report.as_text()
    assert text == format_report(back)
    for word in ("Timing", "Noise gate", "Level balance", "Compression", "EQ unmasking", "Reverb", "Output",
                 " ms ", "LUFS", " LU", "dBTP", " s "):
        assert word in text, word
    assert {"alignment", "noise_gate", "level", "compression", "eq", "reverb", "output"} <= set(back)


# --- bad input ----------------------------------------------------------------------------------


def test_silent_too_short_and_mismatched_rate_inputs_are_refused(song):
    vocal, backing = song
    cases = [
        (lambda: kit.automix(np.zeros_like(vocal), backing, SR), "silent"),
        (lambda: kit.automix(vocal, np.zeros_like(backing), SR), "silent"),
        (lambda: kit.automix(vocal[:, : 2 * SR], backing[:, : 2 * SR], SR), "too short"),
        (lambda: kit.automix(vocal, backing, SR, backing_sr=48000), "48000 Hz"),
        (lambda: kit.automix(vocal * np.nan, backing, SR), "NaN"),
    ]
    for call, words in cases:
        with pytest.raises(KitError) as err:
            call()
        message = str(err.value)
        assert words in message and "\n" not in message, message
    assert issubclass(AudioContentError, KitError)


# --- the app's "add my voice" panel ------------------------------------------------------------------


def _shown(panel):
    """Every text in the results, the numbers folded away in the accordion included."""
    def texts(w):
        yield from [w.value] if isinstance(getattr(w, "value", None), str) else []
        for child in getattr(w, "children", ()):
            yield from texts(child)
    return " ".join(texts(panel.results))


def _upload(panel, name, data):
    import datetime

    panel.upload.value = ({"name": name, "content": memoryview(data), "size": len(data), "type": "audio/wav",
                           "last_modified": datetime.datetime.now()},)


def test_add_my_voice_mixes_an_uploaded_take(song, tmp_path):
    from kit.ui import add_my_voice

    vocal, backing = song
    take = kit.save(tmp_path / "take.wav", kit.audio.resample(delay(vocal, 2205) * 0.2, SR, sr=48000), 48000)
    panel = add_my_voice(backing, SR, reference_vocal=vocal, reference_name="the song's vocal (as kit separated it)",
                         song_name="Test song", workdir=tmp_path)
    assert "lines it up with the song's vocal (as kit separated it)" in html.unescape(panel.children[0].value)
    panel.button.click()  # nothing uploaded yet: a message, no mix
    assert panel.result is None and "No recording uploaded" in _shown(panel)
    _upload(panel, "take.wav", take.read_bytes())
    assert "Take ready: <b>take.wav</b>" in panel.take_note.value  # the singer sees which take will be mixed
    panel.reverb.value = False
    panel.button.click()
    report = panel.result["report"]
    assert report["alignment"]["offset_ms"] == pytest.approx(50.0, abs=0.1)  # found after 48k -> 44.1k
    assert "reverb" not in report and panel.result["mix"].shape == backing.shape
    shown = _shown(panel)
    assert "48000 Hz" in shown and "Level balance" in shown
    name, data = panel.download.click()  # what one click in the browser saves
    assert name == "Test song (my mix).mp3" and len(data) > 10_000
    panel.format = "wav"  # the app's format choice: WAV stays WAV
    name, data = panel.download.click()
    assert name == "Test song (my mix).wav" and data[:4] == b"RIFF"
    # the report leads with plain sentences; the engineer's numbers are one click away
    summary = panel.result["summary"]
    assert summary.startswith("Your voice came in 50 ms late against the song's vocal (as kit separated it)")
    assert "quieter than the band; kit raised it by" in summary
    assert not any(word in summary for word in ("LUFS", "LU ", "dBTP", "RT =", "paper"))
    numbers = [w for w in panel.results.children if "kit-voice-numbers" in w._dom_classes]
    assert len(numbers) == 1 and numbers[0].selected_index is None  # folded
    assert "Give the original vocal" not in shown
    assert panel.bar.layout.visibility == "hidden"  # the "Mixing" bar goes once the mix is done


def test_add_my_voice_says_what_is_wrong_with_a_bad_upload(song, tmp_path):
    from kit.ui import add_my_voice

    vocal, backing = song
    panel = add_my_voice(backing, SR, workdir=tmp_path)
    _upload(panel, "silence.wav", kit.save(tmp_path / "s.wav", np.zeros((1, 4 * SR)), SR).read_bytes())
    panel.button.click()
    assert panel.result is None and "silent" in _shown(panel)
    assert not panel.button.disabled


# --- the shortcuts give what the slow way gives -----------------------------------------------


def _full_correlation(take, reference, max_offset_s=1.0):
    """Lag and clarity from scipy's cross-correlation of the whole signals (what align_vocal did first)."""
    v = take.mean(axis=0, dtype=np.float32).astype(np.float64)
    r = reference.mean(axis=0, dtype=np.float32).astype(np.float64)
    corr = signal.correlate(v, r, mode="full", method="fft")
    lags = signal.correlation_lags(v.size, r.size, mode="full")
    keep = np.abs(lags) <= int(max_offset_s * SR)
    corr, lags = corr[keep], lags[keep]
    best = int(np.argmax(corr))
    return int(lags[best]), round(float((corr[best] - np.mean(corr)) / np.std(corr)), 1)


@pytest.mark.parametrize("delay_samples, extra", [(43659, 0), (-44100, 0), (3001, 20000), (-7, -30000)])
def test_alignment_finds_what_the_full_cross_correlation_finds(song, delay_samples, extra):
    vocal, _ = song
    take = delay(vocal, delay_samples)
    take = take[:, :extra] if extra < 0 else np.pad(take, ((0, 0), (0, extra)))  # other lengths than the reference
    _, info = align_vocal(take, vocal, SR)
    assert (info["found_offset_samples"], info["clarity"]) == _full_correlation(take, vocal)


def test_a_centred_voice_is_gated_and_compressed_as_pedalboard_does_in_stereo():
    y, sr = _phrases(20.0)
    noise = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32) * np.float32(1e-3)
    stereo = np.repeat(y + noise, 2, axis=0)
    gated, _ = apply_noise_gate(stereo, sr, threshold_db=-40.0)
    expected = pedalboard.NoiseGate(threshold_db=-40.0, ratio=10.0, attack_ms=1.0, release_ms=100.0)(stereo, sr)
    np.testing.assert_array_equal(gated, expected)

    out, info = compress_vocal(stereo, sr)
    assert info["steps"]
    norm = stereo / np.max(np.abs(stereo))
    comp = pedalboard.Compressor(threshold_db=info["threshold_db"], ratio=info["ratio"], attack_ms=30.0,
                                 release_ms=200.0)(norm, sr)
    expected = comp * 10 ** ((lufs(stereo, sr) - lufs(comp, sr)) / 20)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_each_compression_step_reports_ffmpegs_loudness_range():
    y, sr = _phrases(20.0)
    _, info = compress_vocal(y, sr)
    norm = y / np.max(np.abs(y))
    assert info["lra_before_lu"] == pytest.approx(measure_lra(norm, sr), abs=0.1 + 1e-9)
    for step in info["steps"]:
        comp = pedalboard.Compressor(threshold_db=step["threshold_db"], ratio=step["ratio"], attack_ms=30.0,
                                     release_ms=200.0)(norm, sr)
        assert step["lra_lu"] == pytest.approx(measure_lra(comp, sr), abs=0.1 + 1e-9), step


def test_a_centred_voice_is_equalised_as_pedalboard_does_in_stereo():
    vocal = np.repeat(_shaped_noise({250: 10, 500: 10, 1000: 10, 2000: 10}), 2, axis=0)
    backing = np.repeat(_shaped_noise({31.5: 35, 63: 35, 125: 35, 1000: 25}, seed=1), 2, axis=0)
    out, info = unmask_vocal(vocal, backing, SR, max_gain_db=12.0)
    assert info["filters"]
    board = pedalboard.Pedalboard([pedalboard.PeakFilter(cutoff_frequency_hz=f["freq_hz"], gain_db=f["gain_db"],
                                                         q=f["q"]) for f in info["filters"]])
    eq = board(vocal, SR)
    np.testing.assert_allclose(out, eq * 10 ** ((lufs(vocal) - lufs(eq)) / 20), rtol=1e-4, atol=1e-6)


def test_band_levels_are_scipys_welch_estimate():
    y = _shaped_noise({125: 20, 2000: -10}, seconds=4.0)
    x = k_weight(y, SR)[0]
    freqs, psd = signal.welch(x, fs=SR, nperseg=16384)
    expected = []
    for fc in BAND_CENTRES_HZ:
        lo, hi = fc / math.sqrt(2), min(fc * math.sqrt(2), SR / 2)
        power = np.sum(psd[(freqs >= lo) & (freqs < hi)]) * (freqs[1] - freqs[0])
        expected.append(10 * math.log10(power / (hi - lo)))
    _, levels = compute_band_levels(y, SR)
    np.testing.assert_allclose(levels, expected, atol=1e-9)


def test_output_numbers_are_what_ffmpeg_measures_on_the_returned_mix(song):
    vocal, backing = song
    loud = backing / np.max(np.abs(backing)) * 1.5  # 3.5 dB over full scale: the mix must be turned down
    mix, info = finish_mix(np.repeat(vocal[:1], 2, axis=0), loud, SR)
    assert info["gain_db"] < -4
    measured = measure_ebur128(mix, SR)
    assert info["true_peak_dbtp"] == pytest.approx(measured["true_peak_dbtp"], abs=0.1 + 1e-9)
    assert info["true_peak_dbtp"] <= -1.0 and measured["true_peak_dbtp"] <= -1.0
    assert info["mix_lufs"] == pytest.approx(measured["integrated_lufs"], abs=0.1 + 1e-9)
    assert info["lra_lu"] == pytest.approx(measured["lra_lu"], abs=0.1 + 1e-9)
