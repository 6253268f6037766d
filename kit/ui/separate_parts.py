"""Separate a long song part by part, so that its start can be heard while the rest separates.

The karaoke maker shows the mixer as soon as the first part is separated and
extends it part by part; parts double in length, so a 12-minute song takes six
steps and separating costs about a quarter more than in one go.

The first part is one of the model's own segments, the least it can separate:
``unet`` pads every input to whole 512-frame segments, so a part of one segment
costs half of one that reaches into a second (measured: 0.43 s of CPU against
0.9 s); Demucs cuts its input into segments of 7.8 s, overlapping by a quarter,
so a first part no longer than the step between them (less the random shift) is
one network call. Its last samples, which saw the slice's end rather than the
song, are left to the second part.

Every later part is separated as :func:`kit.separate_blocks` separates a block,
with the context the separator asks for (:meth:`~kit.separators.base.Separator.plan_blocks`),
starting on its segment grid, so for ``unet`` it equals the whole-song result
(``tests/test_separate_parts.py`` measures the joins).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plan_parts", "plan_song_parts", "iter_separated_parts", "GRID_SAMPLES"]

GRID_SAMPLES = 512 * 1024  # unet's segment: 11.9 s at 44.1 kHz
_DEMUCS_MAX_SHIFT_S = 0.5  # apply_model's random shift: the read it splits is up to this much longer


def plan_parts(n_samples: int, *, first: int, first_span: int | None = None, align: int = 1, left: int = 0,
               right: int = 0) -> list[tuple[int, int, int, int]]:
    """Where the parts of a song start and end, and the slice each is separated from.

    The first part is samples ``0:first``, separated from ``0:first_span``; each later
    part is twice as long as the one before, ends on the ``align`` grid, and is
    separated from a slice that starts on the grid at least ``left`` samples before it
    and ends ``right`` samples after it. A tail shorter than half the first part joins
    the part before it.

    Returns
    -------
    list of (start, end, slice_start, slice_end)

    Examples
    --------
    >>> G = GRID_SAMPLES
    >>> [(a // G, -(-b // G)) for a, b, _, _ in plan_parts(20 * G, first=G - 8192, first_span=G - 1, align=G)]
    [(0, 1), (0, 3), (3, 7), (7, 15), (15, 20)]
    """
    n, align = int(n_samples), max(1, int(align))
    first = max(1, min(int(first), n))
    span = n if first >= n else min(n, max(first, int(first_span or first)))
    if n - first < first // 2:
        return [(0, n, 0, n)]
    parts, a, size = [(0, first, 0, span)], first, 2 * first
    while a < n:
        b = min(n, -(-(a + size) // align) * align)
        if n - b < first // 2:
            b = n
        lo = max(0, (a - left) // align * align)
        parts.append((a, b, lo, min(n, b + right)))
        a, size = b, size * 2
    return parts


def plan_song_parts(separator, n_samples: int, sr: int) -> list[tuple[int, int, int, int]]:
    """:func:`plan_parts` for ``separator`` on a song of ``n_samples`` at ``sr`` Hz: its segment first.

    Examples
    --------
    >>> import kit
    >>> plan = plan_song_parts(kit.get_separator("unet"), 60 * 44100, 44100)
    >>> plan[0] == (0, GRID_SAMPLES - 8192, 0, GRID_SAMPLES - 1)  # one segment, less its end
    True
    """
    work_sr = int(separator.sample_rate or sr)
    plan = separator.plan_blocks(work_sr)
    scale = sr / work_sr
    align = max(1, round(plan.align * scale))
    left, right = math.ceil(plan.left * scale), math.ceil(plan.right * scale)
    if plan.align > 1:
        # a model on a segment grid (unet): it counts 1 + n // hop frames, so one sample less than
        # a segment is one segment; its last frames saw the slice's end, so two windows are left out
        window = right - align
        span = align - 1
        first = align - 2 * window
    else:
        span = round(_first_block_s(separator) * sr)
        # its last second saw the slice's end: the next part, with context, has it
        first = span - min(round(plan.fade * scale), span // 4)
    return plan_parts(n_samples, first=first, first_span=span, align=align, left=left, right=right)


def _first_block_s(separator) -> float:
    """Seconds of song the separator takes in one network call (its first block)."""
    overlap = getattr(separator, "overlap", None)
    if overlap is None:  # no segments of its own (classical methods): a part about unet's size
        return GRID_SAMPLES / 44100
    from ..separators.demucs import _model_segment_s

    # the segment it was asked for, else the loaded model's own (7.8 s for htdemucs)
    segment = getattr(separator, "segment", None) or _model_segment_s(separator.model)
    # Demucs steps (1 - overlap) segments at a time over its input, read up to max_shift later
    shift = _DEMUCS_MAX_SHIFT_S if getattr(separator, "shifts", 0) else 0.0
    return (1 - float(overlap)) * float(segment) - shift


def iter_separated_parts(y: np.ndarray, separate, *, parts: list, progress=None):
    """Separate ``y`` part by part as ``parts`` (from :func:`plan_parts`) say; yield ``(start, end, stems)``.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    separate : callable
        ``separate(y_slice) -> dict of stems`` shaped like the slice (e.g. a
        :func:`kit.separators.api.separate_with` without the cache).
    parts : list of (start, end, slice_start, slice_end)
    progress : callable, optional
        Fraction 0..1 of the work (context included) done after each part.

    Yields
    ------
    start, end : int
        Samples of the song this part covers.
    stems : dict of str to np.ndarray, shape (channels, end - start)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((2, 3 * GRID_SAMPLES)).astype(np.float32)
    >>> plan = plan_parts(y.shape[1], first=1000, first_span=1500, left=100, right=200)
    >>> parts = list(iter_separated_parts(y, lambda s: {"half": s / 2}, parts=plan))
    >>> bool(np.array_equal(np.concatenate([p["half"] for *_, p in parts], axis=1), y / 2))
    True
    """
    total, done = sum(hi - lo for _, _, lo, hi in parts), 0
    for a, b, lo, hi in parts:
        stems = separate(y[:, lo:hi])
        done += hi - lo
        if progress is not None:
            progress(done / total)
        yield a, b, {name: np.ascontiguousarray(s[:, a - lo:b - lo]) for name, s in stems.items()}
