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


def _commands_on_disk() -> dict[str, str]:
    """Every command a module in kit/commands/ registers, with its help line (found without kit.cli)."""
    import argparse
    import importlib
    from pathlib import Path

    sub = argparse.ArgumentParser().add_subparsers()
    for path in sorted(Path(kit.__file__).parent.joinpath("commands").glob("*.py")):
        if not path.name.startswith("_"):
            importlib.import_module(f"kit.commands.{path.stem}").register(sub)
    return {action.dest: action.help for action in sub._choices_actions}


def test_help_lists_every_command_and_each_has_its_own_help():
    commands = _commands_on_disk()
    assert len(commands) >= 11 and {"separate", "backing", "automix", "train", "app"} <= set(commands)
    proc = run_kit("--help")
    assert proc.returncode == 0
    listed = " ".join(proc.stdout.split())  # argparse wraps long help lines
    for name, help_text in commands.items():
        assert f"{name} {' '.join(help_text.split())}" in listed, name
    for name in commands:
        sub = run_kit(name, "--help")
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: kit {name}"), (name, sub.stderr)


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
