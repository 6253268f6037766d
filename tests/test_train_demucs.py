"""kit.train_demucs: a small real HT Demucs trained for a fixed number of steps learns, repeats itself
for a seed, and separates like any kit separator; kit.train.estimate_training_s says the time first."""

import numpy as np
import pytest
import torch
from demucs.htdemucs import HTDemucs

import kit
from kit.errors import OptionError
from kit.separators.api import separate_with
from kit.train_demucs import STEMS, TrainedDemucs, make_small_htdemucs, train_demucs

SMALL = dict(song_s=2.0, patch_s=0.5, n_validation=1, batch_size=2, threads=1)


@pytest.fixture(scope="module")
def model():
    # 30 steps of half-second examples: about 10 s on one core
    return train_demucs(steps=30, **SMALL)


def test_it_is_the_real_htdemucs_made_small(model):
    assert isinstance(model.net, HTDemucs) and model.net.sources == list(STEMS)
    assert 100_000 < model.n_parameters() < 1_000_000  # htdemucs has 42 M
    assert isinstance(model, TrainedDemucs) and model.stems == STEMS


def test_the_loss_goes_down_and_the_history_is_complete(model):
    h = model.history
    assert h["steps"] == 30 and h["step"][-1] == 30 and len(h["loss"]) == 6
    # with no optimiser step (tried) the loss ends higher than it starts: 0.48 -> 0.50
    assert np.mean(h["loss"][-2:]) < h["loss"][0] - 0.03, h["loss"]
    assert h["val_step"] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert h["best_val_sdr_db"] == max(h["val_sdr_db"])
    assert set(h["timing"]) == {"setup_s", "step_s", "validation_s", "song_s"}
    assert all(v > 0 for v in h["timing"].values())


def test_the_same_seed_gives_the_same_curve_and_weights(model):
    again = train_demucs(steps=30, **SMALL)
    assert again.history["loss"] == model.history["loss"]
    assert again.history["val_sdr_db"] == model.history["val_sdr_db"]
    assert again.weights_id == model.weights_id
    other = train_demucs(steps=5, seed=1, **SMALL)
    assert other.history["loss"][0] != model.history["loss"][0]


@pytest.mark.parametrize("sr, channels", [(44100, 2), (22050, 1), (48000, 2)])
def test_stems_have_the_input_shape(model, sr, channels):
    mix, _ = kit.examples.make_multitrack(1.3, sr=sr, seed=5)
    mix = mix[:channels]
    stems = model.separate(mix, sr)
    assert list(stems) == ["vocals", "accompaniment"]
    for s in stems.values():
        assert s.shape == mix.shape and s.dtype == np.float32 and np.all(np.isfinite(s))
    assert np.sum(stems["vocals"] ** 2) > 0


def test_kit_runs_it_with_the_stem_cache(model, tmp_path):
    mix, _ = kit.examples.make_multitrack(1.0, sr=44100, seed=6)
    first = separate_with(model, mix, 44100, cache_dir=tmp_path)
    assert list(tmp_path.rglob("*")), "nothing was cached"
    again = separate_with(model, mix, 44100, cache_dir=tmp_path)
    for stem in first:
        np.testing.assert_array_equal(first[stem], again[stem])


def test_estimate_scales_the_measured_parts(monkeypatch):
    seen = {}

    class Fake:
        history = {"timing": {"setup_s": 3.0, "step_s": 0.5, "validation_s": 2.0, "song_s": 0.1}}

    def fake_train(**options):
        seen.update(options)
        return Fake()

    seconds = kit.train.estimate_training_s(fake_train, steps=300, width=8)
    assert seen == {"steps": 3, "width": 8}
    assert seconds == pytest.approx(3.0 + 300 * 0.5 + 11 * 2.0 + 62 * 0.1)
    with pytest.raises(OptionError, match="steps"):
        kit.train.estimate_training_s(fake_train, steps=0)


def test_bad_options_are_refused():
    with pytest.raises(OptionError, match="steps"):
        train_demucs(steps=0)
    with pytest.raises(OptionError, match="steps"):
        train_demucs(steps=2.5)
    with pytest.raises(OptionError, match="multiple of 4"):
        make_small_htdemucs(channels=6)
    with pytest.raises(OptionError, match="patch_s"):
        train_demucs(steps=1, patch_s=3.0, song_s=2.0)
    assert torch.get_num_threads() >= 1
