"""A long song gets every option a short one gets: key change, loudness target and the vocal split, streamed.

Songs are made "long" for the test by lowering ``KIT_STREAM_MINUTES`` and the
block length (``KIT_BLOCK_S``), so a 40 s song goes through the same block path
as a 6-hour one, in 12 s blocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import ok, run_kit

import kit
import kit.errors
from kit.evaluate import compute_sdr
from kit.loudness import measure_loudness, measure_true_peak
from kit.pitch import shift_pitch_in_blocks
from kit.spectral import compute_stft
from kit.stream_map import map_with_context
from kit.vocal_split import split_vocals

SR = 44100
BLOCKS = {"KIT_STREAM_MINUTES": "0.1", "KIT_BLOCK_S": "12"}
WHOLE = {"KIT_STREAM_MINUTES": "100"}


def _pieces(y: np.ndarray, seconds: float, name: str = "y"):
    step = round(seconds * SR)
    return ({name: y[:, i:i + step]} for i in range(0, y.shape[1], step))


def _join(pieces, name: str) -> np.ndarray:
    return np.concatenate([p[name] for p in pieces], axis=1)


def _frame_rms_db(y: np.ndarray, frame: int) -> np.ndarray:
    n = y.shape[1] // frame
    return 10 * np.log10(np.mean(y[:, :n * frame].reshape(y.shape[0], n, frame) ** 2, axis=(0, 2)) + 1e-20)


def test_context_blocks_give_a_context_dependent_step_its_whole_song_result():
    """A step that looks 0.1 s around each sample (a moving average) is exact when blocks carry context."""
    y = np.random.default_rng(1).standard_normal((2, SR * 30)).astype(np.float32)
    kernel = np.ones(SR // 10, np.float32) / (SR // 10)

    def smooth(d):
        return {"y": np.stack([np.convolve(ch, kernel, mode="same") for ch in d["y"]])}

    whole = smooth({"y": y})["y"]
    joined = _join(map_with_context(_pieces(y, 7.0), smooth, sr=SR), "y")
    assert joined.shape == y.shape
    inner = slice(SR, y.shape[1] - SR)  # the song's own edges are the same in both; the joins are inside
    assert np.max(np.abs(joined[:, inner] - whole[:, inner])) < 1e-5
    # without context the joins would be wrong: the test can tell
    bare = _join(map_with_context(_pieces(y, 7.0), smooth, sr=SR, context_s=0.0), "y")
    assert np.max(np.abs(bare[:, inner] - whole[:, inner])) > 1e-3


def test_a_key_change_in_blocks_keeps_pitch_level_and_timing_across_the_joins():
    t = np.arange(SR * 36) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    clicks = np.zeros_like(tone)
    onsets = np.arange(0.5, 35.5, 0.5)
    for o in onsets:  # short noise bursts: where the beats are
        a = round(o * SR)
        clicks[a:a + 300] = np.random.default_rng(round(o * 10)).standard_normal(300) * 0.5
    y = np.stack([tone + clicks, tone - clicks]).astype(np.float32)  # a tone in the centre, beats in the sides
    step = 12 * SR
    shifted = np.concatenate(list(shift_pitch_in_blocks((y[:, i:i + step] for i in range(0, y.shape[1], step)),
                                                        SR, semitones=-2)), axis=1)
    assert shifted.shape == y.shape
    # the tone is a whole tone lower everywhere, the joins at 12 s and 24 s included
    want = 440.0 * 2 ** (-2 / 12)
    for start_s in (1.0, 11.5, 23.5, 30.0):
        seg = (shifted[0] + shifted[1])[round(start_s * SR):round((start_s + 1.0) * SR)]
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n=SR * 4))
        assert abs(np.argmax(spectrum) / 4 - want) < 1.0, start_s
    # no dip or bump in level at the joins (50 ms frames, within 1 dB of the median)
    level = _frame_rms_db((shifted[:1] + shifted[1:]) / 2, SR // 20)[20:-20]  # the tone, away from the ends
    assert np.max(np.abs(level - np.median(level))) < 1.0
    # the beats stay where they were (within 6 ms: joins are lined up by up to 5 ms), after the joins too
    energy = ((shifted[0] - shifted[1]) / 2) ** 2
    for o in onsets[2:-2]:
        a, b = round((o - 0.1) * SR), round((o + 0.25) * SR)
        centre = np.sum(energy[a:b] * np.arange(a, b)) / np.sum(energy[a:b]) / SR
        assert abs(centre - (o + 150 / SR)) < 0.006, o


def test_the_vocal_split_in_blocks_scores_as_the_whole_song_and_keeps_the_sum():
    mix, stems = kit.examples.make_harmony_song(36.0, harmony="wide")
    vocals = stems["lead_vocals"] + stems["backing_vocals"]
    whole = split_vocals(vocals, SR, method="pan")
    blocks = list(map_with_context(_pieces(vocals, 12.0, "vocals"),
                                   lambda d: split_vocals(d["vocals"], SR, method="pan"), sr=SR))
    lead, backing = _join(blocks, "lead_vocals"), _join(blocks, "backing_vocals")
    assert lead.shape == vocals.shape
    assert np.max(np.abs(lead + backing - vocals)) < 1e-5  # the parts still add up to the input
    for name, part in (("lead_vocals", lead), ("backing_vocals", backing)):
        sdr_blocks = compute_sdr(stems[name], part, sr=SR)
        sdr_whole = compute_sdr(stems[name], whole[name], sr=SR)
        assert sdr_blocks > sdr_whole - 0.3, (name, sdr_blocks, sdr_whole)


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    y, sr = kit.examples.load_song()
    path = tmp_path_factory.mktemp("song") / "song44.wav"
    kit.save(path, np.tile(y, 4), sr)
    return path


def test_backing_of_a_long_song_takes_a_key_change_and_a_loudness_target(long_song, tmp_path):
    args = ["backing", long_song, "--model", "center", "--no-cache", "--drop", "vocals", "--semitones", "-2",
            "--lufs", "-16", "--limit"]
    streamed = ok(run_kit(*args, "-o", "b.wav", cwd=tmp_path, env_extra=BLOCKS))
    whole = ok(run_kit(*args, "-o", "w.wav", cwd=tmp_path, env_extra=WHOLE))
    a, sr = kit.load(tmp_path / streamed)
    b, _ = kit.load(tmp_path / whole)
    assert a.shape == b.shape
    assert abs(measure_loudness(a, sr) - measure_loudness(b, sr)) < 0.2  # FFmpeg's meter reports 0.1 LU
    assert abs(measure_loudness(a, sr) + 16) < 0.5  # the limiter may take a little off
    assert measure_true_peak(a, sr) <= -0.8  # the ceiling of -1 dBTP, within the meter's oversampling
    # the same key and balance: magnitude spectrograms within -12 dB of each other
    spec_a = np.abs(compute_stft(a[:1], n_fft=4096, hop_length=1024))
    spec_b = np.abs(compute_stft(b[:1], n_fft=4096, hop_length=1024))
    assert 20 * np.log10(np.linalg.norm(spec_a - spec_b) / np.linalg.norm(spec_b)) < -12
    assert not list(tmp_path.glob(".kit-*"))  # the measuring pass's temporary file is gone


def test_separate_split_vocals_of_a_long_song(tmp_path):
    mix, stems = kit.examples.make_harmony_song(40.0, harmony="wide")
    song = tmp_path / "harmony.wav"
    kit.save(song, mix, SR)
    proc = run_kit("separate", song, "--model", "center", "--no-cache", "--split-vocals", "-o", "split",
                   cwd=tmp_path, env_extra=BLOCKS)
    ok(proc)
    assert "in blocks, so memory stays flat" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == [
        "accompaniment.wav", "backing_vocals.wav", "lead_vocals.wav"]
    ok(run_kit("separate", song, "--model", "center", "--no-cache", "-o", "plain", cwd=tmp_path,
               env_extra=BLOCKS))
    lead, _ = kit.load(tmp_path / "split" / "lead_vocals.wav")
    backing, _ = kit.load(tmp_path / "split" / "backing_vocals.wav")
    vocals, _ = kit.load(tmp_path / "plain" / "vocals.wav")
    assert lead.shape == vocals.shape and np.max(np.abs(lead + backing - vocals)) < 1e-4
    assert np.mean(backing ** 2) > 0.01 * np.mean(vocals ** 2)  # the harmonies went somewhere


def test_lufs_on_a_silent_long_song_is_one_line_and_leaves_nothing(tmp_path):
    song = tmp_path / "silence.wav"
    kit.save(song, np.zeros((2, SR * 20), np.float32), SR)
    proc = run_kit("backing", song, "--model", "unet", "--no-cache", "--drop", "vocals", "--lufs", "-14",
                   "-o", "out.wav", cwd=tmp_path, env_extra=BLOCKS)
    # found only once the track is made: the last line, after the progress lines, and no traceback
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("kit: error: ") and "silent" in line and "--lufs" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silence.wav"]


def test_batch_makes_a_long_songs_backing_in_another_key_at_a_loudness(long_song, tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "long.wav").write_bytes(long_song.read_bytes())
    env = {**BLOCKS, "KIT_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_kit("batch", folder, "--model", "center", "--out", tmp_path / "out",
                   "--backing", "--drop vocals --semitones -1 --lufs -18", cwd=tmp_path, env_extra=env)
    assert proc.returncode == 0, proc.stderr
    backing_files = [p for p in (tmp_path / "out" / "long").iterdir() if p.name.startswith("no vocals")]
    assert len(backing_files) == 1, list((tmp_path / "out" / "long").iterdir())
    backing, sr = kit.load(backing_files[0])
    y, _ = kit.load(long_song)
    assert backing.shape == y.shape
    assert abs(measure_loudness(backing, sr) + 18) < 0.2


def test_kit_separate_on_a_long_file_says_to_use_separate_blocks(tmp_path, monkeypatch):
    song = tmp_path / "half_minute.wav"
    kit.save(song, np.tile(kit.examples.load_song()[0], 3)[:, :SR * 30], SR)
    monkeypatch.setenv("KIT_STREAM_MINUTES", "0.25")
    with pytest.warns(kit.errors.KitWarning, match=r"kit.separate_blocks\(path\)"):
        stems = kit.separate(song, model="center", cache=False)
    assert stems["vocals"].shape == (2, SR * 30)  # it still works, in memory


def test_demucs_in_blocks_differs_from_the_whole_song_less_than_its_own_segment_grid_does(demucs_model_dir):
    """Demucs's stems depend a little on where its segments fall; blocks with context must add no more than that.

    Measured once on 40 s (random weights, the test's small architecture): blocks vs whole song
    -13 to -19 dB (energy of the difference, per stem), the segment grid moved by half a segment
    -8 to -12 dB.
    """
    y, sr = kit.examples.load_song()
    y = np.tile(y, 3)[:, :sr * 30]
    opts = {"model": "htdemucs", "model_dir": demucs_model_dir, "device": "cpu", "shifts": 0}
    whole = kit.separate(y, sr, cache=False, **opts)["vocals"]
    joined = np.concatenate([s["vocals"] for _, s in kit.separate_blocks(y, sr, block_s=10, **opts)], axis=1)
    off = round(3.9 * sr)  # half an htdemucs segment: the same music, other segment boundaries
    moved = kit.separate(y[:, off:], sr, cache=False, **opts)["vocals"]
    assert joined.shape == whole.shape
    inner = slice(off + sr, y.shape[1] - sr)

    def diff_db(a, b):
        return 10 * np.log10(np.sum((a - b) ** 2) / np.sum(b ** 2))

    blocks_db = diff_db(joined[:, inner], whole[:, inner])
    grid_db = diff_db(moved[:, inner.start - off:inner.stop - off], whole[:, inner])
    assert blocks_db < grid_db, (blocks_db, grid_db)
