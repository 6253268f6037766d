"""Lead and backing vocals on the command line: `kit separate --split-vocals`, `kit backing --drop lead_vocals`.

The ``center`` separator (a stereo centre extraction with a ``vocals`` stem) keeps
these quick; the split itself is scored in test_vocal_split.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import ok, one_line_error, run_kit

import kit

SR = 44100


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    mix, _ = kit.examples.make_harmony_song(3.0, SR)
    return kit.save(tmp_path_factory.mktemp("song") / "song.wav", mix, SR)


@pytest.fixture()
def cache(tmp_path):
    return {"KIT_CACHE_DIR": str(tmp_path / "cache")}


def test_separate_split_vocals_writes_lead_and_backing_instead_of_vocals(song, tmp_path, cache):
    proc = run_kit("separate", song, "--model", "center", "--split-vocals", "-o", "out", cwd=tmp_path,
                   env_extra=cache)
    ok(proc)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["accompaniment.wav", "backing_vocals.wav", "lead_vocals.wav"]
    plain = kit.separate(song, model="center", cache=False)
    lead, _ = kit.load(tmp_path / "out" / "lead_vocals.wav")
    backing, _ = kit.load(tmp_path / "out" / "backing_vocals.wav")
    assert np.max(np.abs(lead + backing - plain["vocals"])) < 1e-5
    # a second run is served from the cache, split included
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    again = run_kit("separate", song, "--model", "center", "--split-vocals", "-o", "out", cwd=tmp_path,
                    env_extra=cache)
    ok(again)
    assert "from the cache" in again.stderr
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == entries
    # another method is another cache entry, and other stems
    ok(run_kit("separate", song, "--model", "center", "--split-method", "pan", "-o", "pan", cwd=tmp_path,
               env_extra=cache))
    assert len(list((tmp_path / "cache").iterdir())) == len(entries) + 1
    pan, _ = kit.load(tmp_path / "pan" / "lead_vocals.wav")
    assert not np.allclose(pan, lead)


def test_two_stems_vocals_with_the_split(song, tmp_path, cache):
    ok(run_kit("separate", song, "--model", "center", "--two-stems", "vocals", "--split-vocals", "-o", "o",
               cwd=tmp_path, env_extra=cache))
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "backing_vocals.wav", "lead_vocals.wav", "no_vocals.wav"]


def test_backing_drop_lead_vocals_keeps_the_backing_vocals(song, tmp_path, cache):
    ok(run_kit("backing", song, "--model", "center", "--drop", "lead_vocals", "-o", "keep.wav", cwd=tmp_path,
               env_extra=cache))
    ok(run_kit("backing", song, "--model", "center", "--drop", "vocals", "-o", "plain.wav", cwd=tmp_path,
               env_extra=cache))
    stems = kit.separate(song, model="center", cache=False, split_vocals=True)
    keep, _ = kit.load(tmp_path / "keep.wav")
    plain, _ = kit.load(tmp_path / "plain.wav")
    assert np.max(np.abs(keep - (stems["accompaniment"] + stems["backing_vocals"]))) < 1e-4
    assert np.max(np.abs(plain - stems["accompaniment"])) < 1e-4  # --drop vocals as before


@pytest.mark.parametrize(("args", "expected"), [
    (["backing", "--drop", "lead_vocal"], "did you mean 'lead_vocals'?"),
    (["backing", "--drop", "vocals,lead_vocals"], "write lead_vocals,backing_vocals for both"),
    (["backing", "--keep", "accompaniment", "--gain", "lead_vocal=-3"], "did you mean 'lead_vocals'?"),
    (["backing", "--model", "hpss", "--drop", "lead_vocals"], "needs a 'vocals' stem, but model 'hpss'"),
    (["separate", "--model", "hpss", "--split-vocals"], "needs a 'vocals' stem, but model 'hpss'"),
    (["separate", "--two-stems", "accompaniment", "--split-vocals"], "leaves no vocals stem to split"),
    (["separate", "--split-method", "left"], "invalid choice: 'left'"),
])
def test_mistakes_name_the_split_stems(song, tmp_path, cache, args, expected):
    command, *rest = args
    if "--model" not in rest:
        rest = ["--model", "center", *rest]
    line = one_line_error(run_kit(command, song, *rest, cwd=tmp_path, env_extra=cache))
    assert expected in line
    assert not (tmp_path / "cache").exists()  # checked before any separation


def test_make_backing_track_says_where_the_split_stems_come_from():
    y = np.zeros((2, 100), np.float32)
    with pytest.raises(kit.KitError, match="come from splitting the vocals"):
        kit.make_backing_track({"vocals": y, "accompaniment": y}, drop="lead_vocals")
