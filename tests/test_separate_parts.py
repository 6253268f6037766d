"""A long song separated part by part (kit.ui.separate_parts) matches the song separated in one go."""

import numpy as np
import pytest

import kit
from kit.separators.api import get_cached_separator, separate_with
from kit.ui.separate_parts import GRID_SAMPLES, iter_separated_parts, plan_parts, plan_song_parts


def test_parts_cover_the_song_once_and_grow():
    unet = get_cached_separator("unet", device="cpu")
    for n in (1, GRID_SAMPLES, GRID_SAMPLES + 1, 3 * GRID_SAMPLES // 2, 61 * GRID_SAMPLES + 777):
        parts = plan_song_parts(unet, n, 44100)
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(b == c for (_, b, _, _), (c, _, _, _) in zip(parts[:-1], parts[1:], strict=True))  # no gap
        assert all(lo % GRID_SAMPLES == 0 and lo <= a and b <= hi <= n for a, b, lo, hi in parts)  # on the grid
    assert len(plan_song_parts(unet, 61 * GRID_SAMPLES, 44100)) == 6  # a 12-minute song in six steps
    assert plan_parts(80, first=60, first_span=70) == [(0, 80, 0, 80)]  # too short to cut


def test_the_first_part_is_one_unet_segment():
    """unet pads its input to whole 512-frame segments: the first slice must not reach into a second."""
    from kit.separators.spleeter_net import HOP_LENGTH, SEGMENT_FRAMES

    _, b, lo, hi = plan_song_parts(get_cached_separator("unet", device="cpu"), 240 * 44100, 44100)[0]
    frames = 1 + (hi - lo) // HOP_LENGTH  # what unet computes for a slice (torch.stft, centred)
    assert frames == SEGMENT_FRAMES and b > 11.5 * 44100


def test_the_first_part_is_one_demucs_segment(demucs_model_dir):
    """htdemucs (random weights of the real architecture) cuts its input every 0.75 segments,
    read up to 0.5 s late: the first slice is one network call."""
    from kit.separators.demucs_batched import plan_segments

    separator = get_cached_separator("htdemucs", device="cpu", model_dir=demucs_model_dir)
    _, b, lo, hi = plan_song_parts(separator, 240 * 44100, 44100)[0]
    net = separator.model.models[0] if hasattr(separator.model, "models") else separator.model
    max_shift = 44100 // 2
    assert len(plan_segments(net, hi - lo, lead=max_shift)) == 1
    assert len(plan_segments(net, hi - lo + 44100, lead=max_shift)) == 2  # a second more costs a second call
    assert 0.7 * (hi - lo) < b < hi


def test_unet_in_parts_matches_unet_in_one_go():
    """The real unet (Spleeter weights): parts joined equal the whole-song stems, joins included."""
    y, sr = kit.examples.load_song()
    song = np.tile(y, (1, 4))[:, : 3 * GRID_SAMPLES + 44100]  # 36.6 s: three parts
    separator = get_cached_separator("unet", device="cpu")
    whole = separate_with(separator, song, sr, cache=False)
    plan = plan_song_parts(separator, song.shape[1], sr)
    seen = []
    parts = list(iter_separated_parts(song, lambda s: separate_with(separator, s, sr, cache=False), parts=plan,
                                      progress=seen.append))
    assert [(a, b) for a, b, _ in parts] == [(a, b) for a, b, _, _ in plan] and len(parts) == 2
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    for name, stem in whole.items():
        joined = np.concatenate([p[name] for *_, p in parts], axis=1)
        assert joined.shape == stem.shape
        error = joined - stem
        assert 10 * np.log10(np.sum(stem ** 2) / np.sum(error ** 2)) > 60, name
        # the later parts are separated as kit.separate_blocks separates a block: exact
        assert np.max(np.abs(error[:, plan[1][0]:])) < 1e-5, name
        # at the join (the first part saw the end of its slice, not the song): no click
        edge = error[:, plan[1][0] - 4096:plan[1][0] + 4096]
        assert np.max(np.abs(edge)) < 1e-3, (name, np.max(np.abs(edge)))  # under -60 dBFS
