"""The stem cache: kit.separate serves a song separated before from disk."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest

import kit
from kit import cache
from kit.separators import registry
from kit.separators.api import separate_with
from kit.separators.base import Separator


class CountingSeparator(Separator):
    """A tiny separator that counts how often it really runs: 'low' and 'high' halves."""

    name = "counting"
    stems = ("low", "high")
    calls = 0

    def __init__(self, *, gain: float = 1.0, **options):
        self.gain = gain

    def _separate(self, y, sr, *, progress=None):
        type(self).calls += 1
        low = np.cumsum(y, axis=1) * 0.01 * self.gain
        return {"low": low, "high": y - low}


@pytest.fixture
def counting(monkeypatch):
    """Register 'counting' (and 'counting2') as model names through a fake family module."""
    family = types.ModuleType("fake_counting_family")

    def make_separator(name, **options):
        sep = CountingSeparator(**{k: v for k, v in options.items() if k == "gain"})
        sep.name = name
        return sep

    family.make_separator = make_separator
    family.stems_for = lambda name: CountingSeparator.stems
    family.offline_status = lambda name, **o: (True, "always")
    monkeypatch.setitem(sys.modules, "fake_counting_family", family)
    monkeypatch.setitem(registry._FAMILY, "counting", "fake_counting_family")
    monkeypatch.setitem(registry._FAMILY, "counting2", "fake_counting_family")
    CountingSeparator.calls = 0
    return CountingSeparator


@pytest.fixture
def song():
    return kit.examples.make_multitrack(1.0)[0], 44100


def test_second_call_is_served_from_the_cache(counting, song, tmp_path):
    y, sr = song
    first = kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    seen = []
    second = kit.separate(y, sr, model="counting", cache_dir=tmp_path, progress=seen.append)
    assert counting.calls == 1
    assert list(second) == list(first) == ["low", "high"]
    for name in first:
        assert np.array_equal(first[name], second[name]) and second[name].dtype == np.float32
    assert seen[-1] == 1.0
    assert cache.cache_report(cache_dir=tmp_path)["entries"] == 1


def test_default_location_follows_kit_cache_dir(counting, song, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "c"))
    kit.separate(*song, model="counting")
    kit.separate(*song, model="counting")
    assert counting.calls == 1
    report = cache.cache_report()
    assert report["path"] == str(tmp_path / "c") and report["entries"] == 1 and report["size_mb"] > 0


def test_files_hit_the_same_entry_as_their_samples(counting, song, tmp_path):
    y, sr = song
    path = kit.save(tmp_path / "song.wav", y, sr)
    kit.separate(path, model="counting", cache_dir=tmp_path / "c")
    kit.separate(y, sr, model="counting", cache_dir=tmp_path / "c")
    assert counting.calls == 1


@pytest.mark.parametrize("change", ["settings", "model", "audio", "rate"])
def test_anything_that_changes_the_stems_misses(counting, song, tmp_path, change):
    y, sr = song
    kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    kwargs = {"model": "counting", "cache_dir": tmp_path}
    if change == "settings":
        kwargs["gain"] = 2.0
    elif change == "model":
        kwargs["model"] = "counting2"
    elif change == "audio":
        y = y.copy()
        y[0, 100] += 1e-3
    else:
        sr = 48000
    out = kit.separate(y, sr, **kwargs)
    assert counting.calls == 2
    assert cache.cache_report(cache_dir=tmp_path)["entries"] == 2
    if change == "settings":
        assert not np.array_equal(out["low"], kit.separate(*song, model="counting", cache_dir=tmp_path)["low"])


def test_cache_false_neither_reads_nor_writes(counting, song, tmp_path):
    kit.separate(*song, model="counting", cache=False, cache_dir=tmp_path)
    kit.separate(*song, model="counting", cache=False, cache_dir=tmp_path)
    assert counting.calls == 2
    assert cache.cache_report(cache_dir=tmp_path)["entries"] == 0


def test_clear_cache_empties_it(counting, song, tmp_path):
    y, sr = song
    kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    kit.separate(y, sr, model="counting2", cache_dir=tmp_path)
    (tmp_path / "notes.txt").write_text("mine")  # not the cache's: must survive
    removed = cache.clear_cache(cache_dir=tmp_path)
    assert removed["entries"] == 2
    assert cache.cache_report(cache_dir=tmp_path) == {"path": str(tmp_path), "size_mb": 0.0, "entries": 0}
    assert (tmp_path / "notes.txt").exists()
    kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    assert counting.calls == 3


@pytest.mark.parametrize("damage", ["truncate_npy", "garbage_meta", "delete_stem", "nan"])
def test_a_damaged_entry_is_ignored_and_recomputed(counting, song, tmp_path, damage):
    y, sr = song
    good = kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    (entry,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    npy = entry / "low.npy"
    if damage == "truncate_npy":
        npy.write_bytes(npy.read_bytes()[:200])
    elif damage == "garbage_meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "delete_stem":
        npy.unlink()
    else:
        arr = np.load(npy)
        arr[0, 0] = np.nan
        np.save(npy, arr)
    again = kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    assert counting.calls == 2
    for name in good:
        assert np.array_equal(good[name], again[name])
    # the entry was rewritten whole, so the next call is a hit again
    kit.separate(y, sr, model="counting", cache_dir=tmp_path)
    assert counting.calls == 2


def test_entries_are_written_whole_and_nothing_partial_stays(counting, song, tmp_path):
    kit.separate(*song, model="counting", cache_dir=tmp_path)
    names = [p.name for p in tmp_path.iterdir()]
    assert len(names) == 1 and not names[0].startswith(".")
    meta = json.loads((tmp_path / names[0] / "meta.json").read_text())
    assert meta["stems"] == ["low", "high"] and meta["model"] == "counting"


def test_an_unusable_cache_folder_does_not_stop_the_separation(counting, song, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    stems = kit.separate(*song, model="counting", cache_dir=blocker / "cache")
    assert set(stems) == {"low", "high"}


def test_separate_with_a_prebuilt_separator(counting, song, tmp_path):
    sep = CountingSeparator()
    a = separate_with(sep, *song, cache_dir=tmp_path)
    b = separate_with(sep, *song, cache_dir=tmp_path)
    assert counting.calls == 1 and np.array_equal(a["high"], b["high"])


def test_separators_holding_arrays_are_not_cached(song, tmp_path):
    class Holder(CountingSeparator):
        cache_settings = {"truth": np.zeros(3)}  # not JSON: cannot be keyed safely

    sep = Holder()
    Holder.calls = 0
    separate_with(sep, *song, cache_dir=tmp_path)
    separate_with(sep, *song, cache_dir=tmp_path)
    assert Holder.calls == 2


def test_demucs_is_cached_without_loading_weights_again(demucs_model_dir, tmp_path, monkeypatch):
    from kit.separators import demucs as kd

    y, sr = kit.examples.load_song(duration_s=1.0)
    opts = dict(model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0, cache_dir=tmp_path)
    first = kit.separate(y, sr, **opts)
    with monkeypatch.context() as m:
        m.setattr(kd, "_load", lambda source: pytest.fail("weights loaded on a cache hit"))
        second = kit.separate(y, sr, **opts)
    for name in first:
        assert np.array_equal(first[name], second[name])
    # other settings are another entry
    kit.separate(y, sr, **{**opts, "shifts": 1})
    assert cache.cache_report(cache_dir=tmp_path)["entries"] == 2


def test_new_weights_miss(tmp_path):
    from model_fixtures import write_random_demucs_model

    models = tmp_path / "models"
    write_random_demucs_model(models, name="htdemucs", seed=0)
    y, sr = kit.examples.load_song(duration_s=1.0)
    opts = dict(model="htdemucs", model_dir=models, device="cpu", shifts=0, cache_dir=tmp_path / "c")
    first = kit.separate(y, sr, **opts)
    write_random_demucs_model(models, name="htdemucs", seed=1)  # same name, other weights
    second = kit.separate(y, sr, **opts)
    assert not np.array_equal(first["vocals"], second["vocals"])
    assert cache.cache_report(cache_dir=tmp_path / "c")["entries"] == 2


def test_kit_cache_info_and_clear(counting, song, tmp_path):
    kit.separate(*song, model="counting", cache_dir=tmp_path)
    info = subprocess.run([sys.executable, "-m", "kit", "cache", "info", "--cache-dir", str(tmp_path)],
                          capture_output=True, text=True, check=True).stdout
    assert str(tmp_path) in info and "1 separations" in info
    out = subprocess.run([sys.executable, "-m", "kit", "cache", "clear", "--cache-dir", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert "Removed 1 separations" in out
    assert cache.cache_report(cache_dir=tmp_path)["entries"] == 0


def test_a_file_seen_before_is_not_even_decoded(counting, song, tmp_path, monkeypatch):
    from kit.separators import api

    y, sr = song
    path = kit.save(tmp_path / "song.flac", y, sr)
    first = kit.separate(path, model="counting", cache_dir=tmp_path / "c")
    with monkeypatch.context() as m:
        m.setattr(api, "load", lambda *a, **k: pytest.fail("decoded a file the cache knows"))
        second = kit.separate(path, model="counting", cache_dir=tmp_path / "c")
    assert counting.calls == 1 and all(np.array_equal(first[k], second[k]) for k in first)
    # new bytes (same name) are a new song
    kit.save(path, y * 0.5, sr)
    kit.separate(path, model="counting", cache_dir=tmp_path / "c")
    assert counting.calls == 2
    cache.clear_cache(cache_dir=tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []


def test_separate_file_gives_the_file_rate_on_a_hit(counting, song, tmp_path):
    from kit.separators.api import separate_file

    y, _ = song
    path = kit.save(tmp_path / "low_rate.wav", y[:, :22050], 22050)
    sep = CountingSeparator()
    a, sr_a = separate_file(sep, path, cache_dir=tmp_path / "c")
    b, sr_b = separate_file(sep, path, cache_dir=tmp_path / "c")
    assert sr_a == sr_b == 22050 and counting.calls == 1
    assert np.array_equal(a["low"], b["low"])


CACHE_WORKER = """
import json, sys, time
from pathlib import Path
import numpy as np
import kit
from kit import cache

