"""Change the key of a track without moving it in time, and cut a section out of it.

A singer who wants a song one semitone lower needs every note lower and every
beat exactly where it was: same length, no offset, no slow drift. The pitch
shifter is Rubber Band's high-quality ("finer", R3) engine through
``pedalboard.time_stretch``. It moves pitch exactly, bass included (the older
R2 engine behind ``pedalboard.PitchShift`` left much of a 55-110 Hz bass line at
its old pitch when we measured it). In offline mode that engine runs slightly
fast or slow, though: the content drifts by a steady -0.30 % to +0.12 %
depending on the shift (-1 semitone: -0.14 %, i.e. 0.35 s late after 4 minutes).
The drift does not depend on the music, so :func:`shift_pitch` measures it once
per (rate, shift) on a click track and undoes it by resampling. What is left is
under about 1 ms of offset and a pitch error equal to the drift (at most 0.3 %,
5 cents; 2.4 cents at -1 semitone).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from .audio import check_audio
from .errors import KitWarning, OptionError
from .progress import Progress, report

__all__ = ["shift_pitch", "shift_pitch_in_blocks", "trim", "check_section", "measure_drift", "SEMITONE_RANGE"]

SEMITONE_RANGE = (-12.0, 12.0)

# Calibration click track: long enough that the fitted drift is good to ~0.003 %
# (7 ms after 4 minutes); short enough to cost well under a second.
_CALIBRATION_S = 16.0
_CLICK_PERIOD_S = 0.5


def check_semitones(semitones) -> float:
    try:
        value = float(semitones)
    except (TypeError, ValueError):
        raise OptionError(f"semitones={semitones!r} is not a number; give e.g. -1 or 2.5.") from None
    lo, hi = SEMITONE_RANGE
    if not math.isfinite(value) or not lo <= value <= hi:
        raise OptionError(
            f"A key shift of {semitones} semitones is out of range; use a value from {lo:g} to {hi:g} "
            "(e.g. -2 for two semitones lower)."
        )
    return value


def _stretch(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    import pedalboard

    out = pedalboard.time_stretch(np.ascontiguousarray(y, dtype=np.float32), float(sr),
                                  stretch_factor=1.0, pitch_shift_in_semitones=float(semitones),
                                  high_quality=True)
    return np.asarray(out, dtype=np.float32)


def _burst_centroids(y: np.ndarray, starts: np.ndarray, sr: int) -> np.ndarray:
    """Energy centre of each burst (samples); robust to the smearing a pitch shift adds."""
    e = y[0].astype(np.float64) ** 2
    out = []
    for p in starts:
        a, b = max(0, p - int(0.1 * sr)), min(e.size, p + int(0.25 * sr))
        w = e[a:b]
        out.append(np.sum(w * np.arange(a, b)) / max(np.sum(w), 1e-30))
    return np.asarray(out)


@functools.lru_cache(maxsize=64)
def measure_drift(sr: int, semitones: float) -> tuple[float, float]:
    """Measure how far the pitch shifter runs fast or slow, on a click track.

    Parameters
    ----------
    sr : int
        Sample rate in Hz (the drift depends on it).
    semitones : float
        The shift.

    Returns
    -------
    drift : float
        Relative timing error: content at time ``t`` comes out at ``t * (1 + drift)``.
    offset_s : float
        Constant offset left over, in seconds (positive: late).

    Examples
    --------
    >>> from kit.pitch import measure_drift
    >>> drift, offset_s = measure_drift(44100, -1.0)
    >>> abs(drift) < 0.005 and abs(offset_s) < 0.005
    True
    """
    rng = np.random.default_rng(0)
    n = int(_CALIBRATION_S * sr)
    t = np.arange(int(0.03 * sr)) / sr
    burst = (rng.standard_normal(t.size) * np.exp(-t * 150.0) * 0.5).astype(np.float32)
    starts = (np.arange(0.25, _CALIBRATION_S - 0.3, _CLICK_PERIOD_S) * sr).astype(int)
    clicks = np.zeros((1, n), np.float32)
    for p in starts:
        clicks[0, p:p + burst.size] += burst
    shifted = _stretch(clicks, sr, semitones)
    c_in = _burst_centroids(clicks, starts, sr)
    c_out = _burst_centroids(shifted, starts, sr)
    drift, offset = np.polyfit(c_in, c_out - c_in, 1)
    return float(drift), float(offset / sr)


def shift_pitch(y: np.ndarray, sr: int, *, semitones: float, progress: Progress = None) -> np.ndarray:
    """Shift the key by ``semitones``, keeping the length and the timing.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        Waveform.
    sr : int
        Sample rate in Hz.
    semitones : float
        -12 to 12; negative is lower. Fractions are allowed (0.5 = a quarter tone).
    progress : callable, optional
        Called with a fraction 0..1.

    Returns
    -------
    y_shifted : np.ndarray, float32, same shape as ``y``
        Same number of samples; every onset within about a millisecond of where it was.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.pitch import shift_pitch
    >>> y = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)[None].astype(np.float32)
    >>> shift_pitch(y, 44100, semitones=-2).shape
    (1, 44100)

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    semitones = check_semitones(semitones)
    y = check_audio(y, what="The audio to shift")
    n = y.shape[1]
    if semitones == 0.0:
        return y.copy()
    report(progress, 0.0)
    drift, _ = measure_drift(int(sr), semitones)
    report(progress, 0.1)
    out = _stretch(y, sr, semitones)
    report(progress, 0.8)
    if abs(drift) > 1e-6:
        import soxr

        # Reading the output (1 + drift) samples per sample puts content back at its time.
        out = soxr.resample(np.ascontiguousarray(out.T), sr * (1.0 + drift), sr, quality="VHQ").T
    out = np.asarray(out, dtype=np.float32)
    if out.shape[1] >= n:
        out = out[:, :n]
    else:
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    report(progress, 1.0)
    return np.ascontiguousarray(out)


