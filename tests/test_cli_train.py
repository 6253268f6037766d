"""`kit train` and `--weights`: train the lesson's tiny U-Net on the command line, then separate with it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from cli_helpers import ok, one_line_error, run_kit

import kit
from kit.separators.tiny_unet import TrainedUNet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Weights from a short `kit train` run (30 steps, about 13 s of CPU), and what the command printed."""
    folder = tmp_path_factory.mktemp("train")
    proc = run_kit("train", "--steps", "30", "--seed", "3", "--out", folder, cwd=folder)
    return ok(proc), proc


def test_train_saves_weights_that_learnt_and_says_how_well_they_did(trained):
    path, proc = trained
    assert path.name == "tiny-unet.safetensors" and path.stat().st_size > 100_000
    h = TrainedUNet.load(path).history
    assert h["steps"] == 30 and h["seed"] == 3
    # measured: -5.8 dB untrained, -0.2 dB after 30 steps; learning rate 0 would stay at -5.8
    assert h["best_val_sdr_db"] > h["val_sdr_db"][0] + 3.0, h["val_sdr_db"]
    said = re.search(r"30 steps on \d+ songs; vocals SDR on unseen songs (-?[\d.]+) dB \(untrained: (-?[\d.]+) dB",
                     proc.stderr)
    assert said, proc.stderr
    assert float(said[1]) == round(h["best_val_sdr_db"], 2) and float(said[2]) == round(h["val_sdr_db"][0], 2)
    assert f"--model tiny-unet --weights {path}" in proc.stderr


def test_separate_with_trained_weights_writes_two_stems_that_add_up(trained, tmp_path):
    weights, _ = trained
    song = tmp_path / "song.wav"
    mix, _ = kit.examples.make_multitrack(4.0, seed=7)
    kit.save(song, mix, 44100)
    proc = run_kit("separate", song, "--model", "tiny-unet", "--weights", weights, "--out", tmp_path / "stems",
                   cwd=tmp_path)
    ok(proc)
    stems = {name: kit.load(tmp_path / "stems" / f"{name}.wav")[0] for name in ("vocals", "accompaniment")}
    assert np.max(np.abs(stems["vocals"] + stems["accompaniment"] - mix)) < 1e-4
    assert 0.01 < np.std(stems["vocals"]) / np.std(mix) < 0.99  # it separated something, not all or nothing


@pytest.mark.parametrize("args, words", [
    (["train", "--minutes", "0"], "--minutes 0 must be a positive number"),
    (["train", "--minutes", "lots"], "--minutes lots must be a positive number"),
    (["train", "--seed", "1.5"], "--seed 1.5 is not a whole number"),
    (["train", "--steps", "0"], "--steps 0 trains nothing"),
    (["train", "--steps", "ten"], "--steps ten is not a whole number"),
    (["train", "--out", "weights.pt"], "should end in .safetensors"),
    (["train", "--out", "no/such/folder/w.safetensors"], "does not exist"),
])
def test_bad_train_options_fail_at_once_in_one_line_and_write_nothing(args, words, tmp_path):
    proc = run_kit(*args, cwd=tmp_path)
    assert words in one_line_error(proc)
    assert list(tmp_path.iterdir()) == []


def test_weights_with_another_model_is_refused_in_one_line(tmp_path):
    song = tmp_path / "song.wav"
    kit.save(song, kit.examples.make_multitrack(2.0, seed=1)[0], 44100)
    proc = run_kit("separate", song, "--model", "unet", "--weights", "w.safetensors", cwd=tmp_path)
    assert "--weights is for models you trained (--model tiny-unet)" in one_line_error(proc)


def test_missing_weights_file_is_named_in_one_line(tmp_path):
    song = tmp_path / "song.wav"
    kit.save(song, kit.examples.make_multitrack(2.0, seed=1)[0], 44100)
    proc = run_kit("backing", song, "--model", "tiny-unet", "--weights", "nowhere.safetensors", "--drop", "vocals",
                   cwd=tmp_path)
    assert "nowhere.safetensors" in one_line_error(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]
