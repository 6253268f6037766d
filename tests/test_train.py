"""kit.train: a tiny U-Net trained for a fixed number of steps learns, saves and loads exactly."""

import numpy as np
import pytest
import torch

import kit
from kit.errors import InputFileError, ModelUnavailableError, OptionError
from kit.separators.tiny_unet import TinyUNet, TrainedUNet
from kit.train import FIRST_TRAINING_SEED, make_batch, make_training_song, make_validation_songs, train_unet

SMALL = dict(song_s=2.0, patch_s=0.5, n_validation=1, batch_size=4, width=8, depth=4, threads=1)


@pytest.fixture(scope="module")
def model():
    # 80 steps of a small net (about 7 s on one core): from -6.2 dB untrained to +1.4 dB (measured)
    return train_unet(steps=80, **SMALL)


def test_training_learns_a_clear_margin_over_the_untrained_net(model):
    h = model.history
    assert h["steps"] == 80 and h["val_step"][0] == 0 and h["val_step"][-1] == 80
    untrained = h["val_sdr_db"][0]
    # measured: +7.6 dB in 80 steps; a net that does not learn (learning rate 0, no optimiser step) gains nothing
    assert h["best_val_sdr_db"] > untrained + 4.0, h["val_sdr_db"]
    assert h["best_val_sdr_db"] == max(h["val_sdr_db"])


def test_learning_rate_zero_does_not_learn(model):
    h = train_unet(steps=10, learning_rate=0.0, **SMALL).history
    # the same seed starts from the same net: step 0 scores the same untrained weights
    assert h["val_sdr_db"][0] == pytest.approx(model.history["val_sdr_db"][0], abs=1e-6)
    assert max(h["val_sdr_db"][1:]) < h["val_sdr_db"][0] + 0.5, h["val_sdr_db"]


def test_training_records_history_and_restores_threads(model):
    before = torch.get_num_threads()
    h = model.history
    assert len(h["loss"]) == 16 and all(np.isfinite(h["loss"])) and h["step"][-1] == 80
    assert h["loss"][-1] < h["loss"][0]
    assert h["threads"] == 1 and h["songs"] >= 2 + 80 // 5
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
    with pytest.raises(OptionError, match="steps"):
        train_unet(steps=0)
    with pytest.raises(OptionError, match="steps"):
        train_unet(steps=2.5)
    with pytest.raises(OptionError, match="threads"):
        train_unet(minutes=0.01, threads=0)
    with pytest.raises(OptionError, match="clock"):
        train_unet(minutes=0.01, clock="moon")


def test_cpu_clock_counts_this_process_cpu_time(monkeypatch):
    # a CPU clock the test drives: 1 s per reading, so 30 s of "CPU time" pass within a few steps
    readings = []

    def cpu_clock():
        readings.append(None)
        return float(len(readings))

    monkeypatch.setattr(kit.train.time, "process_time", cpu_clock)
    model = train_unet(minutes=0.5, clock="cpu", song_s=1.0, patch_s=0.5, n_validation=1, batch_size=2,
                       width=4, depth=3, threads=1)
    h = model.history
    assert h["clock"] == "cpu" and readings
    # the budget ran out on the CPU clock (whole seconds), not on the wall clock
    assert h["train_s"] >= 30 and h["train_s"] == round(h["train_s"]) and 1 <= h["steps"] < 30
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


def test_the_same_seed_gives_the_same_curve_and_the_timing_for_an_estimate(model):
    # a fixed number of steps from a fixed seed: the class sees the same curve on every run
    a, b = (train_unet(steps=10, **SMALL).history for _ in range(2))
    assert a["loss"] == b["loss"] and a["val_sdr_db"] == b["val_sdr_db"]
    assert train_unet(steps=10, seed=1, **SMALL).history["loss"] != a["loss"]
    timing = model.history["timing"]
    assert set(timing) == {"setup_s", "step_s", "validation_s", "song_s"} and min(timing.values()) > 0
    seconds = kit.train.estimate_training_s(train_unet, steps=80, **SMALL)
    assert seconds > 80 * timing["step_s"] / 10  # the parts add up to more than a tenth of the steps alone
