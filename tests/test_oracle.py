"""Oracle separators: ideal masks recover the true stems; the mixture is the floor."""

import numpy as np
import pytest

import kit
from kit.errors import AudioContentError, OptionError
from kit.evaluate import compute_sdr
from kit.separators.oracle import MixtureSeparator, OracleMaskSeparator, make_oracle

SR = 22050


@pytest.fixture(scope="module")
def multitrack():
    return kit.examples.make_multitrack(5.0, sr=SR)


@pytest.fixture(scope="module")
def baseline(multitrack):
    mix, stems = multitrack
    est = make_oracle("mixture", stems).separate(mix, SR)
    return {k: compute_sdr(stems[k], est[k], sr=SR, window_s=1.0) for k in stems}


@pytest.mark.parametrize("kind", ["irm", "ibm", "wiener"])
def test_oracle_masks_recover_the_vocals_far_above_the_mixture(kind, multitrack, baseline):
    mix, stems = multitrack
    est = make_oracle(kind, stems).separate(mix, SR)
    assert list(est) == list(stems)
    sdr = compute_sdr(stems["vocals"], est["vocals"], sr=SR, window_s=1.0)
    assert sdr > baseline["vocals"] + 10.0, (kind, sdr, baseline["vocals"])
    assert sdr > 10.0


def test_ratio_oracle_estimates_sum_to_the_mix(multitrack):
    mix, stems = multitrack
    est = OracleMaskSeparator(stems, kind="irm").separate(mix, SR)
    assert np.max(np.abs(np.sum(list(est.values()), axis=0) - mix)) < 1e-4


def test_mixture_separator_returns_the_mix_for_every_stem(multitrack, baseline):
    mix, stems = multitrack
    est = MixtureSeparator(stems).separate(mix, SR)
    for k in stems:
        np.testing.assert_array_equal(est[k], mix)
    assert baseline["vocals"] < 0  # the voice is a minority of the mix


def test_oracles_check_their_inputs(multitrack):
    mix, stems = multitrack
    with pytest.raises(AudioContentError, match="shape"):
        make_oracle("irm", stems).separate(mix[:, :SR], SR)
    with pytest.raises(OptionError, match="Unknown oracle"):
        make_oracle("perfect", stems)
    with pytest.raises(OptionError, match="true stems"):
        make_oracle("irm", {})
    assert not any(name.startswith("oracle") for name in kit.list_models())
