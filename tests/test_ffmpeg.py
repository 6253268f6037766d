"""kit.ffmpeg: FFmpeg is found and never runs a shell; hostile names are just names."""

import os

import numpy as np
import pytest

import kit
from kit.errors import FFmpegError
from kit.ffmpeg import find_ffmpeg, run_ffmpeg

HOSTILE_NAMES = [
    "Prince Royce - Dec. 21 (Official Video) [A9B1Uo-VQas] 'x' $(touch pwned).mp3",
    'quote " and `touch pwned2` and ; rm -rf nothing.wav',
    "-y leading dash.flac",
    "concat:a.wav|b.wav.wav",
    "ünïcødé 歌 🎤.mp3",
    "semi;colon & amp | pipe > redirect.wav",
]


def test_ffmpeg_is_found_and_runs():
    assert os.access(find_ffmpeg(), os.X_OK)
    assert "ffmpeg" in kit.ffmpeg.ffmpeg_version().lower()


def test_run_ffmpeg_refuses_a_shell_string():
    with pytest.raises(TypeError):
        run_ffmpeg("-version")


def test_ffmpeg_failure_is_one_line(tmp_path):
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg(["-i", kit.ffmpeg.ffmpeg_input(tmp_path / "missing.wav"), "-f", "null", "-"], what="Test job")
    assert str(info.value).startswith("Test job failed:") and "\n" not in str(info.value)


def test_bad_kit_ffmpeg_override(monkeypatch):
    find_ffmpeg.cache_clear()
    monkeypatch.setenv("KIT_FFMPEG", "/no/such/ffmpeg")
    try:
        with pytest.raises(FFmpegError, match="KIT_FFMPEG"):
            find_ffmpeg()
    finally:
        monkeypatch.delenv("KIT_FFMPEG")
        find_ffmpeg.cache_clear()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_names_load_and_save_and_execute_nothing(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    y = (np.random.default_rng(0).standard_normal((2, 4410)) * 0.1).astype(np.float32)
    path = tmp_path / name
    kit.save(path, y, 44100)
    back, sr = kit.load(path)
    assert back.shape == y.shape and sr == 44100
    copy = tmp_path / ("copy of " + name)
    kit.save(copy, back, sr)
    assert copy.exists()
    for trap in ("pwned", "pwned2", "a.wav", "redirect.wav"):
        assert not (tmp_path / trap).exists()
        assert not (tmp_path.parent / trap).exists()
