"""A key change on a long song reaches the page stretch by stretch, and the stretches are the key change.

Rubber Band shifts a 4-minute song's tracks in 45-55 s of kernel time on 2 cores; the page
had nothing in the new key until all of it was done. Now the song is shifted from its start
in blocks (15 s, then each 3x the one before), every track of a block at once, and each
stretch goes to the page when it is done, so the new key plays after a few seconds.
Measured here on a 70 s synthetic song: the first stretch reaches the page before the
shift is half done; the stretches put together are the kernel's tracks (the download is
what the page plays); and against shifting each track whole, the level in every second
stays within 0.5 dB (no dip at a join) and the band stays where it was in time.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import kit
from kit.ui import stem_mixer

SR = 44100
SONG_S = 70.0
SEMITONES = 2.0


@pytest.fixture(scope="module")
def song():
    mix, stems = kit.examples.make_multitrack(SONG_S, SR, seed=4)
    band = stems["drums"] + stems["bass"] + stems["other"]
    return mix, {"vocals": stems["vocals"], "band": band}


def _levels_db(y: np.ndarray) -> np.ndarray:
    n = y.shape[1] // SR * SR
    rms = np.sqrt(np.mean(y[:, :n].reshape(y.shape[0], -1, SR) ** 2, axis=(0, 2)))
    return 20 * np.log10(np.maximum(rms, 1e-9))


def test_the_page_gets_the_new_key_stretch_by_stretch_and_they_add_up_to_the_kernels_tracks(song):
    mix, stems = song
    mixer = stem_mixer(stems, SR, mixture=mix, show_plots=False, player="browser", limit=False)
    mixer.set_stem("vocals", on=False)
    sent, bar_at = [], []
    add_part = mixer.web.add_part

    def watch_parts(arrays, *, start_s, new_generation=False):
        sent.append((time.monotonic(), start_s, new_generation, {k: v.copy() for k, v in arrays.items()}))
        return add_part(arrays, start_s=start_s, new_generation=new_generation)

    def watch_bar(change):
        for bar in change["new"]:
            bar.observe(lambda c: bar_at.append((time.monotonic(), c["new"])), names="value")

    mixer.web.add_part = watch_parts
    mixer._busy.observe(watch_bar, names="children")
    generation = mixer.web.generation
    start = time.monotonic()
    mixer.set_key(SEMITONES)
    end = time.monotonic()

    # stretches in order from the start, the first one a new generation (the page swaps to it)
    starts = [s for _, s, _, _ in sent]
    assert [g for _, _, g, _ in sent] == [True] + [False] * (len(sent) - 1)
    assert len(sent) >= 3 and starts[0] == 0.0 and starts == sorted(starts), starts
    assert mixer.web.generation == generation + 1
    first_s = next(iter(sent[0][3].values())).shape[1] / SR
    assert 10.0 < first_s < 16.0, first_s
    # ...sent while the bar said less than half was done (timing-free: the bar moves with the work)
    before_first = [v for t, v in bar_at if t <= sent[0][0]]
    assert max(before_first, default=0.0) < 50.0 and sent[0][0] < end, (before_first, sent[0][0] - start)
    # the stretches together are the kernel's tracks in the new key, so the download is what the page plays
    tracks = mixer._shifted[1]
    assert set(tracks) == set(sent[0][3])
    for name, y in tracks.items():
        joined = np.concatenate([part[name] for _, _, _, part in sent], axis=1)
        assert joined.shape == y.shape == stems[name].shape
        np.testing.assert_array_equal(joined, y)
    np.testing.assert_allclose(mixer.render(), kit.make_backing_track(tracks, keep=["band"], method="sum"),
                               atol=1e-6)

    # against each track shifted whole: the same level second by second, and the band at the same time
    whole = kit.shift_pitch(stems["band"], SR, semitones=SEMITONES)
    levels, reference = _levels_db(tracks["band"]), _levels_db(whole)
    loud = reference > reference.max() - 30
    assert np.max(np.abs(levels[loud] - reference[loud])) < 0.5, levels - reference
    for join_s in starts[1:]:
        a, b = int((join_s - 0.5) * SR), int((join_s + 0.5) * SR)
        x, ref = tracks["band"][:, a:b].sum(axis=0), whole[:, a:b].sum(axis=0)
        lag = np.argmax(np.correlate(x, ref[441:-441], mode="valid")) - 441
        assert abs(lag) <= 0.006 * SR, (join_s, lag / SR)


def test_a_short_song_is_shifted_whole_and_sent_at_once():
    _, stems = kit.examples.make_multitrack(8.0, SR, seed=4)
    mixer = stem_mixer({k: stems[k] for k in ("vocals", "bass")}, SR, show_plots=False, player="browser")
    parts = []
    add_part = mixer.web.add_part
    mixer.web.add_part = lambda arrays, **kw: parts.append(kw) or add_part(arrays, **kw)
    mixer.set_key(-1.0)
    assert parts == [{"start_s": 0.0, "new_generation": True}]
    np.testing.assert_array_equal(mixer._shifted[1]["bass"], kit.shift_pitch(stems["bass"], SR, semitones=-1.0))
