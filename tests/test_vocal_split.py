"""kit.split_vocals on the synthetic harmony songs, whose true lead and backing stems are known.

The SDR targets are the issue's (museval's SDR, as ``kit evaluate``), measured on
8 s songs; benchmarks/bench_vocal_split.py measures them on longer ones.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kit
from kit.errors import KitWarning, OptionError
from kit.evaluate import evaluate

SR = 44100
PAIR = ("lead_vocals", "backing_vocals")


@pytest.fixture(scope="module")
def wide_song():
    return kit.examples.make_harmony_song(8.0, SR, harmony="wide")


@pytest.fixture(scope="module")
def wide(wide_song):
    return wide_song[1]


@pytest.fixture(scope="module")
def centre():
    _, stems = kit.examples.make_harmony_song(8.0, SR, harmony="centre")
    return stems


def _vocals(stems):
    return stems["lead_vocals"] + stems["backing_vocals"]


def _sdr(true, est, part=slice(None)):
    table = evaluate({k: true[k][:, part] for k in PAIR}, {k: est[k][:, part] for k in PAIR}, SR)
    return table["lead_vocals"]["sdr_db"], table["backing_vocals"]["sdr_db"]


def test_the_harmony_song_is_its_stems_and_the_layouts_differ(wide_song, centre):
    mix, stems = wide_song
    assert list(stems) == ["drums", "bass", "other", "lead_vocals", "backing_vocals"]
    assert np.allclose(sum(stems.values()), mix, atol=1e-6)
    left, right = (np.sum(stems["backing_vocals"][c] ** 2) for c in (0, 1))
    assert 0.5 < left / right < 2  # alto left and tenor right: balanced overall
    half = SR * 4
    before, after = (np.sum(centre["backing_vocals"][:, part] ** 2) for part in (slice(0, half), slice(half, None)))
    assert before < 1e-12 * after  # the centred harmony enters at the half


@pytest.mark.parametrize("method", ["auto", "pan", "pitch"])
def test_the_two_stems_add_up_to_the_input_in_its_shape(wide, method):
    vocals = _vocals(wide)
    parts = kit.split_vocals(vocals, SR, method=method)
    assert list(parts) == list(PAIR)
    for y in parts.values():
        assert y.shape == vocals.shape and y.dtype == np.float32
    assert np.max(np.abs(parts["lead_vocals"] + parts["backing_vocals"] - vocals)) < 1e-6
    one = kit.split_vocals(vocals[0, : SR * 2], SR, method="pitch")  # a 1-D input gives 1-D stems
    assert one["lead_vocals"].shape == (SR * 2,)


def test_wide_harmonies_meet_the_targets_and_beat_the_pan_cue_alone(wide):
    lead, back = _sdr(wide, kit.split_vocals(_vocals(wide), SR))
    assert lead >= 13 and back >= 9, (lead, back)
    pan_lead, pan_back = _sdr(wide, kit.split_vocals(_vocals(wide), SR, method="pan"))
    assert lead > pan_lead and back > pan_back


def test_a_centred_harmony_is_taken_out_by_pitch_and_the_lead_alone_stays_whole(centre):
    vocals = _vocals(centre)
    first, second = slice(0, SR * 4), slice(int(SR * 4.2), None)
    for method in ("auto", "pitch"):
        parts = kit.split_vocals(vocals, SR, method=method)
        lead, back = _sdr(centre, parts, second)
        assert lead >= 8 and back >= 3, (method, lead, back)
        below_db = 10 * np.log10(np.sum(parts["backing_vocals"][:, first] ** 2)
                                 / np.sum(centre["lead_vocals"][:, first] ** 2))
        assert below_db <= -20, (method, below_db)
    # the pan cue cannot see a harmony in the centre: that is why there are two cues
    _, pan_back = _sdr(centre, kit.split_vocals(vocals, SR, method="pan"), second)
    assert pan_back < 3


def test_mono_uses_the_pitch_cue_and_says_so_once(centre):
    mono = _vocals(centre).mean(axis=0, keepdims=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = kit.split_vocals(mono, SR, method="auto")
    notes = [w for w in caught if issubclass(w.category, KitWarning)]
    assert len(notes) == 1 and "pitch" in str(notes[0].message)
    assert parts["lead_vocals"].shape == (1, mono.shape[1])
    true = {k: centre[k].mean(axis=0, keepdims=True) for k in PAIR}
    lead, back = _sdr(true, parts, slice(int(SR * 4.2), None))
    assert lead >= 8 and back >= 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kit.split_vocals(mono, SR, method="pitch")  # asked for the cue that works: nothing to say
    assert not [w for w in caught if issubclass(w.category, KitWarning)]


def test_silence_splits_into_silence():
    parts = kit.split_vocals(np.zeros((2, SR), np.float32), SR)
    assert not np.any(parts["lead_vocals"]) and not np.any(parts["backing_vocals"])


def test_mistakes_are_one_line_errors():
    y = np.zeros((2, SR), np.float32)
    with pytest.raises(OptionError, match="choose from auto, pan, pitch"):
        kit.split_vocals(y, SR, method="centre")
    with pytest.raises(OptionError, match="harmonic-sum, pyin"):
        kit.split_vocals(y, SR, tracker="crepe")
    with pytest.raises(OptionError, match="choose from wide, centre, double"):
        kit.examples.make_harmony_song(1.0, harmony="left")


def test_separate_splits_and_caches_the_split(tmp_path, monkeypatch):
    mix, _ = kit.examples.make_harmony_song(3.0, SR)
    stems = kit.separate(mix, SR, model="center", cache_dir=tmp_path, split_vocals=True)
    assert list(stems) == ["lead_vocals", "backing_vocals", "accompaniment"]  # in the place of the vocals
    entries = {p.name for p in tmp_path.iterdir()}
    assert len(entries) == 2  # the stems, and the split beside them
    with monkeypatch.context() as m:  # served from the cache: no split runs
        m.setattr("kit.vocal_split.split_vocals", lambda *a, **k: pytest.fail("split again"))
        again = kit.separate(mix, SR, model="center", cache_dir=tmp_path, split_vocals="auto")
    assert {p.name for p in tmp_path.iterdir()} == entries
    assert np.array_equal(again["lead_vocals"], stems["lead_vocals"])
    kit.separate(mix, SR, model="center", cache_dir=tmp_path, split_vocals="pitch")
    assert len(list(tmp_path.iterdir())) == 3  # another method is another entry
    whole = kit.separate(mix, SR, model="center", cache_dir=tmp_path)
    assert list(whole) == ["vocals", "accompaniment"]
    with pytest.raises(OptionError, match="needs a 'vocals' stem, but model 'hpss'"):
        kit.separate(mix, SR, model="hpss", split_vocals=True)


def test_progress_goes_on_through_the_split_and_a_cache_hit_reports_done_at_once(tmp_path):
    mix, _ = kit.examples.make_harmony_song(3.0, SR)
    seen = []
    kit.separate(mix, SR, model="center", cache_dir=tmp_path, split_vocals="pitch", progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert any(0.86 < f < 1.0 for f in seen), seen  # the split's own steps, after the separation's 85 %
    seen.clear()
    kit.separate(mix, SR, model="center", cache_dir=tmp_path, split_vocals="pitch", progress=seen.append)
    assert seen[0] == 1.0  # all from the cache: `kit separate` says "(stems from the cache)" on this


def test_the_unet_backing_track_keeps_the_harmonies(wide_song):
    """End to end from the mixture with the real unet: dropping only the lead keeps the backing vocals."""
    mix, stems = wide_song
    reference = mix - stems["lead_vocals"]
    sep = kit.separate(mix, SR, model="unet", device="cpu", cache=False, split_vocals=True)
    keep = kit.make_backing_track(sep, drop="lead_vocals")
    score = evaluate({"b": reference}, {"b": keep}, SR)["b"]["sdr_db"]
    plain = evaluate({"b": reference}, {"b": sep["accompaniment"]}, SR)["b"]["sdr_db"]
    assert score - plain >= 4, (score, plain)


@pytest.mark.parametrize(("n", "sr"), [(100, 44100), (5000, 8000), (22050, 16000), (44100, 48000)])
def test_any_rate_and_length_adds_up(n, sr):
    y = np.random.default_rng(0).standard_normal((2, n)).astype(np.float32) * 0.1
    parts = kit.split_vocals(y, sr)
    assert parts["lead_vocals"].shape == y.shape
    assert np.max(np.abs(parts["lead_vocals"] + parts["backing_vocals"] - y)) < 1e-6
