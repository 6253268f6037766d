"""A long track is limited in pieces, one FFmpeg per core, and comes out as one run over it would.

Each piece is limited with a second (and 20 release times) of the track either
side, so the limiter's gain and its 4x resampler have settled by the piece's own
start. Checked on a 130 s synthetic song turned up 2 dB over full scale, so the
limiter works all the way through, across every cut.
"""

from __future__ import annotations

import numpy as np
import pytest

import kit
from kit.mix import apply_limiter

SR = 44100


@pytest.fixture(scope="module")
def loud_song():
    mix, _ = kit.examples.make_multitrack(130.0, SR, seed=5)
    return (mix * (10 ** (2 / 20) / np.max(np.abs(mix)))).astype(np.float32)


def test_pieces_limit_a_long_track_as_one_run_does(loud_song):
    one = apply_limiter(loud_song, SR, workers=1)
    pieces = apply_limiter(loud_song, SR, workers=3)  # 130 s: two pieces of a minute or more
    assert pieces.shape == loud_song.shape and pieces.dtype == np.float32
    assert np.max(np.abs(pieces - one)) < 1e-6
    # the limiter did work at the cut (the middle): the track there is not what went in
    mid = loud_song.shape[1] // 2
    around = slice(mid - SR, mid + SR)
    assert np.max(np.abs(pieces[:, around] - loud_song[:, around])) > 0.05
    assert np.max(np.abs(pieces)) <= 10 ** (-1 / 20) + 1e-3


def test_a_short_release_or_a_long_one_still_joins_cleanly(loud_song):
    part = loud_song[:, : 125 * SR]
    for release_ms in (5.0, 400.0):
        one = apply_limiter(part, SR, release_ms=release_ms, workers=1)
        assert np.max(np.abs(apply_limiter(part, SR, release_ms=release_ms, workers=2) - one)) < 1e-6
