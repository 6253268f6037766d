"""`kit separate` with Demucs models, through the real command line.

The models are RANDOM-weight HTDemucs models (see model_fixtures.py), loaded
from a model folder with --model-dir, exactly as a downloaded model would be.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile as sf
from model_fixtures import STEMS_4, STEMS_6

import kit


def run_kit(*args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "kit", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


@pytest.fixture(scope="module")
def song_file(tmp_path_factory):
    """2 s of the real song clip, as MP3 (the format whose decoder delay matters)."""
    y, sr = kit.examples.load_song(duration_s=2.0)
    return kit.save(tmp_path_factory.mktemp("song") / "clip.mp3", y, sr)


@pytest.fixture
def offline_env(tmp_path, monkeypatch):
    """No model folder, empty caches, offline mode: what a laptop without weights sees."""
    monkeypatch.delenv("KIT_MODEL_DIR", raising=False)
    return {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch")}


def test_separate_htdemucs_from_model_folder_writes_four_flac_stems(song_file, demucs_model_dir, tmp_path):
    out = tmp_path / "stems"
    proc = run_kit("separate", song_file, "--model", "htdemucs", "--model-dir", demucs_model_dir,
                   "--device", "cpu", "--format", "flac", "--out", out, env_extra={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split()
    assert printed == [str(out / f"{s}.flac") for s in STEMS_4]
    n_in = kit.load(song_file)[0].shape[1]
    for path in printed:
        info = sf.info(path)
        assert info.frames == n_in and info.channels == 2 and info.samplerate == 44100
    assert "Traceback" not in proc.stderr


def test_separate_six_stems_from_environment_model_folder(song_file, demucs_model_dir, tmp_path):
    out = tmp_path / "six"
    proc = run_kit("separate", song_file, "--model", "htdemucs_6s", "--device", "cpu", "--out", out,
                   env_extra={"KIT_MODEL_DIR": str(demucs_model_dir), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.stem for p in out.iterdir()) == sorted(STEMS_6)


def test_missing_model_prints_one_line_exits_nonzero_writes_nothing(song_file, tmp_path, offline_env):
    out = tmp_path / "never"
    proc = run_kit("separate", song_file, "--model", "htdemucs_ft", "--out", out, env_extra=offline_env,
                   cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("kit: error:") and "kit models download htdemucs_ft" in lines[0]
    assert "--model unet" in lines[0]
    assert proc.stdout == ""
    assert not out.exists() and not (tmp_path / "separated").exists()


def test_too_long_segment_through_the_python_api(song_file, demucs_model_dir):
    # --segment is not a CLI option of `kit separate`; the Python API refuses it instead
    with pytest.raises(kit.errors.OptionError, match="segment=8 s"):
        kit.separate(song_file, model="htdemucs", model_dir=demucs_model_dir, segment=8)
