"""The command line: clear one-line errors, non-zero exit, nothing left behind."""

import subprocess
import sys

import numpy as np
import pytest
from test_audio import make_bad_inputs

import kit


def run_kit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_clean_failure(proc, fragment):
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("kit: error:")]
    assert len(errors) == 1, proc.stderr
    assert fragment in errors[0]
    assert "Traceback" not in proc.stderr


def test_help_lists_the_commands():
    proc = run_kit("--help")
    assert proc.returncode == 0
    for command in ("separate", "doctor"):
        assert command in proc.stdout


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("badcli"))


@pytest.mark.parametrize("case", ["missing", "empty", "not audio", "truncated wav", "truncated mp3",
                                  "corrupt flac", "zero samples", "nan", "folder"])
def test_separate_bad_input_fails_cleanly_and_writes_nothing(bad_inputs, tmp_path, case):
    path, fragment = bad_inputs[case]
    out = tmp_path / "stems"
    proc = run_kit("separate", path, "--model", "hpss", "--out", out, cwd=tmp_path)
    assert_clean_failure(proc, fragment)
    assert not out.exists() or not any(out.iterdir())
    assert proc.stdout == ""


def test_unsupported_options_are_refused(tmp_path):
    song = tmp_path / "song.wav"
    kit.save(song, np.zeros((2, 44100), np.float32) + 0.01, 44100)
    proc = run_kit("separate", song, "--format", "ogg")
    assert proc.returncode == 2 and "invalid choice: 'ogg'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_kit("separate", song, "--device", "tpu")
    assert proc.returncode == 2 and "invalid choice: 'tpu'" in proc.stderr
    proc = run_kit("separate", song, "--model", "nosuchmodel", "--out", tmp_path / "o")
    assert_clean_failure(proc, "Unknown model 'nosuchmodel'")
    assert not (tmp_path / "o").exists()


def test_doctor_reports_device_ffmpeg_and_models():
    proc = run_kit("doctor")
    assert proc.returncode == 0, proc.stderr
    for key in ("python:", "torch:", "device:", "ffmpeg:", "unet"):
        assert key in proc.stdout
    assert f"device: {kit.pick_device('auto')}" in proc.stdout  # the CPU here; cuda or mps on a GPU machine
    proc = run_kit("doctor", "--json")
    import json

    report = json.loads(proc.stdout)
    assert set(report["models"]) >= {"unet", "htdemucs", "repet", "hpss", "center"}


@pytest.mark.parametrize("model", ["unet", "repet"])
def test_too_short_for_the_method_is_a_clean_failure(tmp_path, model):
    clip = tmp_path / "blip.wav"
    kit.save(clip, np.full((2, 441), 0.1, np.float32), 44100)  # 10 ms
    out = tmp_path / "stems"
    proc = run_kit("separate", clip, "--model", model, "--out", out)
    assert_clean_failure(proc, "needs at least")
    assert not out.exists() or not any(out.iterdir())


def test_center_on_mono_says_why_and_what_to_use(tmp_path):
    clip = tmp_path / "mono.wav"
    kit.save(clip, np.random.default_rng(0).standard_normal((1, 44100)).astype(np.float32) * 0.1, 44100)
    proc = run_kit("separate", clip, "--model", "center", "--out", tmp_path / "o")
    assert_clean_failure(proc, "unet")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
