"""Separate a long song part by part, so that its start can be heard while the rest separates.

The karaoke maker shows the mixer as soon as the first part (12 s) is separated and
extends it part by part; parts double in length, so a 12-minute song takes six
steps and separating costs about a quarter more than in one go.

Each part is separated with context on both sides, which is then cut off. The cuts
fall on a grid of :data:`GRID_SAMPLES` (512 frames of hop 1024: the segment that
``unet`` sends through its network at once, counted from the song's start). The
context is one grid step before (so the slice's segments are the song's segments)
and one step plus an STFT window after, so for ``unet`` the segments that touch a
part see the same samples as in one go, but for the first two frames of the slice,
far from the part: the stems match the whole-song stems closely
(``tests/test_separate_parts.py`` measures it). Other models get 12 s of context
either side of each join.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plan_parts", "iter_separated_parts", "GRID_SAMPLES", "CONTEXT_BEFORE", "CONTEXT_AFTER"]

GRID_SAMPLES = 512 * 1024  # unet's segment: 11.9 s at 44.1 kHz
CONTEXT_BEFORE = GRID_SAMPLES
CONTEXT_AFTER = GRID_SAMPLES + 4096  # a whole segment and one STFT window (n_fft 4096)
QUICK_AFTER = 128 * 1024 + 4096  # 3 s: what the first part gets (see iter_separated_parts)


def plan_parts(n_samples: int, *, first_samples: int = GRID_SAMPLES, grid: int = GRID_SAMPLES) -> list[tuple]:
    """Where the parts of a song start and end: the first ``first_samples`` long, then twice as long each time.

    A tail shorter than half a grid step joins the part before it.

    Examples
    --------
    >>> [(a // GRID_SAMPLES, b // GRID_SAMPLES) for a, b in plan_parts(20 * GRID_SAMPLES)]
    [(0, 1), (1, 3), (3, 7), (7, 15), (15, 20)]
    """
    parts, a, size = [], 0, max(int(first_samples), 1)
    n = int(n_samples)
    while a < n:
        b = min(n, a + size)
        if n - b < grid // 2:
            b = n
        parts.append((a, b))
        a, size = b, size * 2
    return parts


def iter_separated_parts(y: np.ndarray, separate, *, first_samples: int = GRID_SAMPLES, quick_first: bool = True,
                         progress=None):
    """Separate ``y`` part by part; yield ``(start, end, stems)`` for each part in order.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    separate : callable
        ``separate(y_slice) -> dict of stems`` shaped like the slice (e.g. a
        :func:`kit.separators.api.separate_with` without the cache).
    first_samples : int
        Length of the first part (on the grid, for ``unet`` to match the whole).
    quick_first : bool
        Give the first part only an STFT window of context after it, not a whole
        segment: it is ready in half the time, and only its last 46 ms differ
        slightly from the whole-song stems (they are replaced by nothing: the
        second part starts after them, so the join is measured in the tests).
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
    >>> parts = list(iter_separated_parts(y, lambda s: {"half": s / 2}))
    >>> [(a, b) for a, b, _ in parts] == plan_parts(y.shape[1])
    True
    >>> bool(np.array_equal(np.concatenate([p["half"] for *_, p in parts], axis=1), y / 2))
    True
    """
    n = y.shape[1]
    plan = plan_parts(n, first_samples=first_samples)
    spans = [(max(0, a - CONTEXT_BEFORE), min(n, b + (QUICK_AFTER if quick_first and a == 0 else CONTEXT_AFTER)))
             for a, b in plan]
    total, done = sum(hi - lo for lo, hi in spans), 0
    for (a, b), (lo, hi) in zip(plan, spans, strict=True):
        stems = separate(y[:, lo:hi])
        done += hi - lo
        if progress is not None:
            progress(done / total)
        yield a, b, {name: np.ascontiguousarray(s[:, a - lo:b - lo]) for name, s in stems.items()}
