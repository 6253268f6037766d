"""`kit separate` through the real command line: Demucs models, MP3 stems, a write that fails half-way.

The Demucs models are RANDOM-weight HTDemucs models (see model_fixtures.py), loaded
from a model folder with --model-dir, exactly as a downloaded model would be. The
file-writing tests use the fast `center` model.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
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


@pytest.fixture(scope="module")
def centred_song(tmp_path_factory):
    """The synthetic multitrack as a WAV, with its true stems."""
    mix, stems = kit.examples.make_multitrack(3.0, seed=2)
    return kit.save(tmp_path_factory.mktemp("centred") / "song.wav", mix, 44100), mix, stems


def _snr_db(estimate, reference):
    return 10 * np.log10(np.sum(reference**2) / np.sum((estimate - reference) ** 2))


def test_separate_writes_mp3_stems_for_real(centred_song, tmp_path):
    song, mix, _ = centred_song
    out = tmp_path / "stems"
    proc = run_kit("separate", song, "--model", "center", "--format", "mp3", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out / "vocals.mp3"), str(out / "accompaniment.mp3")]
    for path in proc.stdout.split():
        assert open(path, "rb").read(3) in (b"ID3", b"\xff\xfb")  # an MP3, not a WAV with another name
        y, sr = kit.load(path)
        assert sr == 44100 and y.shape == mix.shape  # the encoder's delay and padding are trimmed
    # the same stems as the library's, through a 320 kbit/s encoder (measured: 22 dB and more)
    expected = kit.separate(mix, 44100, model="center", cache=False)
    for name, stem in expected.items():
        assert _snr_db(kit.load(out / f"{name}.mp3")[0], stem) > 15, name
    assert sorted(p.name for p in out.iterdir()) == ["accompaniment.mp3", "vocals.mp3"]  # no temporary left


# An FFmpeg that fails its second MP3 encode, as a disk that fills up after the first stem would.
_FAILING_FFMPEG = """#!/bin/sh
case "$*" in *libmp3lame*)
  n=$(cat "{count}" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "{count}"
  if [ $n -ge 2 ]; then echo "{target}: No space left on device" >&2; exit 1; fi;;
esac
exec "{real}" "$@"
"""


@pytest.mark.parametrize("out_exists", [False, True], ids=["new-folder", "existing-folder"])
def test_a_failed_second_stem_leaves_nothing_behind(centred_song, tmp_path, out_exists):
    song, _, _ = centred_song
    tools = tmp_path / "tools"
    tools.mkdir()
    ffmpeg = tools / "ffmpeg"
    ffmpeg.write_text(_FAILING_FFMPEG.format(count=tools / "count", target="accompaniment.mp3",
                                             real=kit.ffmpeg.find_ffmpeg()))
    ffmpeg.chmod(0o755)
    work = tmp_path / "work"
    out = work / "stems"
    out.mkdir(parents=True) if out_exists else work.mkdir()
    (work / "keep.txt").write_text("mine")
    proc = run_kit("separate", song, "--model", "center", "--format", "mp3", "--out", out, "--no-cache",
                   cwd=work, env_extra={"KIT_FFMPEG": str(ffmpeg)})
    assert (tools / "count").read_text().strip() == "2"  # the first stem was written, the second failed
    assert proc.returncode != 0 and proc.stdout == ""
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("kit: error: ")]
    assert len(errors) == 1 and "No space left" in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    # the first stem is gone, and so is the folder the command made (a folder the user made stays, empty)
    assert sorted(p.name for p in work.rglob("*")) == (["keep.txt", "stems"] if out_exists else ["keep.txt"])