def shift_pitch_in_blocks(blocks, sr: int, *, semitones: float):
    """:func:`shift_pitch` of a long track that comes a block at a time; yields the shifted track in pieces.

    Each block is shifted with a few seconds of the track on either side
    (:func:`kit.stream_map.map_with_context`), and consecutive pieces are lined up
    by up to 5 ms and cross-faded over 50 ms: two runs of the shifter over the same
    notes differ in phase, and lined up they do not dip in level at the join.
    Timing stays within about 5 ms; memory holds one block.

    Parameters
    ----------
    blocks : iterable of np.ndarray, shape (channels, n)
        Consecutive pieces of the track.
    sr : int
        Sample rate in Hz.
    semitones : float
        As for :func:`shift_pitch`.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.pitch import shift_pitch_in_blocks
    >>> y = np.sin(2 * np.pi * 440 * np.arange(44100 * 12) / 44100)[None].astype(np.float32)
    >>> pieces = shift_pitch_in_blocks((y[:, i:i + 44100 * 4] for i in range(0, y.shape[1], 44100 * 4)), 44100,
    ...                                semitones=-2)
    >>> sum(p.shape[1] for p in pieces) == y.shape[1]
    True
    """
    from .stream_map import map_with_context

    semitones = check_semitones(semitones)
    pieces = map_with_context(({"y": y} for y in blocks),
                              lambda d: {"y": shift_pitch(d["y"], sr, semitones=semitones)}, sr=sr,
                              align_s=_ALIGN_S)
    return (piece["y"] for piece in pieces)


_ALIGN_S = 0.005  # joins of a streamed key change are lined up by up to 5 ms


def check_section(n_samples: int, sr: int, *, start_s: float | None = None,
                  end_s: float | None = None) -> tuple[int, int]:
    """Turn ``start_s``/``end_s`` into sample indices ``(a, b)``, checking them against the length.

    ``a = round(start_s * sr)`` is the first sample kept and ``b = round(end_s * sr)``
    the first left out. An end past the song is clipped to it, with a note.

    Examples
    --------
    >>> from kit.pitch import check_section
    >>> check_section(44100, 44100, start_s=0.25, end_s=0.5)
    (11025, 22050)
    """
    duration_s = n_samples / sr
    for name, value in (("start", start_s), ("end", end_s)):
        if value is not None:
            try:
                ok = math.isfinite(float(value)) and float(value) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise OptionError(f"--{name} {value} is not a time in the song; give seconds from 0 up.")
    a = 0 if start_s is None else int(round(float(start_s) * sr))
    b = n_samples if end_s is None else int(round(float(end_s) * sr))
    if start_s is not None and a >= n_samples:
        raise OptionError(
            f"--start {start_s:g} s is at or past the end of the song ({duration_s:.1f} s); give an earlier start."
        )
    if end_s is not None and start_s is not None and b <= a:
        raise OptionError(f"--end {end_s:g} s must come after --start {start_s:g} s.")
    if end_s is not None and b <= 0:
        raise OptionError(f"--end {end_s:g} s leaves nothing; give an end after 0 s.")
    if b > n_samples:
        warnings.warn(
            f"--end {end_s:g} s is past the end of the song ({duration_s:.2f} s); the track runs to the end.",
            KitWarning, stacklevel=3,
        )
        b = n_samples
    return a, b


def trim(y: np.ndarray, sr: int, *, start_s: float | None = None, end_s: float | None = None) -> np.ndarray:
    """Cut ``start_s``..``end_s`` out of a waveform, at exact sample positions.

    Sample ``round(start_s * sr)`` becomes the first one; ``round(end_s * sr)``
    is the first one left out. An end past the song is clipped to the song, with a note.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
        Sample rate in Hz.
    start_s, end_s : float, optional
        Seconds from the start of ``y``; None keeps that end.

    Returns
    -------
    y_cut : np.ndarray, float32, shape (channels, samples_cut)

    Examples
    --------
    >>> import numpy as np
    >>> from kit.pitch import trim
    >>> trim(np.zeros((2, 44100), np.float32), 44100, start_s=0.25, end_s=0.5).shape
    (2, 11025)
    """
    y = np.asarray(y)
    a, b = check_section(y.shape[-1], sr, start_s=start_s, end_s=end_s)
    return np.ascontiguousarray(y[..., a:b], dtype=np.float32)
