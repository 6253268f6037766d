"""Run a whole-signal step (a key change, the vocal split) on a long song a block at a time.

A 6-hour song is separated block by block (:mod:`kit.separators.blocks`), but
the steps after separation were written for whole arrays: the key change
(:func:`kit.pitch.shift_pitch`) and the lead/backing split
(:func:`kit.vocal_split.split_stems`). Both only look a little way around each
moment (a few STFT frames, a pitch track), so :func:`map_with_context` gives
them each block with some seconds of the song on either side, keeps the
middle, and cross-fades the joins over a short overlap. Memory then holds one
block and its context, whatever the song's length.

The joins are not bit-exact with a whole-song run: a phase vocoder started at
another place gives the same notes with other phases, so the two versions are
cross-faded (50 ms, equal-gain). A sum the step keeps (lead + backing = vocals)
is kept exactly, since both sides of a fade keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

__all__ = ["map_with_context", "CONTEXT_S", "FADE_S"]

CONTEXT_S = 3.0  # seconds of the song given on each side of a block: longer than any window the steps use
FADE_S = 0.05  # joins are cross-faded over this long


def map_with_context(
    blocks: Iterable[dict[str, np.ndarray]],
    func: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    *,
    sr: int,
    context_s: float = CONTEXT_S,
    fade_s: float = FADE_S,
    align_s: float = 0.0,
) -> Iterator[dict[str, np.ndarray]]:
    """Apply ``func`` to a stream of consecutive blocks, each with context, and yield its output in order.

    Parameters
    ----------
    blocks : iterable of dict of str to np.ndarray, shape (channels, n)
        Consecutive pieces of the same signals (any lengths), e.g. the stems of
        :func:`kit.separators.blocks.iter_blocks`.
    func : callable
        Takes a dict of arrays (a stretch of the signals) and returns a dict of
        arrays of the same length (names may differ: a split adds two).
    sr : int
        Sample rate, for the context and fade lengths.
    context_s, fade_s : float
        Seconds of signal around each stretch ``func`` sees, and the cross-fade at the joins.
    align_s : float
        Before a join is cross-faded, the new stretch may be moved by up to this
        many seconds to line its waveform up with the old one's (the lag of
        largest correlation, as WSOLA time-stretchers do). Two phase-vocoder
        runs over the same notes differ in phase, and a plain cross-fade between
        them can lose 3 dB or more mid-fade; lined up, they add up.

    Yields
    ------
    out : dict of str to np.ndarray
        ``func``'s output, piece by piece; put together it is as long as the input.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.stream_map import map_with_context
    >>> y = np.random.default_rng(0).standard_normal((1, 44100 * 20)).astype(np.float32)
    >>> pieces = ({"y": y[:, i:i + 44100 * 6]} for i in range(0, y.shape[1], 44100 * 6))
    >>> out = np.concatenate([p["y"] for p in map_with_context(pieces, lambda d: {"y": d["y"] * 2}, sr=44100)], 1)
    >>> bool(np.allclose(out, 2 * y, atol=1e-6))
    True
    """
    context, fade = max(0, round(context_s * sr)), max(1, round(fade_s * sr))
    lag_max = min(max(0, round(align_s * sr)), context)
    buf: dict[str, np.ndarray] | None = None  # input from sample buf_start to the last sample read
    buf_start, emitted, carry = 0, 0, None  # carry: func's output for [emitted, emitted + fade) from before
    source = iter(blocks)
    at_end = False
    while not at_end:
        block = next(source, None)
        at_end = block is None
        if block is not None:
            buf = dict(block) if buf is None else {k: np.concatenate([buf[k], block[k]], axis=1) for k in buf}
        if buf is None:
            return
        end = buf_start + next(iter(buf.values())).shape[1]
        # final up to `stop`; output up to stop + fade is made now, to cross-fade with the next stretch
        stop = end if at_end else end - context - fade
        if stop <= emitted:
            continue
        lo = buf_start  # == max(0, emitted - context) after trimming below
        out = func({k: np.ascontiguousarray(v) for k, v in buf.items()})
        take_to = end if at_end else stop + fade
        lag = _best_lag(carry, out, emitted - lo, lag_max) if carry is not None and lag_max else 0
        piece = {k: _window(v, emitted - lo + lag, take_to - emitted) for k, v in out.items()}
        del out
        if carry is not None:
            n = min(fade, next(iter(piece.values())).shape[1])
            ramp = np.linspace(0.0, 1.0, n + 2, dtype=np.float32)[1:-1]
            for k in piece:
                piece[k] = piece[k].copy()
                piece[k][:, :n] = carry[k][:, :n] * (1 - ramp) + piece[k][:, :n] * ramp
        n_final = stop - emitted
        yield {k: v[:, :n_final] for k, v in piece.items()}
        carry = None if at_end else {k: v[:, n_final:].copy() for k, v in piece.items()}
        emitted = stop
        keep_from = max(0, emitted - context)
        buf = {k: v[:, keep_from - buf_start:].copy() for k, v in buf.items()}
        buf_start = keep_from


def _window(y: np.ndarray, start: int, n: int) -> np.ndarray:
    """``n`` samples of ``y`` from ``start``, zero past its end (a lag may reach past the song's last sample)."""
    part = np.asarray(y[:, start:start + n], dtype=np.float32)
    return part if part.shape[1] == n else np.pad(part, ((0, 0), (0, n - part.shape[1])))


def _best_lag(carry: dict, out: dict, at: int, lag_max: int) -> int:
    """The shift of ``out`` (around sample ``at``) whose waveform best matches ``carry``, in -lag_max..lag_max."""
    ref = sum(v.sum(axis=0, dtype=np.float64) for v in carry.values())
    n = ref.size
    lo, hi = max(0, at - lag_max), at + lag_max + n
    cand = sum(np.asarray(out[k][:, lo:hi]).sum(axis=0, dtype=np.float64) for k in carry)
    if cand.size < n + (at - lo) + 1:
        return 0
    corr = np.correlate(cand, ref, mode="valid")  # corr[i]: cand[i:i + n] against ref
    energy = np.convolve(cand ** 2, np.ones(n), mode="valid")[:corr.size]
    score = corr / np.sqrt(np.maximum(energy, 1e-20))
    return int(np.argmax(score)) + lo - at