folder, go, log, me, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
songs = [Path(p) for p in sys.argv[6:]]
truth = [kit.separate(p, model="center", cache=False) for p in songs]  # each song's stems, never cached
keys = [f"{i:040x}" for i in range(1, len(songs) + 1)]
seen = {"hit": 0, "miss": 0, "bad": []}
Path(log + ".ready").touch()
while not go.exists():
    time.sleep(0.01)
for r in range(rounds):
    j = (r + me) % len(songs)
    if r % 3 == 0:  # through kit.separate: its file alias and its entry, read or computed and written
        got = kit.separate(songs[j], model="center", cache_dir=folder)
        what = "separate"
    elif r % 3 == 1:  # an entry written straight away, as the app writes a whole song's stems
        cache.store_stems(keys[j], truth[j], cache_dir=folder)
        got = cache.load_stems(keys[j], cache_dir=folder)
        what = "store+load"
    else:
        got = cache.load_stems(keys[(j + 1) % len(songs)], cache_dir=folder)
        j = (j + 1) % len(songs)
        what = "load"
    if me == 0 and r % 10 == 9:
        cache.clear_cache(cache_dir=folder)  # the teacher empties the cache in the middle of it all
    if got is None:
        seen["miss"] += 1
    elif sorted(got) == sorted(truth[j]) and all(np.array_equal(got[k], truth[j][k]) for k in got):
        seen["hit"] += 1
    else:
        seen["bad"].append(f"round {r} {what}: {sorted(got)} differ from song {j}'s stems")
