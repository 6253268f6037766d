"""A long song separated part by part (kit.ui.separate_parts) matches the song separated in one go."""

import numpy as np
import pytest

import kit
from kit.separators.api import get_cached_separator, separate_with
from kit.ui.separate_parts import GRID_SAMPLES, iter_separated_parts, plan_parts


def test_parts_cover_the_song_once_and_grow():
    for n in (1, GRID_SAMPLES, GRID_SAMPLES + 1, 3 * GRID_SAMPLES // 2, 61 * GRID_SAMPLES + 777):
        parts = plan_parts(n)
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(b == c for (_, b), (c, _) in zip(parts[:-1], parts[1:], strict=True))  # no gap, no overlap
        assert all(a % GRID_SAMPLES == 0 for a, _ in parts)  # cuts on unet's segment grid
    assert len(plan_parts(61 * GRID_SAMPLES)) == 6  # a 12-minute song in six steps


def test_unet_in_parts_matches_unet_in_one_go():
    """The real unet (Spleeter weights): parts joined equal the whole-song stems, joins included."""
    y, sr = kit.examples.load_song()
    song = np.tile(y, (1, 3))[:, : 2 * GRID_SAMPLES + 44100]  # 25 s: a first part and a second
    separator = get_cached_separator("unet", device="cpu")
    whole = separate_with(separator, song, sr, cache=False)
    seen = []
    parts = list(iter_separated_parts(song, lambda s: separate_with(separator, s, sr, cache=False),
                                      progress=seen.append))
    assert [(a, b) for a, b, _ in parts] == [(0, GRID_SAMPLES), (GRID_SAMPLES, song.shape[1])]
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    for name, stem in whole.items():
        joined = np.concatenate([p[name] for *_, p in parts], axis=1)
        assert joined.shape == stem.shape
        error = joined - stem
        assert 10 * np.log10(np.sum(stem ** 2) / np.sum(error ** 2)) > 60, name
        # at the join (the first part had 3 s of context after it, not a whole segment)
        edge = error[:, GRID_SAMPLES - 4096:GRID_SAMPLES + 4096]
        assert np.max(np.abs(edge)) < 1e-3, (name, np.max(np.abs(edge)))  # under -60 dBFS: no click
