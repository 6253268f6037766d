"""Classical separators: centre cancellation, HPSS, REPET-SIM (against librosa's recipe)."""

import subprocess
import sys

import librosa
import numpy as np
import pytest

import kit
from kit.errors import AudioContentError, OptionError
from kit.separators.classical import (
    CenterSeparator,
    HPSSSeparator,
    RepetSimSeparator,
    compute_repet_sim_masks,
    filter_repeating,
)

SR = 22050


def recipe_masks(mag, sr):
    """librosa's "Vocal separation" recipe, as its documentation writes it."""
    s_filter = librosa.decompose.nn_filter(mag, aggregate=np.median, metric="cosine",
                                           width=int(librosa.time_to_frames(2, sr=sr)))
    s_filter = np.minimum(mag, s_filter)
    mask_i = librosa.util.softmask(s_filter, 2 * (mag - s_filter), power=2)
    mask_v = librosa.util.softmask(mag - s_filter, 10 * s_filter, power=2)
    return mask_i, mask_v


@pytest.fixture(scope="module")
def song_mono():
    y, sr = kit.examples.load_song(sr=SR, mono=True, duration_s=8.0)
    return y, sr


@pytest.fixture(scope="module")
def multitrack():
    return kit.examples.make_multitrack(5.0, sr=SR)


# --- centre-channel cancellation --------------------------------------------

def _pan(x, pos):
    theta = (pos + 1) * np.pi / 4
    return np.stack([np.cos(theta) * x, np.sin(theta) * x]).astype(np.float32)


def test_center_removes_a_centred_voice_exactly():
    rng = np.random.default_rng(1)
    n = 3 * SR
    t = np.arange(n) / SR
    voice = _pan(0.4 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)), 0.0)
    guitar = _pan(0.3 * rng.standard_normal(n), 0.7)
    pad = _pan(0.3 * np.sin(2 * np.pi * 330 * t), -0.55)
    mix = voice + guitar + pad
    out = CenterSeparator().separate(mix, SR)
    instruments = guitar + pad
    side = 0.5 * (instruments[0] - instruments[1])
    # the accompaniment is exactly the instruments' side signal: none of the voice
    np.testing.assert_allclose(out["accompaniment"], np.stack([side, -side]), atol=1e-6)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], mix, atol=1e-6)
    np.testing.assert_allclose(out["vocals"][0], out["vocals"][1], atol=1e-6)  # the mid signal
    # adding the voice changes the vocals stem only
    alone = CenterSeparator().separate(instruments, SR)
    np.testing.assert_allclose(out["accompaniment"], alone["accompaniment"], atol=1e-6)
    np.testing.assert_allclose(out["vocals"] - alone["vocals"], voice, atol=1e-6)


def test_center_refuses_mono_and_fake_stereo(multitrack):
    mix, _ = multitrack
    with pytest.raises(AudioContentError, match="--model unet"):
        kit.separate(mix[:1], SR, model="center")
    with pytest.raises(AudioContentError, match="identical"):
        kit.separate(np.concatenate([mix[:1], mix[:1]]), SR, model="center")


# --- HPSS --------------------------------------------------------------------

