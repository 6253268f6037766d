"""Masks: the numbers they must give on inputs where the answer is known."""

import librosa
import numpy as np
import pytest

import kit
from kit.errors import OptionError
from kit.masks import (
    apply_mask,
    compute_binary_mask,
    compute_masks,
    compute_ratio_mask,
    compute_soft_mask,
    compute_wiener_mask,
)
from kit.spectral import compute_istft, compute_stft

RNG = np.random.default_rng(0)


def test_binary_mask_keeps_the_louder_source_with_a_threshold():
    t = np.array([2.0, 1.0, 1.5, 0.0])
    i = np.array([1.0, 2.0, 1.0, 0.0])
    assert compute_binary_mask(t, i).tolist() == [1, 0, 1, 0]
    # 1.5 vs 1.0 is +3.5 dB: kept at a 3 dB threshold, dropped at 6 dB
    assert compute_binary_mask(t, i, threshold_db=3.0).tolist() == [1, 0, 1, 0]
    assert compute_binary_mask(t, i, threshold_db=6.0).tolist() == [1, 0, 0, 0]


def test_ratio_mask_values_and_complement():
    t, i = RNG.random((2, 3, 5)), RNG.random((2, 3, 5))
    m = compute_ratio_mask(t, i)
    np.testing.assert_allclose(m, t / (t + i), rtol=1e-6)
    np.testing.assert_allclose(m + compute_ratio_mask(i, t), 1.0, atol=1e-6)
    np.testing.assert_allclose(compute_wiener_mask(t, i), t**2 / (t**2 + i**2), rtol=1e-5)
    assert compute_ratio_mask(np.zeros(2), np.zeros(2)).tolist() == [0.5, 0.5]  # silent: split


def test_masks_of_several_sources_sum_to_one():
    mags = {k: RNG.random((1, 4, 6)) for k in "abc"}
    mags["c"][0, 0, 0] = mags["a"][0, 0, 0] = mags["b"][0, 0, 0] = 0.0
    for kind in ("ratio", "binary"):
        masks = compute_masks(mags, kind=kind)
        np.testing.assert_allclose(sum(masks.values()), 1.0, atol=1e-6)
    assert compute_masks(mags)["a"][0, 0, 0] == pytest.approx(1 / 3)
    binary = compute_masks(mags, kind="binary")
    loudest = np.argmax(np.stack(list(mags.values())), axis=0)
    np.testing.assert_array_equal(binary["b"], (loudest == 1).astype(np.float32))


def test_soft_mask_is_librosa_softmask_with_margin():
    x, ref = RNG.random((3, 7)), RNG.random((3, 7))
    np.testing.assert_allclose(
        compute_soft_mask(x, ref, margin=3.0, power=2.0), librosa.util.softmask(x, 3.0 * ref, power=2.0), rtol=1e-6
    )
    # with margin m, equal magnitudes give 1 / (1 + m^p)
    assert compute_soft_mask(np.ones(1), np.ones(1), margin=2.0, power=2)[0] == pytest.approx(0.2)
    with pytest.raises(OptionError, match="power"):
        compute_soft_mask(x, ref, power=0)


def test_apply_mask_broadcasts_one_mask_over_channels_and_checks_shapes():
    spec = (RNG.standard_normal((2, 5, 4)) + 1j * RNG.standard_normal((2, 5, 4))).astype(np.complex64)
    mask = RNG.random((5, 4))
    out = apply_mask(spec, mask)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out[1], spec[1] * mask, rtol=1e-6)
    with pytest.raises(OptionError, match="Mask shape"):
        apply_mask(spec, np.ones((4, 5)))
    with pytest.raises(OptionError, match="negative"):
        compute_ratio_mask(-np.ones(2), np.ones(2))


def test_ratio_masks_of_true_stems_split_the_mix_exactly():
    mix, stems = kit.examples.make_multitrack(3.0, sr=22050)
    spec = compute_stft(mix)
    masks = compute_masks({k: np.abs(compute_stft(s)) for k, s in stems.items()})
    parts = [compute_istft(apply_mask(spec, m), length=mix.shape[1]) for m in masks.values()]
    assert np.max(np.abs(np.sum(parts, axis=0) - mix)) < 1e-4
