"""Loudness measurements in the units mixing engineers use (LUFS, LU, dBTP).

Two well-kept meters, each for what it does best:

* :func:`measure_loudness` - integrated loudness after ITU-R BS.1770 (pyloudnorm),
  to a hundredth of a LU, for level balancing.
* :func:`measure_ebur128` - FFmpeg's ``ebur128`` filter for the loudness range
  (EBU Tech 3342 LRA) and the true peak (4x oversampled), which pyloudnorm does
  not measure. FFmpeg prints them to 0.1 LU / 0.1 dB.

Silence has no loudness: BS.1770 gates it away and the meters return ``-inf``.

See also
--------
notebooks/08_vocal_mixing.ipynb
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from .audio import check_audio
from .errors import AudioContentError
from .ffmpeg import run_ffmpeg

__all__ = ["measure_loudness", "measure_ebur128", "measure_true_peak", "measure_lra", "db_to_gain",
           "compute_loudness_curve", "MIN_LOUDNESS_S"]

MIN_LOUDNESS_S = 0.4  # one BS.1770 gating block
_SUMMARY = {
    "integrated_lufs": re.compile(r"I:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*LUFS"),
    "lra_lu": re.compile(r"LRA:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*LU\b"),
    "true_peak_dbtp": re.compile(r"Peak:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*dBFS"),
}


def db_to_gain(gain_db: float) -> float:
    """Linear factor of a gain in dB: ``10 ** (gain_db / 20)``."""
    return 10.0 ** (float(gain_db) / 20.0)


def measure_loudness(y: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, gated), ``-inf`` for silence.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        At least 0.4 s.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    loudness_lufs : float

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import measure_loudness
    >>> t = np.arange(44100) / 44100
    >>> round(measure_loudness(0.1 * np.sin(2 * np.pi * 1000 * t)[None], 44100), 1)
    -23.0

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    import pyloudnorm

    y = check_audio(y, what="The audio to measure", min_samples=int(math.ceil(MIN_LOUDNESS_S * sr)))
    if not np.any(y):
        return -math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm's clipping note: peaks above 1.0 are fine in float
        value = pyloudnorm.Meter(int(sr)).integrated_loudness(np.asarray(y.T, dtype=np.float64))
    return float(value) if math.isfinite(value) else -math.inf


def _parse(text: str, key: str) -> float:
    found = _SUMMARY[key].findall(text)
    if not found:
        return math.nan
    value = found[-1]  # the summary comes last
    return -math.inf if value == "-inf" else float(value)


def measure_ebur128(y: np.ndarray, sr: int, *, true_peak: bool = True) -> dict[str, float]:
    """Integrated loudness, loudness range and true peak from FFmpeg's ``ebur128`` filter.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
        Sample rate in Hz.
    true_peak : bool
        Also measure the true peak (4x oversampled); a little slower.

    Returns
    -------
    values : dict
        ``integrated_lufs`` (LUFS), ``lra_lu`` (LU; 0 for clips shorter than one
        3 s window) and ``true_peak_dbtp`` (dBTP, ``nan`` when not measured).

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import measure_ebur128
    >>> t = np.arange(4 * 44100) / 44100
    >>> m = measure_ebur128(0.5 * np.sin(2 * np.pi * 1000 * t)[None], 44100)
    >>> round(m["true_peak_dbtp"])
    -6

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    y = check_audio(y, what="The audio to measure")
    data = np.ascontiguousarray(y.T, dtype="<f4")
    # framelog=verbose keeps the 10-per-second frame lines out of the output we parse
    spec = "ebur128=framelog=verbose" + (":peak=true" if true_peak else "")
    proc = run_ffmpeg(
        ["-f", "f32le", "-ar", str(int(sr)), "-ac", str(y.shape[0]), "-i", "pipe:0",
         "-af", spec, "-f", "null", "-"],
        input_bytes=memoryview(data).cast("B"), what="Loudness measurement",
    )
    text = proc.stderr[proc.stderr.rfind("Summary:"):]
    return {
        "integrated_lufs": _parse(text, "integrated_lufs"),
        "lra_lu": _parse(text, "lra_lu"),
        "true_peak_dbtp": _parse(text, "true_peak_dbtp") if true_peak else math.nan,
    }


def measure_lra(y: np.ndarray, sr: int) -> float:
    """Loudness range in LU (EBU Tech 3342) of a waveform; see :func:`measure_ebur128`.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import measure_lra
    >>> t = np.arange(8 * 44100) / 44100
    >>> loud_then_soft = np.where(t < 4, 0.5, 0.05) * np.sin(2 * np.pi * 440 * t)
    >>> 15 < measure_lra(loud_then_soft[None], 44100) < 25
    True
    """
    return measure_ebur128(y, sr, true_peak=False)["lra_lu"]


def measure_true_peak(y: np.ndarray, sr: int) -> float:
    """True peak in dBTP (the peak between samples too, FFmpeg's 4x oversampled meter).

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import measure_true_peak
    >>> t = np.arange(44100) / 44100
    >>> round(measure_true_peak(0.5 * np.sin(2 * np.pi * 1000 * t)[None], 44100))
    -6
    """
    return measure_ebur128(y, sr, true_peak=True)["true_peak_dbtp"]


def compute_loudness_curve(y: np.ndarray, sr: int, *, window_s: float = 3.0,
                           hop_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Loudness over time in LUFS: BS.1770 in a sliding window (3 s: "short-term", 0.4 s: "momentary").

    The loudness range (LRA) is the spread of the 3 s curve, so this is the
    curve to look at before and after compression.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
    window_s, hop_s : float
        Window length and step in seconds.

    Returns
    -------
    times_s : np.ndarray
        Centre of each window in seconds.
    loudness_lufs : np.ndarray
        ``-inf`` where the window is silent.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import compute_loudness_curve
    >>> t = np.arange(6 * 44100) / 44100
    >>> times, curve = compute_loudness_curve(0.1 * np.sin(2 * np.pi * 1000 * t)[None], 44100)
    >>> round(float(curve[5]), 1)
    -23.0

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    from .eq import k_weight

    y = check_audio(y, what="The audio to measure")
    power = np.sum(k_weight(y, sr) ** 2, axis=0)  # BS.1770 sums the channels' mean squares
    n, hop = int(round(window_s * sr)), max(1, int(round(hop_s * sr)))
    if power.size < n:
        raise AudioContentError(f"The audio is {power.size / sr:.1f} s long; a {window_s:g} s loudness window "
                                "needs at least that much. Use a longer clip or a shorter window_s.")
    csum = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, power.size - n + 1, hop)
    mean_square = (csum[starts + n] - csum[starts]) / n
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(mean_square)
    return (starts + n / 2) / sr, loudness
