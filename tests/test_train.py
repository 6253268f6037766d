"""kit.train: a tiny U-Net trained for a few seconds is an ordinary separator that saves and loads exactly."""

import numpy as np
import pytest
import torch

import kit
from kit.errors import InputFileError, ModelUnavailableError, OptionError
from kit.separators.tiny_unet import TinyUNet, TrainedUNet
from kit.train import FIRST_TRAINING_SEED, make_batch, make_training_song, make_validation_songs, train_unet


@pytest.fixture(scope="module")
def model():
    # a few seconds: far too short to separate well, long enough to take steps and validate
    return train_unet(minutes=0.05, song_s=1.0, patch_s=0.5, n_validation=1, batch_size=2, width=8, depth=4,
                      threads=1)


def test_training_takes_steps_records_history_and_restores_threads(model):
    before = torch.get_num_threads()
    h = model.history
    assert h["steps"] >= 1 and len(h["loss"]) >= 1 and all(np.isfinite(h["loss"]))
    assert len(h["val_sdr_db"]) >= 1 and h["best_val_sdr_db"] == max(h["val_sdr_db"])
    assert h["threads"] == 1 and h["songs"] >= 2
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("sr, channels", [(44100, 2), (22050, 1), (48000, 2)])
def test_stems_have_the_input_shape_and_sum_to_the_mixture(model, sr, channels):
    mix, _ = kit.examples.make_multitrack(2.0, sr=sr, seed=5)
    mix = mix[:channels]
    stems = model.separate(mix, sr)
    assert list(stems) == ["vocals", "accompaniment"]
    for s in stems.values():
        assert s.shape == mix.shape and s.dtype == np.float32
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], mix, atol=1e-5)
    # a mask in 0..1 takes part of the mix, not more than all of it
    assert 0 < np.sum(stems["vocals"] ** 2) < np.sum(mix.astype(np.float64) ** 2)


def test_save_load_round_trip_is_bit_exact_and_kit_separate_uses_the_file(model, tmp_path):
    path = model.save(tmp_path / "tiny.safetensors")
    loaded = TrainedUNet.load(path)
    a, b = model.net.state_dict(), loaded.net.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert loaded.history["steps"] == model.history["steps"]
    assert loaded.weights_id == model.weights_id
    mix, _ = kit.examples.make_multitrack(1.5, sr=22050, seed=6)
    direct = model.separate(mix, 22050)
    via_kit = kit.separate(mix, 22050, model="tiny-unet", weights=str(path), cache=False)
    for stem in direct:
        np.testing.assert_array_equal(direct[stem], via_kit[stem])
    assert not list(tmp_path.glob(".*tmp"))  # written atomically: no temporary left behind


def test_missing_or_foreign_weights_say_what_to_do(tmp_path):
    with pytest.raises(ModelUnavailableError, match="weights=PATH"):
        kit.get_separator("tiny-unet")
    with pytest.raises(InputFileError, match="No tiny-unet weights"):
        kit.get_separator("tiny-unet", weights=tmp_path / "nowhere.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a weights file")
    with pytest.raises(InputFileError, match="not tiny-unet weights"):
        TrainedUNet.load(bad)
    usable, detail = kit.separators.registry.offline_status("tiny-unet")
    assert not usable and "train_unet" in detail


def test_bad_options_are_refused():
    with pytest.raises(OptionError, match="minutes"):
        train_unet(minutes=0)
    with pytest.raises(OptionError, match="threads"):
        train_unet(minutes=0.01, threads=0)
    with pytest.raises(OptionError, match="clock"):
        train_unet(minutes=0.01, clock="moon")


def test_cpu_clock_counts_this_process_cpu_time():
    model = train_unet(minutes=0.01, clock="cpu", song_s=1.0, patch_s=0.5, n_validation=1, batch_size=2,
                       width=4, depth=3, threads=1)
    h = model.history
    assert h["clock"] == "cpu" and h["steps"] >= 1
    assert h["train_s"] <= h["wall_s"] + 0.5  # one thread: CPU time cannot outrun the clock by much
    with pytest.raises(OptionError, match="n_fft_44k"):
        TinyUNet(depth=5, n_fft_44k=1000)


def test_validation_seeds_are_never_training_seeds():
    rng = np.random.default_rng(0)
    train_seeds = {make_training_song(rng, duration_s=0.5)["seed"] for _ in range(3)}
    assert min(train_seeds) >= FIRST_TRAINING_SEED
    val = make_validation_songs(2, duration_s=0.5)
    assert [s["seed"] for s in val] == [0, 1]
    np.testing.assert_allclose(val[0]["mix"], np.sum(list(val[0]["stems"].values()), axis=0), atol=1e-6)
    with pytest.raises(OptionError, match="below"):
        make_validation_songs(2, first_seed=FIRST_TRAINING_SEED - 1)


def test_augmented_batches_keep_vocals_inside_the_mix():
    rng = np.random.default_rng(1)
    pool = [make_training_song(rng, duration_s=1.0) for _ in range(2)]
    mix, vocals = make_batch(pool, rng, batch_size=6, n_samples=4096)
    assert mix.shape == vocals.shape == (6, 2, 4096)
    assert np.max(np.abs(mix)) <= 1.0
    # the vocals are in the mix they come with (same gain, same pan): the two correlate
    voiced = np.sum(vocals**2, axis=(1, 2)) > 0
    assert voiced.any()
    assert np.all(np.sum(mix * vocals, axis=(1, 2))[voiced] > 0)
    assert len({round(float(np.max(np.abs(m))), 4) for m in mix}) > 1  # levels differ between examples
