"""Backing-track recombination (kit.mix) and key shift / trimming (kit.pitch).

The reference everywhere is plain numpy arithmetic on the true stems of the
synthetic multitrack: a backing track must be exactly the sum it claims to be.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

import kit
from kit.errors import KitWarning, OptionError
from kit.mix import apply_limiter, make_backing_track, match_loudness, select_stems, write_backing_track
from kit.pitch import shift_pitch, trim

SR = 44100
KEEP = ["bass", "drums", "other", "piano"]


@pytest.fixture(scope="module")
def song6():
    mix, stems = kit.examples.make_multitrack(3.0, SR, stems=kit.examples.STEMS_6)
    return mix, stems


@pytest.fixture(scope="module")
def song_clip():
    y, sr = kit.examples.load_song(duration_s=4.0)
    assert sr == SR
    return y


@pytest.fixture(scope="module")
def stem_files(song6, tmp_path_factory):
    """The stems (and the mix) as 32-bit float wav files, as `kit separate` writes them."""
    mix, stems = song6
    folder = tmp_path_factory.mktemp("stems")
    paths = {}
    for name, y in stems.items():
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], y.T, SR, subtype="FLOAT")
    sf.write(folder / "mix.wav", mix.T, SR, subtype="FLOAT")
    return paths, folder / "mix.wav"


def _true_peak_db(y):
    return 20 * np.log10(np.max(np.abs(signal.resample_poly(y, 4, 1, axis=1))))


# --- choosing stems ---------------------------------------------------------------------


def test_sum_of_kept_stems_equals_numpy_sum(song6):
    _, stems = song6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no clipping note for a mix below full scale
        backing = make_backing_track(stems, keep=",".join(KEEP))
    expected = sum(stems[k].astype(np.float64) for k in KEEP)
    assert backing.dtype == np.float32 and backing.shape == stems["bass"].shape
    np.testing.assert_allclose(backing, expected, atol=1e-6)


def test_drop_and_keep_describe_the_same_track(song6):
    _, stems = song6
    a = make_backing_track(stems, drop="vocals,guitar")
    b = make_backing_track(stems, keep=["piano", "other", "drums", "bass"])  # any order, list form
    np.testing.assert_array_equal(a, b)


def test_gain_scales_one_stem_by_its_decibels(song6):
    _, stems = song6
    plain = make_backing_track(stems, drop="vocals")
    quieter = make_backing_track(stems, drop="vocals", gains_db={"drums": -6})
    np.testing.assert_allclose(quieter - plain, (10 ** (-6 / 20) - 1) * stems["drums"], atol=1e-6)


def test_minus_plus_dropped_stems_is_the_mixture(song6):
    mix, stems = song6
    backing = make_backing_track(stems, drop="vocals,guitar", method="minus", mixture=mix)
    np.testing.assert_allclose(backing + stems["vocals"] + stems["guitar"], mix, atol=1e-6)


def test_minus_keeps_what_no_stem_holds(song6):
    """With imperfect stems, `minus` keeps the residual that `sum` loses."""
    mix, stems = song6
    residual = 0.05 * np.sin(2 * np.pi * 1000 * np.arange(mix.shape[1]) / SR).astype(np.float32)
    song = mix + residual  # something the "model" attributed to no stem
    minus = make_backing_track(stems, drop="vocals", method="minus", mixture=song)
    added = make_backing_track(stems, drop="vocals")
    np.testing.assert_allclose(minus - added, np.broadcast_to(residual, mix.shape), atol=1e-6)
    gained = make_backing_track(stems, drop="vocals", method="minus", mixture=song, gains_db={"bass": -3})
    np.testing.assert_allclose(gained - minus, (10 ** (-3 / 20) - 1) * stems["bass"], atol=1e-6)


def test_minus_needs_the_mixture(song6):
    _, stems = song6
    with pytest.raises(OptionError, match="mixture"):
        make_backing_track(stems, drop="vocals", method="minus")


def test_unknown_stem_lists_the_valid_ones(song6):
    _, stems = song6
    with pytest.raises(OptionError) as err:
        make_backing_track(stems, drop="voice")
    msg = str(err.value)
    assert "'voice'" in msg and all(s in msg for s in kit.examples.STEMS_6) and "\n" not in msg


@pytest.mark.parametrize("kwargs, match", [
    (dict(drop="vocals", keep="bass"), "not both"),
    (dict(), "--drop"),
    (dict(drop="drums,bass,other,vocals"), "leaves no stem"),
    (dict(drop="vocals", gains_db={"vocals": -12}), "dropped"),
    (dict(drop="vocals", gains_db={"drum": -3}), "Unknown stem 'drum'"),
    (dict(drop="vocals", gains_db={"drums": float("nan")}), "out of range"),
    (dict(drop="vocals", method="karaoke"), "Unknown method"),
])
def test_bad_choices_are_one_line_errors(kwargs, match):
    _, stems = kit.examples.make_multitrack(0.5)
    with pytest.raises(OptionError, match=match) as err:
        make_backing_track(stems, **kwargs)
    assert "\n" not in str(err.value)


def test_select_stems_keeps_model_order():
    assert select_stems(["drums", "bass", "other", "vocals"], keep="vocals, DRUMS") == (
        ["drums", "vocals"], ["bass", "other"])


# --- levels: clipping is reported, limiting and loudness are explicit ------------------------


def test_clipping_is_reported_not_hidden(song6):
    _, stems = song6
    with pytest.warns(KitWarning, match=r"peaks at \+\d+\.\d dBFS.*limit=True") as rec:
        loud = make_backing_track(stems, drop="vocals", gains_db={"drums": 12})
    expected = make_backing_track(stems, drop="vocals") + (10 ** (12 / 20) - 1) * stems["drums"]
    np.testing.assert_allclose(loud, expected, atol=1e-5)  # not clipped, not rescaled
    peak_db = 20 * np.log10(np.max(np.abs(loud)))
    assert peak_db > 0.5 and f"{peak_db:+.1f} dBFS" in str(rec[0].message)


def test_limiter_holds_the_ceiling_and_leaves_the_rest(song_clip):
    y = song_clip * 0.5  # the real clip: below the -1 dBTP ceiling everywhere
    loud = y.copy()
    loud[:, SR:SR + SR // 2] *= 8.0  # half a second far above full scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a limited track is not reported as clipping
        limited = make_backing_track({"all": loud}, keep="all", sr=SR, limit=True, ceiling_db=-1.0)
    assert limited.shape == loud.shape
    assert _true_peak_db(limited) <= -1.0 + 0.05
    # before the loud part (lookahead 5 ms) and after it (release) the audio passes through
    # unchanged and in place; the first and last 1000 samples see the oversampling filter's edges
    np.testing.assert_allclose(limited[:, 1000:SR - 441], loud[:, 1000:SR - 441], atol=1e-4)
    np.testing.assert_allclose(limited[:, 2 * SR:-1000], loud[:, 2 * SR:-1000], atol=1e-4)


def test_loudness_target_is_reached(song6):
    import pyloudnorm

    _, stems = song6
    y = make_backing_track(stems, drop="vocals", sr=SR, target_lufs=-20.0)
    measured = pyloudnorm.Meter(SR).integrated_loudness(y.T.astype(np.float64))
    assert abs(measured - (-20.0)) < 0.05
    _, gain_db = match_loudness(y, SR, target_lufs=-23.0)
    assert gain_db == pytest.approx(-3.0, abs=0.05)


def test_loudness_and_limit_need_sr(song6):
    _, stems = song6
    with pytest.raises(OptionError, match="sr="):
        make_backing_track(stems, drop="vocals", limit=True)


# --- FFmpeg writes the same numbers -------------------------------------------------------


def test_ffmpeg_arrays_equal_numpy(song6, tmp_path):
    _, stems = song6
    ref = make_backing_track(stems, keep=KEEP, gains_db={"drums": -6, "piano": 2.5})
    out = write_backing_track(stems, tmp_path / "b.wav", sr=SR, keep=KEEP, gains_db={"drums": -6, "piano": 2.5})
    y, sr = kit.load(out)
    assert sf.info(out).subtype == "FLOAT" and sr == SR and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, atol=1e-4)
    assert np.max(np.abs(y - ref)) < 1e-6  # in fact float rounding only


def test_ffmpeg_stem_files_equal_numpy(song6, stem_files, tmp_path):
    mix, stems = song6
    paths, mix_path = stem_files
    ref = make_backing_track(stems, drop="vocals,guitar", gains_db={"drums": -6})
    y, _ = kit.load(write_backing_track(paths, tmp_path / "f.wav", drop="vocals,guitar", gains_db={"drums": -6}))
    np.testing.assert_allclose(y, ref, atol=1e-4)
    ref = make_backing_track(stems, drop="vocals", method="minus", mixture=mix, gains_db={"bass": -3})
    out = write_backing_track(paths, tmp_path / "m.wav", drop="vocals", method="minus", mixture=mix_path,
                              gains_db={"bass": -3})
    np.testing.assert_allclose(kit.load(out)[0], ref, atol=1e-4)


def test_stem_files_with_loudness_target(song6, stem_files, tmp_path):
    _, stems = song6
    paths, _ = stem_files
    out = write_backing_track(paths, tmp_path / "l.wav", drop="vocals", target_lufs=-20)  # no sr: from the files
    ref, _ = match_loudness(make_backing_track(stems, drop="vocals"), SR, target_lufs=-20)
    np.testing.assert_allclose(kit.load(out)[0], ref, atol=1e-4)


def test_ffmpeg_trim_cuts_at_exact_samples(song6, stem_files, tmp_path):
    _, stems = song6
    paths, _ = stem_files
    full = make_backing_track(stems, drop="vocals")
    a, b = round(0.4321 * SR), round(2.2 * SR)
    for src, name in ((stems, "arrays.wav"), (paths, "files.wav")):
        y, _ = kit.load(write_backing_track(src, tmp_path / name, sr=SR, drop="vocals", start_s=0.4321, end_s=2.2))
        assert y.shape == (2, b - a)
        np.testing.assert_allclose(y, full[:, a:b], atol=1e-4)


def test_amix_keeps_levels_when_a_stem_ends_early(song6, tmp_path):
    """normalize=0 with duration=longest: no ramp (dropout_transition) when one input stops."""
    _, stems = song6
    short = tmp_path / "bass_short.wav"
    sf.write(short, stems["bass"][:, :SR].T, SR, subtype="FLOAT")
    drums = tmp_path / "drums.wav"
    sf.write(drums, stems["drums"].T, SR, subtype="FLOAT")
    y, _ = kit.load(write_backing_track({"drums": drums, "bass": short}, tmp_path / "o.wav", keep="drums,bass"))
    expected = stems["drums"].copy()
    expected[:, :SR] += stems["bass"][:, :SR]
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_ffmpeg_limiter_equals_numpy_limiter(song6, tmp_path):
    _, stems = song6
    ref = make_backing_track(stems, drop="vocals", gains_db={"drums": 12}, sr=SR, limit=True)
    out = write_backing_track(stems, tmp_path / "l.wav", sr=SR, drop="vocals", gains_db={"drums": 12}, limit=True)
    y, _ = kit.load(out)
    np.testing.assert_allclose(y, ref, atol=1e-4)
    assert np.max(np.abs(y)) < 1.0


def test_ffmpeg_reports_clipping(song6, tmp_path):
    _, stems = song6
    with pytest.warns(KitWarning, match="dBFS"):
        out = write_backing_track(stems, tmp_path / "loud.wav", sr=SR, drop="vocals", gains_db={"drums": 12})
    assert np.max(np.abs(kit.load(out)[0])) > 1.5  # float wav keeps the level: nothing rescaled


def test_mp3_and_flac_outputs(song6, tmp_path):
    _, stems = song6
    ref = make_backing_track(stems, drop="vocals")
    for ext in ("mp3", "flac"):
        out = write_backing_track(stems, tmp_path / f"b.{ext}", sr=SR, drop="vocals")
        y, sr = kit.load(out)
        assert sr == SR and y.shape == ref.shape  # FFmpeg trims the mp3 encoder delay on decode
        err = np.sum((y - ref) ** 2) / np.sum(ref ** 2)
        assert err < (1e-2 if ext == "mp3" else 1e-9)  # mp3: SNR above 20 dB; flac: 24-bit rounding
    assert sf.info(tmp_path / "b.flac").subtype == "PCM_24"


def test_output_never_replaces_a_stem_and_errors_leave_nothing(song6, stem_files, tmp_path):
    _, stems = song6
    paths, _ = stem_files
    before = paths["bass"].read_bytes()
    with pytest.raises(OptionError, match="overwrite the input"):
        write_backing_track(paths, paths["bass"], drop="vocals")
    assert paths["bass"].read_bytes() == before
    with pytest.raises(OptionError, match="Unknown stem"):
        write_backing_track(stems, tmp_path / "x.mp3", sr=SR, drop="voice")
    with pytest.raises(OptionError, match="semitones"):
        write_backing_track(stems, tmp_path / "x.mp3", sr=SR, drop="vocals", semitones=20)
    assert list(tmp_path.iterdir()) == []


def test_key_shift_and_loudness_through_the_writer(song6, tmp_path):
    _, stems = song6
    out = write_backing_track(stems, tmp_path / "k.wav", sr=SR, drop="vocals", semitones=-1, target_lufs=-20)
    ref, _ = match_loudness(shift_pitch(make_backing_track(stems, drop="vocals"), SR, semitones=-1), SR,
                            target_lufs=-20)
    np.testing.assert_allclose(kit.load(out)[0], ref, atol=1e-4)


# --- key shift and trimming ---------------------------------------------------------------


def _click_track(duration_s=10.0, period_s=0.5):
    rng = np.random.default_rng(1)
    n = int(duration_s * SR)
    t = np.arange(int(0.03 * SR)) / SR
    burst = (rng.standard_normal(t.size) * np.exp(-t * 150) * 0.5).astype(np.float32)
    starts = (np.arange(0.3, duration_s - 0.4, period_s) * SR).astype(int)
    y = np.zeros((2, n), np.float32)
    for p in starts:
        y[:, p:p + burst.size] += burst
    return y, starts


def _centroids(y, starts):
    e = y.mean(axis=0).astype(np.float64) ** 2
    out = []
    for p in starts:
        a, b = p - int(0.1 * SR), p + int(0.25 * SR)
        out.append(np.sum(e[a:b] * np.arange(a, b)) / np.sum(e[a:b]))
    return np.array(out)


@pytest.mark.parametrize("semitones", [-1.0, 2.5])
def test_key_shift_keeps_length_and_onsets(semitones):
    y, starts = _click_track()
    shifted = shift_pitch(y, SR, semitones=semitones)
    assert shifted.shape == y.shape and shifted.dtype == np.float32
    moved_ms = (_centroids(shifted, starts) - _centroids(y, starts)) / SR * 1000
    assert np.max(np.abs(moved_ms)) < 3.0, moved_ms  # no offset, and no drift by the end


@pytest.mark.parametrize("semitones, f0", [(-1.0, 440.0), (3.0, 110.0), (-12.0, 220.0)])
def test_key_shift_moves_the_frequency(semitones, f0):
    n = 4 * SR
    y = (0.5 * np.sin(2 * np.pi * f0 * np.arange(n) / SR)).astype(np.float32)[None]
    shifted = shift_pitch(y, SR, semitones=semitones)[0, SR:3 * SR].astype(np.float64)
    spec = np.abs(np.fft.rfft(shifted * np.hanning(shifted.size), 8 * shifted.size))
    f_peak = np.argmax(spec) * SR / (8 * shifted.size)
    # within 6 cents (0.35 %) of 2^(n/12); the drift correction costs at most ~5 cents
    assert f_peak / f0 == pytest.approx(2 ** (semitones / 12), rel=3.5e-3)


def test_key_shift_range_and_zero():
    y = np.zeros((2, 1000), np.float32)
    np.testing.assert_array_equal(shift_pitch(y, SR, semitones=0), y)
    for bad in (13, -12.5, float("nan"), "low"):
        with pytest.raises(OptionError, match="semitones|number"):
            shift_pitch(y, SR, semitones=bad)


def test_trim_exact_samples_and_limits():
    y = np.arange(2 * SR, dtype=np.float32).reshape(1, -1)
    cut = trim(y, SR, start_s=0.5, end_s=1.25)
    assert cut[0, 0] == round(0.5 * SR) and cut.shape[1] == round(1.25 * SR) - round(0.5 * SR)
    with pytest.warns(KitWarning, match="past the end"):
        assert trim(y, SR, start_s=1.0, end_s=99).shape[1] == SR
    with pytest.raises(OptionError, match="past the end"):
        trim(y, SR, start_s=5.0)
    with pytest.raises(OptionError, match="after --start"):
        trim(y, SR, start_s=1.0, end_s=0.5)


def test_limiter_alone_keeps_quiet_audio(song_clip):
    y = song_clip * 0.5
    out = apply_limiter(y, SR)
    assert out.shape == y.shape
    np.testing.assert_allclose(out[:, 1000:-1000], y[:, 1000:-1000], atol=1e-4)


def test_stem_files_at_different_rates_are_refused(song6, stem_files, tmp_path):
    _, stems = song6
    paths, _ = stem_files
    odd = tmp_path / "bass_22k.wav"
    sf.write(odd, stems["bass"][:, ::2].T, SR // 2, subtype="FLOAT")
    with pytest.raises(OptionError, match="differ"):
        write_backing_track({**paths, "bass": odd}, tmp_path / "x.wav", drop="vocals")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bass_22k.wav"]
