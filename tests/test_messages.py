"""What the command line says: each message through `kit ...`, its exit code, its one line, no leftovers.

The commands run in this process (``kit.cli.main``), which is the same code the
``kit`` script runs, minus the seconds of starting Python and torch for each
case. Audio: a 3 s piece of the bundled real song (ccMixter) and the synthetic
multitrack, whose instruments sit mostly in the middle of the stereo image.
Models: ``center``, ``hpss`` (classical) and ``unet`` (real pretrained weights).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kit
from kit.cli import main
from kit.errors import KitWarning


def run_cli(*argv, capsys):
    """Run ``kit ARGV``; returns (exit code, stdout lines, stderr lines), blank lines dropped."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own exits (errors, -h)
        code = exc.code
    out, err = capsys.readouterr()
    return code, [ln for ln in out.splitlines() if ln.strip()], [ln for ln in err.splitlines() if ln.strip()]


def one_error(code, err, fragment):
    assert code != 0
    assert len(err) == 1 and err[0].startswith("kit: error: "), err
    assert fragment in err[0], err[0]
    return err[0]


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """3 s of the bundled song as WAV."""
    y, sr = kit.examples.load_song(duration_s=3.0)
    return kit.save(tmp_path_factory.mktemp("song") / "song.wav", y * 0.8, sr)


@pytest.fixture(scope="module")
def centred(tmp_path_factory):
    """A synthetic mix whose voice, bass and most of the drums are in the middle."""
    mix, _ = kit.examples.make_multitrack(3.0)
    return kit.save(tmp_path_factory.mktemp("centred") / "centred.wav", mix, 44100)


@pytest.fixture(autouse=True)
def _here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIT_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# --- which model, on which device -------------------------------------------------


def test_separate_says_model_and_device_and_when_the_stems_come_from_the_cache(song, tmp_path, capsys):
    code, out, err = run_cli("separate", song, "--model", "center", "--out", "stems", "--no-cache", capsys=capsys)
    assert code == 0
    assert err == ["kit: separating with center on cpu"]
    assert out == ["stems/vocals.wav", "stems/accompaniment.wav"]
    assert all((tmp_path / p).is_file() for p in out)
    # once stored, the same song and settings come from the cache, and the line says so (nothing else)
    run_cli("separate", song, "--model", "center", "--out", "first", capsys=capsys)
    code, out, err = run_cli("separate", song, "--model", "center", "--out", "again", capsys=capsys)
    assert code == 0 and err == ["kit: separating with center on cpu (stems from the cache)"]
    assert out == ["again/vocals.wav", "again/accompaniment.wav"]


def test_backing_with_auto_says_which_model_it_chose(song, capsys):
    # no model folder and offline: auto can only pick unet (the pretrained weights that ship)
    code, out, err = run_cli("backing", song, "--drop", "vocals", "-o", "k.wav", capsys=capsys)
    assert code == 0, err
    # on the device auto picks: the CPU here, cuda or mps on a machine with a GPU
    assert err in ([f"kit: separating with unet on {kit.pick_device('auto')}"],
                   [f"kit: separating with unet on {kit.pick_device('auto')} (stems from the cache)"]), err


def test_model_names_are_case_insensitive(song, capsys):
    code, _, err = run_cli("separate", song, "--model", "HPSS", "--out", "s", capsys=capsys)
    assert code == 0 and err in (["kit: separating with hpss on cpu"],
                                 ["kit: separating with hpss on cpu (stems from the cache)"]), err


# --- did you mean ----------------------------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["separate", "SONG", "--model", "htdemucs6s"], "did you mean 'htdemucs_6s'?"),
    (["backing", "SONG", "--model", "unet", "--drop", "vocal"], "did you mean 'vocals'?"),
    (["backing", "SONG", "--model", "unet", "--drop", "vocals", "--gain", "acompaniment=-3"],
     "did you mean 'accompaniment'?"),
    (["seperate", "SONG"], "did you mean 'separate'?"),
    (["separate", "SONG", "--format", "mp4"], "did you mean 'mp3'?"),
])
def test_near_misses_get_a_suggestion(song, tmp_path, capsys, argv, fragment):
    argv = [song if a == "SONG" else a for a in argv]
    one_error(*run_cli(*argv, capsys=capsys)[::2], fragment)
    assert list(tmp_path.iterdir()) == []