def test_hpss_splits_a_tone_from_clicks_and_sums_to_the_mix():
    n = 3 * SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)
    clicks = np.zeros(n)
    clicks[:: SR // 4] = 1.0
    y = np.stack([tone + clicks, tone + clicks]).astype(np.float32)
    out = HPSSSeparator().separate(y, SR)
    assert list(out) == ["harmonic", "percussive"]
    np.testing.assert_allclose(out["harmonic"] + out["percussive"], y, atol=1e-6)
    # most of the tone lands in harmonic, most of the clicks in percussive
    h = out["harmonic"][0]
    assert np.sum((h - tone) ** 2) < 0.1 * np.sum(tone**2)
    p = out["percussive"][0]
    assert np.sum((p - clicks) ** 2) < 0.25 * np.sum(clicks**2)


def test_hpss_with_a_margin_adds_a_residual(multitrack):
    mix, _ = multitrack
    sep = kit.get_separator("hpss", margin=3.0)
    assert sep.stems == ("harmonic", "percussive", "residual")
    out = sep.separate(mix, SR)
    np.testing.assert_allclose(sum(out.values()), mix, atol=1e-5)
    assert np.sum(out["residual"] ** 2) > 0.01 * np.sum(mix**2)


# --- REPET-SIM -----------------------------------------------------------------

def test_repet_masks_match_librosa_recipe_mono(song_mono):
    y, sr = song_mono
    mag = np.abs(librosa.stft(y[0]))
    mask_i, mask_v = compute_repet_sim_masks(mag, sr=sr)
    ref_i, ref_v = recipe_masks(mag, sr)
    assert np.max(np.abs(mask_i - ref_i)) <= 1e-4
    assert np.max(np.abs(mask_v - ref_v)) <= 1e-4


def test_repet_masks_match_librosa_recipe_stereo_multitrack(multitrack):
    mix, _ = multitrack
    mag = np.abs(librosa.stft(mix))  # (2, freqs, frames): librosa's own multichannel semantics
    mask_i, mask_v = compute_repet_sim_masks(mag, sr=SR)
    ref_i, ref_v = recipe_masks(mag, SR)
    assert np.max(np.abs(mask_i - ref_i)) <= 1e-4
    assert np.max(np.abs(mask_v - ref_v)) <= 1e-4


def test_repet_window_on_long_input_is_the_recipe_on_the_excerpt_around_each_frame(song_mono):
    """Beyond the window, a frame gets what the recipe gives on the window-long excerpt around it."""
    y, sr = song_mono
    mag = np.abs(librosa.stft(y[0]))
    n_frames, window, width = mag.shape[1], 200, 20
    out = filter_repeating(mag, width=width, window_frames=window)
    for i in (0, 150, n_frames // 2, n_frames - 1):
        lo = int(np.clip(i - window // 2, 0, n_frames - window))
        excerpt = mag[:, lo:lo + window]
        plain = np.minimum(excerpt, librosa.decompose.nn_filter(excerpt, aggregate=np.median,
                                                                metric="cosine", width=width))
        assert np.max(np.abs(out[:, i] - plain[:, i - lo])) <= 1e-6


def test_repet_separator_stems_sum_to_the_mix_and_use_one_mask(multitrack):
    mix, _ = multitrack
    out = kit.separate(mix, SR, model="repet")
    assert sorted(out) == ["accompaniment", "vocals"]
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], mix, atol=1e-6)
    # the mono case is the recipe's foreground, resynthesised
    mono = mix.mean(axis=0, keepdims=True)
    vocals = kit.separate(mono, SR, model="repet")["vocals"]
    spec = librosa.stft(mono[0])
    _, mask_v = recipe_masks(np.abs(spec), SR)
    expected = librosa.istft(mask_v * spec, length=mono.shape[1])
    assert np.max(np.abs(vocals[0] - expected)) < 1e-5


def test_repet_refuses_a_clip_too_short_to_repeat(multitrack):
    mix, _ = multitrack
    with pytest.raises(AudioContentError, match="at least 4.25 s"):
        kit.separate(mix[:, : 3 * SR], SR, model="repet")
    with pytest.raises(OptionError, match="window_s"):
        RepetSimSeparator(window_s=3.0)


# --- through the front doors ----------------------------------------------------

@pytest.mark.parametrize("model", ["repet", "hpss", "center"])
def test_every_method_runs_through_kit_separate(model, multitrack):
    mix, _ = multitrack
    out = kit.separate(mix, SR, model=model)
    assert set(out) == set(kit.separators.registry.stems_for(model))
    for stem in out.values():
        assert stem.shape == mix.shape and stem.dtype == np.float32 and np.all(np.isfinite(stem))


def test_classical_models_are_listed_and_offline():
    from kit.separators.registry import offline_status

    for name in ("repet", "hpss", "center"):
        assert name in kit.list_models()
        assert offline_status(name)[0] is True


@pytest.mark.slow
def test_cli_separate_hpss_on_mono_and_stereo_and_center_on_mono(tmp_path, multitrack):
    mix, _ = multitrack
    kit.save(tmp_path / "stereo.wav", mix, SR)
    kit.save(tmp_path / "mono.wav", mix[:1], SR)
    for name, channels in (("stereo", 2), ("mono", 1)):
        out_dir = tmp_path / f"out_{name}"
        proc = subprocess.run([sys.executable, "-m", "kit", "separate", str(tmp_path / f"{name}.wav"),
                               "--model", "hpss", "--out", str(out_dir)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in out_dir.iterdir()) == ["harmonic.wav", "percussive.wav"]
        y, sr = kit.load(out_dir / "harmonic.wav")
        assert sr == SR and y.shape == (channels, mix.shape[1])
    proc = subprocess.run([sys.executable, "-m", "kit", "separate", str(tmp_path / "mono.wav"),
                           "--model", "center", "--out", str(tmp_path / "out_center")],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.startswith("kit: error:") and "stereo" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out_center").exists() or not any((tmp_path / "out_center").iterdir())


@pytest.mark.parametrize("length, axis", [(31, -1), (17, -2), (5, 0), (4, -1)])
def test_running_median_equals_scipy_median_filter(length, axis):
    from scipy.ndimage import median_filter

    from kit.separators.classical import median_along

    x = np.abs(np.random.default_rng(length).normal(size=(2, 40, 70))).astype(np.float32)
    size = [1, 1, 1]
    size[axis] = length
    np.testing.assert_array_equal(median_along(x, length, axis=axis), median_filter(x, size=size, mode="reflect"))


@pytest.mark.parametrize("margin", [1.0, (2.0, 3.0)])
def test_hpss_masks_equal_librosa(margin):
    import librosa

    from kit.separators.classical import hpss_masks

    y, sr = kit.examples.load_song(duration_s=3.0)
    mag = np.abs(librosa.stft(y, n_fft=2048))
    ours = hpss_masks(mag, kernel_size=(31, 21), margin=margin)
    theirs = librosa.decompose.hpss(mag, kernel_size=(31, 21), margin=margin, mask=True)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert 0.1 < ours[0].mean() < 0.9  # the song has both sustained tones and hits
