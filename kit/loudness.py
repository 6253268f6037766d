"""Loudness measurements in the units mixing engineers use (LUFS, LU, dBTP).

Two well-kept meters, each for what it does best:

* :func:`measure_loudness` - integrated loudness after ITU-R BS.1770, to a
  hundredth of a LU, for level balancing. It is pyloudnorm's meter (its K-weighting
  filters, 400 ms blocks every 100 ms, both gates) computed in numpy: the filters
  run once as one second-order-section cascade, the blocks' energies come from one
  sum per 100 ms hop, and channels that are copies of each other are weighted once.
  The same number as pyloudnorm's, 3-4 times sooner on stereo, 6 times on a centred
  voice. :func:`measure_block_energies` keeps the blocks, so the loudness after a
  gain is arithmetic (:func:`integrated_from_blocks`), not a new measurement.
* :func:`measure_ebur128` - FFmpeg's ``ebur128`` filter for the loudness range
  (EBU Tech 3342 LRA) and the true peak (4x oversampled), which pyloudnorm does
  not measure. FFmpeg prints them to 0.1 LU / 0.1 dB.
* :func:`compute_lra` - FFmpeg's loudness range computed in numpy, for searches
  that need many of them (automix's compressor); FFmpeg settles close calls.

Silence has no loudness: BS.1770 gates it away and the meters return ``-inf``.

See also
--------
notebooks/08_vocal_mixing.ipynb
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from .audio import check_audio
from .errors import AudioContentError
from .ffmpeg import run_ffmpeg

__all__ = ["measure_loudness", "measure_block_energies", "integrated_from_blocks", "k_weighting_sos",
           "measure_ebur128", "measure_true_peak", "measure_lra", "compute_lra", "db_to_gain", "compute_loudness_curve",
           "MIN_LOUDNESS_S"]

MIN_LOUDNESS_S = 0.4  # one BS.1770 gating block
_BLOCK_S, _STEP = 0.4, 0.25  # pyloudnorm's block and hop (75 % overlap), as fractions of a block
_ABSOLUTE_GATE_LUFS = -70.0
_CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, then the surrounds
_SUMMARY = {
    "integrated_lufs": re.compile(r"I:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*LUFS"),
    "lra_lu": re.compile(r"LRA:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*LU\b"),
    "true_peak_dbtp": re.compile(r"Peak:\s*(-?inf|nan|[-+]?\d+(?:\.\d+)?)\s*dBFS"),
}


def db_to_gain(gain_db: float) -> float:
    """Linear factor of a gain in dB: ``10 ** (gain_db / 20)``."""
    return 10.0 ** (float(gain_db) / 20.0)


@functools.cache
def k_weighting_sos(sr: int) -> np.ndarray:
    """The BS.1770 K-weighting (high shelf, then high pass) as second-order sections for ``sr``.

    pyloudnorm's coefficients (its ``IIRfilter`` design), so this weighting is its meter's.

    Examples
    --------
    >>> from kit.loudness import k_weighting_sos
    >>> k_weighting_sos(48000).shape
    (2, 6)
    """
    from pyloudnorm.iirfilter import IIRfilter

    rows = []
    for gain_db, q, fc, kind in ((4.0, 1 / math.sqrt(2), 1500.0, "high_shelf"), (0.0, 0.5, 38.0, "high_pass")):
        f = IIRfilter(gain_db, q, fc, int(sr), kind)
        rows.append(np.concatenate([f.b * f.passband_gain, f.a]))
    return np.array(rows)


def _distinct_channels(y: np.ndarray) -> tuple[np.ndarray, float]:
    """``(channels to weight, factor)``: identical channels (a centred mono voice) are weighted once."""
    if y.shape[0] in (2, 3) and all(np.array_equal(y[0], y[i]) for i in range(1, y.shape[0])):
        return y[:1], float(y.shape[0])  # the first three channels all have gain 1
    return y, 1.0


def measure_block_energies(y: np.ndarray, sr: int) -> np.ndarray:
    """Mean square of the K-weighted signal in each 400 ms BS.1770 block, summed over channels.

    The blocks start every 100 ms, at the samples pyloudnorm uses; channels are
    weighted by BS.1770's channel gains. A gain of ``g`` dB on ``y`` multiplies every
    value by ``10 ** (g / 10)``, so :func:`integrated_from_blocks` gives the loudness
    after any gain without filtering again.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        At least 0.4 s; up to 5 channels (L, R, C, Ls, Rs).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    energies : np.ndarray, float64, shape (blocks,)

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import integrated_from_blocks, measure_block_energies
    >>> t = np.arange(44100) / 44100
    >>> z = measure_block_energies(0.1 * np.sin(2 * np.pi * 1000 * t)[None], 44100)
    >>> z.shape, round(integrated_from_blocks(z), 1), round(integrated_from_blocks(z, gain_db=6.0), 1)
    ((7,), -23.0, -17.0)
    """
    y = check_audio(y, what="The audio to measure", min_samples=int(math.ceil(MIN_LOUDNESS_S * sr)))
    return _block_energies(y, sr)


def _block_energies(y: np.ndarray, sr: int) -> np.ndarray:
    from scipy import signal

    if y.shape[0] > len(_CHANNEL_GAINS):
        raise AudioContentError(f"The audio has {y.shape[0]} channels; BS.1770 loudness is defined for up to "
                                f"{len(_CHANNEL_GAINS)} (L, R, C, Ls, Rs). Mix it down first.")
    channels, factor = _distinct_channels(y)
    weighted = signal.sosfilt(k_weighting_sos(int(sr)), channels.astype(np.float64), axis=-1)
    n = y.shape[1]
    # block j spans [l_j, u_j): pyloudnorm's float arithmetic, so the boundaries are its samples
    n_blocks = int(np.round((n / sr - _BLOCK_S) / (_BLOCK_S * _STEP))) + 1
    j = np.arange(n_blocks, dtype=np.float64)
    lower = (_BLOCK_S * (j * _STEP) * sr).astype(np.int64)
    upper = np.minimum((_BLOCK_S * (j * _STEP + 1) * sr).astype(np.int64), n)
    # one sum per stretch between consecutive boundaries, then a short cumulative sum over them
    edges = np.unique(np.concatenate([lower, upper]))
    edges = edges[edges < n]
    energies = np.zeros(n_blocks)
    gains = np.asarray(_CHANNEL_GAINS[: channels.shape[0]])
    np.square(weighted, out=weighted)
    for x, gain in zip(weighted, gains, strict=True):
        seg = np.add.reduceat(x, edges)
        csum = np.concatenate([[0.0], np.cumsum(seg)])
        at = np.searchsorted(edges, lower), np.searchsorted(edges, upper, side="left")
        at_upper = np.where(upper >= n, seg.size, at[1])
        energies += gain * (csum[at_upper] - csum[at[0]])
    return energies * (factor / (_BLOCK_S * sr))


def integrated_from_blocks(energies: np.ndarray, *, gain_db: float = 0.0) -> float:
    """Gated integrated loudness (LUFS) from :func:`measure_block_energies`, after a gain of ``gain_db``.

    BS.1770-4 gating as pyloudnorm does it: blocks at or above -70 LUFS, then
    those above both -70 LUFS and the relative gate (their mean less 10 LU).
    ``-inf`` when no block passes.
    """
    z = np.asarray(energies, dtype=np.float64) * 10.0 ** (float(gain_db) / 10.0)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
    kept = block_lufs >= _ABSOLUTE_GATE_LUFS
    if not np.any(kept):
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(np.mean(z[kept]))) - 10.0
    kept = (block_lufs > relative) & (block_lufs > _ABSOLUTE_GATE_LUFS)
    if not np.any(kept):
        return -math.inf
    mean = float(np.mean(z[kept]))
    return -0.691 + 10.0 * math.log10(mean) if mean > 0 else -math.inf


def measure_loudness(y: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, gated), ``-inf`` for silence.

    pyloudnorm's meter, computed faster (see :func:`measure_block_energies`).

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
    y = check_audio(y, what="The audio to measure", min_samples=int(math.ceil(MIN_LOUDNESS_S * sr)))
    if not np.any(y):
        return -math.inf
    return integrated_from_blocks(_block_energies(y, sr))


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
    values = parse_ebur128_summary(proc.stderr)
    if not true_peak:
        values["true_peak_dbtp"] = math.nan
    return values


def parse_ebur128_summary(log: str) -> dict[str, float]:
    """The summary FFmpeg's ``ebur128`` filter prints at the end of ``log``.

    Returns ``integrated_lufs``, ``lra_lu`` and ``true_peak_dbtp`` (``nan`` for what is not in it,
    ``-inf`` for silence); :func:`kit.mix.write_backing_blocks` measures a streamed track this way.
    """
    text = log[log.rfind("Summary:"):]
    return {key: _parse(text, key) for key in ("integrated_lufs", "lra_lu", "true_peak_dbtp")}


@functools.cache
def _ebur128_sos(sr: int) -> np.ndarray:
    # FFmpeg's ebur128 filter's K-weighting, its "reversed parametrization" of the 48 kHz BS.1770
    # coefficients for any rate (f_ebur128.c, config_audio_in): pre-filter, then RLB high pass
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh, a0 = 10.0 ** (gain_db / 20.0), 1.0 + k / q + k * k
    vb = vh ** 0.4996667741545416
    pre = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
           1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + k / q + k * k
    rlb = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([pre, rlb])


def compute_lra(y: np.ndarray, sr: int) -> float:
    """Loudness range in LU (EBU Tech 3342) computed here the way FFmpeg's ``ebur128`` filter does.

    Same K-weighting coefficients, the same 3 s windows ending every 100 ms once
    3 s have passed, the same -70 LUFS and -20 LU gates and the same 0.01 LU
    histogram for the 10th and 95th percentiles, rounded to 0.1 LU as FFmpeg
    prints it: :func:`measure_lra`'s number without starting FFmpeg, so a search
    over many compressor settings can measure each one. Only the order of the
    floating-point sums differs, which can move a value sitting on a 0.05 LU
    rounding edge by 0.1 LU; callers that decide on a threshold confirm values
    near it with :func:`measure_lra`.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        One or two channels (FFmpeg weights both 1.0).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    lra_lu : float
        0 when no 3 s window reaches -70 LUFS (or the clip is shorter than 3 s).

    Examples
    --------
    >>> import numpy as np
    >>> from kit.loudness import compute_lra
    >>> t = np.arange(8 * 44100) / 44100
    >>> loud_then_soft = np.where(t < 4, 0.5, 0.05) * np.sin(2 * np.pi * 440 * t)
    >>> 15 < compute_lra(loud_then_soft[None], 44100) < 25
    True
    """
    from scipy import signal

    y = check_audio(y, what="The audio to measure")
    if y.shape[0] > 2:
        raise AudioContentError(f"The audio has {y.shape[0]} channels; compute_lra takes mono or stereo "
                                "(use measure_lra for more).")
    channels, factor = _distinct_channels(y)
    weighted = signal.sosfilt(_ebur128_sos(int(sr)), channels.astype(np.float64), axis=-1)
    np.square(weighted, out=weighted)
    power = (weighted[0] if weighted.shape[0] == 1 else np.sum(weighted, axis=0)) * factor
    n, hop, window = power.size, int(sr) // 10, 3 * int(sr)
    ends = np.arange(hop, n + 1, hop)
    ends = ends[ends >= window]  # FFmpeg reports a 3 s window once it is full
    if ends.size == 0:
        return 0.0
    edges = np.unique(np.concatenate([ends - window, ends]))
    csum = np.concatenate([[0.0], np.cumsum(np.add.reduceat(power, edges[edges < n]))])
    sums = csum[np.searchsorted(edges, ends)] - csum[np.searchsorted(edges, ends - window)]
    mean_square = np.maximum(sums, 0.0) / window
    loudness = -0.691 + 10.0 * np.log10(mean_square + np.finfo(np.float64).eps)
    kept = loudness >= _ABSOLUTE_GATE_LUFS
    if not np.any(kept):
        return 0.0
    grain, size = 100, 8001  # 0.01 LU bins from -70 to +10 LUFS
    counts = np.bincount(np.clip(np.rint((loudness[kept] + 70.0) * grain), 0, size - 1).astype(np.int64),
                         minlength=size)
    relative = -0.691 + 10.0 * math.log10(float(np.mean(mean_square[kept])) + np.finfo(np.float64).eps) - 20.0
    gate = int(np.clip(np.rint((relative + 70.0) * grain), 0, size - 1))
    total = int(np.sum(counts[gate:]))
    # FFmpeg's percentile walks: up from the gate to the 10th, down from the top to the 95th
    low_count = int(np.rint(10 * total * 0.01))
    low = gate + int(np.argmax(np.cumsum(counts[gate:]) >= low_count))
    high_count = int(np.rint(95 * total * 0.01))
    left = np.maximum(total - np.cumsum(counts[::-1]), 0)[::-1]  # what is left once bins >= i are taken
    high = int(np.flatnonzero(left < high_count)[-1])
    lra = (high / grain - 70.0) - (low / grain - 70.0)
    return float(f"{lra:.1f}")


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