# --- argparse mistakes are one line ------------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["backing", "SONG"], "--drop --keep is required; e.g. --drop vocals"),
    (["separate", "SONG", "--format", "ogg"], "invalid choice: 'ogg'"),
    (["backing", "SONG", "--drop", "vocals", "--semitones", "low"], "invalid float value: 'low'"),
    (["models", "download"], "required: NAME"),
    ([], "required: COMMAND"),
])
def test_argparse_errors_are_one_line(song, tmp_path, capsys, argv, fragment):
    argv = [song if a == "SONG" else a for a in argv]
    code, out, err = run_cli(*argv, capsys=capsys)
    assert code == 2 and out == []
    line = one_error(code, err, fragment)
    assert "usage:" not in line
    assert list(tmp_path.iterdir()) == []


# --- outputs: folders, files, replacing --------------------------------------------


def test_backing_into_an_existing_folder_uses_the_default_name(song, tmp_path, capsys):
    (tmp_path / "stems").mkdir()
    code, out, err = run_cli("backing", song, "--model", "center", "--drop", "vocals", "-o", "stems",
                             capsys=capsys)
    assert code == 0, err
    assert out == ["stems/song (no vocals).mp3"]
    assert (tmp_path / "stems" / "song (no vocals).mp3").is_file()


@pytest.mark.parametrize("target, fragment", [
    ("missing/", "The folder 'missing/' does not exist"),
    ("karaoke", "has no file ending; give a file name such as 'karaoke.mp3'"),
])
def test_backing_to_a_name_that_is_no_file_is_one_line(song, tmp_path, capsys, target, fragment):
    code, _, err = run_cli("backing", song, "--model", "center", "--drop", "vocals", "-o", target, capsys=capsys)
    one_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []


def test_writing_over_an_output_says_replaced(song, tmp_path, capsys):
    argv = ("backing", song, "--model", "center", "--drop", "vocals", "-o", "k.wav")
    code, _, err = run_cli(*argv, capsys=capsys)
    assert code == 0 and not any("replaced" in ln for ln in err)
    code, _, err = run_cli(*argv, capsys=capsys)
    assert code == 0 and err[-1] == "kit: replaced k.wav", err
    code, _, err = run_cli("separate", song, "--model", "center", "--out", "s", capsys=capsys)
    assert code == 0 and not any("replaced" in ln for ln in err)
    code, _, err = run_cli("separate", song, "--model", "center", "--out", "s", capsys=capsys)
    assert [ln for ln in err if "replaced" in ln] == ["kit: replaced s/vocals.wav", "kit: replaced s/accompaniment.wav"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.wav", "s"]  # no temporary files left


def test_separate_out_naming_a_file_is_one_line(song, tmp_path, capsys):
    (tmp_path / "x.wav").write_bytes(b"not a folder")
    code, _, err = run_cli("separate", song, "--model", "center", "--out", "x.wav", capsys=capsys)
    one_error(code, err, "--out 'x.wav' is a file; give a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]


def test_separate_into_new_folders_removes_them_when_it_fails(tmp_path, capsys):
    clip = kit.save(tmp_path / "blip.wav", np.full((2, 441), 0.1, np.float32), 44100)  # 10 ms: too short
    code, _, err = run_cli("separate", clip, "--model", "unet", "--out", "a/b/c", capsys=capsys)
    one_error(code, err, "needs at least")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blip.wav"]


def test_examples_copy_and_song(tmp_path, capsys):
    code, out, err = run_cli("examples", "song", capsys=capsys)
    assert code == 0 and out == [str(kit.examples.song_path())] and err == []
    code, out, err = run_cli("examples", "copy", ".", capsys=capsys)
    assert code == 0 and out == ["song.mp3"] and err == []
    assert (tmp_path / "song.mp3").read_bytes() == kit.examples.song_path().read_bytes()
    code, out, err = run_cli("examples", "copy", capsys=capsys)
    assert code == 0 and err == ["kit: replaced song.mp3"]
    assert [p.name for p in tmp_path.iterdir()] == ["song.mp3"]


# --- evaluate, fetch -----------------------------------------------------------------


def test_evaluate_reference_given_a_file(song, tmp_path, capsys):
    code, out, err = run_cli("evaluate", "-r", song, "-e", tmp_path, capsys=capsys)
    assert out == []
    one_error(code, err, f"--reference '{song}' is a file; give the folder that holds the reference stems")


def test_failed_fetch_leaves_no_folder(tmp_path, capsys):
    # port 9 (discard) on this machine: refused at once, with or without internet
    code, out, err = run_cli("fetch", "http://127.0.0.1:9/song.mp3", "-o", "downloads/today", "--timeout", "5",
                             capsys=capsys)
    assert out == []
    one_error(code, err, "Could not download")
    assert list(tmp_path.iterdir()) == []


# --- notes: clipping, a model that removed the song ---------------------------------


def test_clipping_note_names_flags_and_suggests_wav_only_when_it_helps(song, tmp_path, capsys):
    base = ("backing", song, "--model", "center", "--drop", "vocals", "--gain", "accompaniment=+18")
    code, _, err = run_cli(*base, "-o", "loud.mp3", capsys=capsys)
    assert code == 0
    notes = [ln for ln in err if ln.startswith("kit: note:") and "dBFS" in ln]
    assert len(notes) == 1, err
    assert "--gain STEM=-6" in notes[0] and "--limit" in notes[0] and "-o NAME.wav" in notes[0]
    assert "gains_db" not in notes[0] and "limit=True" not in notes[0]
    code, _, err = run_cli(*base, "-o", "loud.wav", capsys=capsys)
    notes = [ln for ln in err if ln.startswith("kit: note:") and "dBFS" in ln]
    assert code == 0 and len(notes) == 1, err
    assert "--limit" in notes[0] and ".wav (" not in notes[0] and "keeps the peaks" in notes[0]
    code, _, err = run_cli(*base, "-o", "limited.mp3", "--limit", capsys=capsys)
    assert code == 0 and not any("dBFS" in ln for ln in err), err


def test_clipping_warning_in_python_names_python_arguments():
    mix, stems = kit.examples.make_multitrack(1.0)
    with pytest.warns(KitWarning, match=r"gains_db=.*limit=True") as rec:
        kit.make_backing_track(stems, drop="vocals", gains_db={"drums": 18})
    assert "--limit" not in str(rec[0].message)


def test_center_on_a_centred_mix_says_so_and_suggests_unet(centred, tmp_path, capsys):
    code, out, err = run_cli("backing", centred, "--model", "center", "--drop", "vocals", "-o", "b.wav",
                             capsys=capsys)
    assert code == 0 and (tmp_path / "b.wav").is_file()
    notes = [ln for ln in err if ln.startswith("kit: note:")]
    assert len(notes) == 1, err
    assert "% of the song's energy" in notes[0] and "wide stereo" in notes[0] and "try --model unet" in notes[0]


def test_no_energy_note_when_the_model_fits(song, capsys):
    code, _, err = run_cli("backing", song, "--model", "unet", "--drop", "vocals", "-o", "u.wav", capsys=capsys)
    assert code == 0 and not any("energy" in ln for ln in err), err


def test_energy_note_in_python_names_python_arguments():
    mix, _ = kit.examples.make_multitrack(2.0)
    stems = kit.separate(mix, 44100, model="center", cache=False)
    with pytest.warns(KitWarning, match=r"try model='unet'"):
        kit.make_backing_track(stems, drop="vocals", model="center")
    true_mix, true_stems = kit.examples.make_multitrack(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the true stems keep most of the song: no note
        kit.make_backing_track(true_stems, drop="vocals")
        kit.make_backing_track(true_stems, keep="bass")  # keeping one stem is quiet on purpose