with open(log, "w") as f:
    json.dump(seen, f)
"""


def test_processes_reading_and_writing_the_same_songs_at_once_never_see_a_broken_entry(tmp_path):
    """Four processes separate, store, read and clear the same songs' stems in one cache at once.

    The cache holds only about one entry (KIT_CACHE_MAX_GB), so each write evicts what others
    may be reading. Every read must be a miss or the whole, exact stems of the right song.
    """
    import os
    from pathlib import Path

    from cli_helpers import wait_until

    songs = []
    for i in range(2):
        mix, _ = kit.examples.make_multitrack(8.0, seed=i)
        songs.append(str(kit.save(tmp_path / f"song {i}.wav", mix, 44100)))
    folder, go = tmp_path / "shared cache", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "KIT_CACHE_MAX_GB": "0.006"}
    procs = [subprocess.Popen([sys.executable, "-c", CACHE_WORKER, str(folder), str(go), str(tmp_path / f"{me}.json"),
                               str(me), "30", *songs], env=env) for me in range(4)]
    wait_until(lambda: len(list(tmp_path.glob("*.ready"))) == 4, 240, "the workers to be ready")
    go.touch()  # all four start at once
    for p in procs:
        assert p.wait(timeout=300) == 0
    seen = [json.loads((tmp_path / f"{me}.json").read_text()) for me in range(4)]
    assert [s["bad"] for s in seen] == [[]] * 4, seen
    hits, misses = sum(s["hit"] for s in seen), sum(s["miss"] for s in seen)
    assert hits > 0 and misses > 0, seen  # both happened: readers met writers and evictions
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")], "a half-written entry stayed"
