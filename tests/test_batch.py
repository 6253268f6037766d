"""`kit batch`: many songs on this machine, through the command line and the Python API.

Real audio: two songs (the bundled clip's first seconds and a synthetic song), with
a text file named .mp3, an empty file, a truncated MP3 and a song with a hostile name
among them. The Ray cluster path is tested for real in test_batch_ray.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cli_helpers import ok, one_line_error, run_kit

import kit


@pytest.fixture(scope="module")
def song_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    y, sr = kit.examples.load_song(duration_s=3.0)
    kit.save(folder / "clip.wav", y, sr)
    mix, _ = kit.examples.make_multitrack(3.0, stems=("vocals", "drums", "bass", "other"))
    sub = folder / "more"
    sub.mkdir()
    kit.save(sub / "it's a \"test\"; rm -rf $HOME.flac", mix, 44100)
    (folder / "notes.mp3").write_text("these are not sounds")
    (folder / "empty.wav").write_bytes(b"")
    data = kit.examples.song_path().read_bytes()
    (folder / "cut.mp3").write_bytes(data[: len(data) // 8])
    (folder / ".hidden.wav").write_bytes(b"skipped: hidden")
    return folder


GOOD = ("clip", "it's a \"test\"; rm -rf $HOME")
BAD = ("cut.mp3", "empty.wav", "notes.mp3")


def _stems(folder):
    return {p.stem: kit.load(p)[0] for p in sorted(folder.glob("*.wav"))}


def test_batch_separates_good_songs_lists_bad_ones_and_resumes(song_folder, tmp_path):
    out = tmp_path / "out"
    env = {"KIT_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_kit("batch", song_folder, "--model", "unet", "--out", out, "--backing", "--drop vocals",
                   cwd=tmp_path, env_extra=env)
    assert proc.returncode == 1, proc.stderr  # some songs failed
    assert "Traceback" not in proc.stderr
    assert "kit: 2 songs done, 3 failed" in proc.stderr
    report = json.loads((out / "batch_report.json").read_text())
    assert report["done"] == 2 and report["failed"] == 3 and report["separated"] == 2
    reasons = {entry["song"].split("/")[-1]: entry["reason"] for entry in report["songs"]["failed"]}
    assert sorted(reasons) == sorted(BAD)
    assert "empty" in reasons["empty.wav"] and "truncated" in reasons["cut.mp3"]
    assert "not an audio file" in reasons["notes.mp3"]
    assert all(entry["tries"] == 1 for entry in report["songs"]["failed"])  # a bad file is not retried
    # each good song: stems and a backing track; stdout lists the song folders
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(GOOD)
    assert sorted(proc.stdout.splitlines()) == sorted(str(out / name) for name in GOOD)
    for name in GOOD:
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == [".batch-receipt.json", "accompaniment.wav", "no vocals.wav", "vocals.wav"]
    assert not list(out.rglob("*.partial*"))

    # the same stems as `kit separate`, computed afresh
    single = ok(run_kit("separate", song_folder / "clip.wav", "--model", "unet", "--out", tmp_path / "one",
                        "--no-cache", cwd=tmp_path, env_extra=env)).parent
    for name, y in _stems(single).items():
        np.testing.assert_allclose(_stems(out / "clip")[name], y, atol=1e-5)

    # run again: nothing is separated; the bad songs are reported again
    again = run_kit("batch", song_folder, "--model", "unet", "--out", out, "--backing", "--drop vocals",
                    cwd=tmp_path, env_extra=env)
    assert again.returncode == 1
    report = json.loads((out / "batch_report.json").read_text())
    assert report["separated"] == 0 and report["done"] == 2
    assert "(2 already done before)" in again.stderr


def test_a_changed_song_or_setting_is_done_again(song_folder, tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    shutil.copy(song_folder / "clip.wav", songs / "clip.wav")
    out = tmp_path / "out"
    first = kit.batch([songs], model="center", out_dir=out)
    assert (first["done"], first["separated"]) == (1, 1)
    assert kit.batch([songs], model="center", out_dir=out)["separated"] == 0
    # another format is other files: done again
    assert kit.batch([songs], model="center", out_dir=out, fmt="flac")["separated"] == 1
    # new bytes under the same name: done again
    y, sr = kit.load(songs / "clip.wav")
    kit.save(songs / "clip.wav", 0.5 * y, sr)
    assert kit.batch([songs], model="center", out_dir=out, fmt="flac")["separated"] == 1
    # a receipt whose files went missing does not count
    (out / "clip" / "vocals.flac").unlink()
    assert kit.batch([songs], model="center", out_dir=out, fmt="flac")["separated"] == 1


def test_two_songs_of_one_name_get_two_folders(song_folder, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(song_folder / "clip.wav", tmp_path / sub / "song.wav")
    report = kit.batch([tmp_path / "a", tmp_path / "b"], model="center", out_dir=tmp_path / "out")
    assert sorted(e["out"].split("/")[-1] for e in report["songs"]["done"]) == ["song", "song (2)"]


@pytest.mark.parametrize("args, words", [
    (["--backing", "--drop vocal"], "did you mean 'vocals'"),
    (["--backing", "--semitones 2"], "one of the arguments --drop --keep is required"),
    (["--model", "htdemucs6s"], "did you mean 'htdemucs_6s'"),
    (["--retries", "-1"], "--retries -1 is negative"),
    (["--ray", "127.0.0.1:9"], "No Ray cluster answers at '127.0.0.1:9'"),
])
def test_bad_options_one_line_nothing_written(song_folder, tmp_path, args, words):
    out = tmp_path / "out"
    proc = run_kit("batch", song_folder / "clip.wav", "--out", out, *args, cwd=tmp_path)
    assert words in one_line_error(proc)
    assert not out.exists()


def test_missing_input_one_line(tmp_path):
    proc = run_kit("batch", tmp_path / "nope", "--out", tmp_path / "out", "--model", "center", cwd=tmp_path)
    assert "is neither a file nor a folder" in one_line_error(proc)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_kit("batch", empty, "--out", tmp_path / "out", "--model", "center", cwd=tmp_path)
    assert "No audio files found" in one_line_error(proc)
