"""Mix a recorded vocal over a backing track by rules, each step measured and explained.

After Li and Lerch, "Autonomous Vocal and Backing Track Mixing": a rule-based
mixer that does what a mixing engineer would do first, in this order:

1. **Timing** - cross-correlate the vocal with the original vocal (or else the
   backing) and move it by the latency found.
2. **Noise gate** - silence the room noise between phrases.
3. **Level** - integrated loudness (BS.1770) of both; one gain puts the vocal
   0.5 LU below the backing, which lands it about 3 dB under the full mix,
   where professional mixes have it.
4. **Compression** - 3:1 from a 0 dB threshold, 3 dB lower and 0.1 more ratio per
   step, until the vocal's loudness range (EBU LRA) is at most 16.7 LU or the
   threshold passes -35 dB.
5. **EQ unmasking** - octave bands where the backing hides the voice get a boost,
   bands the voice crowds get a cut (see :mod:`kit.eq`).
6. **Reverb** - its time from the song's tempo, ``RT = -T/45 + 40/9`` s, its
   return 14 LU below the mix (see :mod:`kit.reverb`).
7. **Output** - the sum, turned down if needed so the true peak is at most -1 dBTP.

Every step returns the processed audio and a dict of what it measured and did,
with a ``summary`` sentence for the singer. :func:`automix` runs them all and
returns the mix and a :class:`MixReport` (a dict with ``as_text()``).

See also
--------
notebooks/08_vocal_mixing.ipynb
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .audio import check_audio, to_mono
from .errors import AudioContentError, OptionError
from .loudness import (
    compute_lra,
    db_to_gain,
    integrated_from_blocks,
    measure_block_energies,
    measure_ebur128,
    measure_loudness,
    measure_lra,
)
from .progress import Progress, report

__all__ = [
    "automix",
    "align_vocal",
    "apply_noise_gate",
    "balance_levels",
    "compress_vocal",
    "unmask_vocal",
    "add_reverb",
    "estimate_tempo",
    "finish_mix",
    "format_report",
    "MixReport",
    "MIN_DURATION_S",
    "TARGET_LU",
    "MAX_LRA_LU",
]

MIN_DURATION_S = 3.0  # one EBU loudness-range window
TARGET_LU = -0.5  # vocal minus backing, Li and Lerch's choice
MAX_LRA_LU = 16.7  # 15.7 LU (MUSDB18 vocals' mean) + 1
# compute_lra agrees with FFmpeg's LRA to 0.1 LU on almost every signal (never more than 0.2 LU seen);
# a step whose range is further than this from the limit cannot decide differently
_LRA_MARGIN_LU = 1.0
_SILENT_LUFS = -70.0  # BS.1770's absolute gate: quieter than this counts as no signal
# work that overlaps the main thread's: the tempo, a reverb pass, an FFmpeg measurement
_BACKGROUND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kit-automix")
_STEP_ORDER = ("alignment", "noise_gate", "level", "compression", "eq", "reverb", "output")
_TITLES = {
    "alignment": "Timing", "noise_gate": "Noise gate", "level": "Level balance", "compression": "Compression",
    "eq": "EQ unmasking", "reverb": "Reverb", "output": "Output",
}


# --- checks ---------------------------------------------------------------------


def _check_signal(y, sr: int, what: str) -> np.ndarray:
    y = check_audio(y, what=what)
    if y.shape[1] < MIN_DURATION_S * sr:
        raise AudioContentError(
            f"{what} is too short ({y.shape[1] / sr:.1f} s); automix needs at least {MIN_DURATION_S:g} s "
            "(one loudness-range window). Record or choose a longer take."
        )
    # a peak under -70 dBFS cannot make -70 LUFS; quieter-than-that signals with a loud click are
    # caught by balance_levels, which measures the loudness anyway (one measurement fewer here)
    if not float(np.max(np.abs(y))) > db_to_gain(_SILENT_LUFS):
        raise AudioContentError(
            f"{what} is silent (nothing louder than {_SILENT_LUFS:g} LUFS); check the file or the microphone."
        )
    return y


def _check_sr(sr, backing_sr, reference_sr) -> int:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr < 8000:
        raise OptionError(f"sr={sr!r} is not a sample rate; give the rate in Hz, e.g. 44100.")
    for name, other in (("backing", backing_sr), ("reference vocal", reference_sr)):
        if other is not None and int(other) != int(sr):
            raise AudioContentError(
                f"The vocal is at {int(sr)} Hz but the {name} at {int(other)} Hz; resample one to match "
                f"(kit.load(path, sr={int(other)}), or `kit automix --resample`)."
            )
    return int(sr)


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if y.shape[1] >= n:
        return np.ascontiguousarray(y[:, :n])
    return np.pad(y, ((0, 0), (0, n - y.shape[1])))


def _per_distinct_channel(process, y: np.ndarray) -> np.ndarray:
    """``process(y)``, run on one channel when all channels are the same (the centred voice).

    The gate, compressor and EQ treat identical channels identically, so one
    channel, copied, is the same result at a fraction of the work.
    """
    if y.shape[0] > 1 and all(np.array_equal(y[0], y[i]) for i in range(1, y.shape[0])):
        return np.repeat(np.asarray(process(np.ascontiguousarray(y[:1])), dtype=np.float32), y.shape[0], axis=0)
    return process(y)


# --- 1. timing ------------------------------------------------------------------


def align_vocal(vocal: np.ndarray, reference: np.ndarray, sr: int, *, max_offset_s: float = 1.0,
                against: str = "the backing track", min_clarity: float = 6.0) -> tuple[np.ndarray, dict]:
    """Find the vocal's latency by FFT cross-correlation with a reference and undo it.

    Parameters
    ----------
    vocal : np.ndarray, shape (channels, samples)
    reference : np.ndarray, shape (channels, samples)
        The original vocal (best: same singing) or the backing track (weaker cue).
    sr : int
        Sample rate in Hz.
    max_offset_s : float
        Largest latency searched, either way.
    against : str
        What the reference is, for the report.
    min_clarity : float
        How far (in standard deviations of the correlation) the peak must stand
        out; below it the vocal is left where it is, because a guess would do harm.

    Returns
    -------
    aligned : np.ndarray, same shape as ``vocal``
        Shifted by whole samples (zeros fill the gap).
    info : dict
        ``offset_ms`` (positive: the vocal was late), ``offset_samples``,
        ``clarity``, ``shifted`` and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import align_vocal
    >>> x = np.random.default_rng(0).standard_normal((1, 44100)).astype(np.float32)
    >>> late = np.pad(x, ((0, 0), (441, 0)))[:, :44100]
    >>> _, info = align_vocal(late, x, 44100)
    >>> info["offset_samples"], info["offset_ms"]
    (441, 10.0)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    from scipy import signal

    v = to_mono(check_audio(vocal, what="The vocal"))[0].astype(np.float64)
    r = to_mono(check_audio(reference, what="The reference"))[0].astype(np.float64)
    lags = signal.correlation_lags(v.size, r.size, mode="full")
    lags = lags[np.abs(lags) <= int(max_offset_s * sr)]
    corr = _correlate_lags(v, r, int(lags[0]), int(lags[-1]))
    best = int(np.argmax(corr))
    lag = int(lags[best])
    spread = float(np.std(corr)) or 1.0
    clarity = float((corr[best] - np.mean(corr)) / spread)
    shifted = clarity >= min_clarity and lag != 0
    ms = 1000.0 * lag / sr
    if not shifted:
        out = np.array(vocal, dtype=np.float32, copy=True)
        if lag == 0 and clarity >= min_clarity:
            summary = f"Your voice is already in time with {against} (offset 0 ms); nothing moved."
        else:
            summary = (f"No clear timing match with {against} (clarity {clarity:.1f}, needs {min_clarity:g}); "
                       "your voice was left where it is. Give the original vocal as the reference for a sure match.")
    else:
        out = _shift(np.asarray(vocal, dtype=np.float32), -lag)
        direction = "late" if lag > 0 else "early"
        summary = (f"Your voice came in {abs(ms):.1f} ms {direction} compared with {against}; "
                   f"moved it {abs(ms):.1f} ms {'earlier' if lag > 0 else 'later'}.")
    info = {"offset_ms": round(ms, 2), "offset_samples": lag if shifted or lag == 0 else 0,
            "found_offset_samples": lag, "against": against, "clarity": round(clarity, 1),
            "shifted": bool(shifted), "summary": summary}
    return out, info


def _correlate_lags(v: np.ndarray, r: np.ndarray, first: int, last: int) -> np.ndarray:
    """``sum_n v[n + lag] * r[n]`` for the lags ``first..last`` only, block by block (overlap-save).

    The same values as the full FFT cross-correlation at those lags, but each FFT
    is a few hundred thousand points instead of twice the song, which is several
    times faster on a whole song.
    """
    from scipy import fft

    span = last - first
    size = fft.next_fast_len(max(4 * (span + 1), 1 << 16), real=True)
    block = size - span
    # w[k] = v[k + first] (zero outside v), so lag first + k pairs r[n] with w[n + k], k = 0..span
    w = np.zeros(r.size + span)
    lo, hi = max(0, -first), min(w.size, v.size - first)
    if hi > lo:
        w[lo:hi] = v[lo + first: hi + first]
    out = np.zeros(span + 1)
    for start in range(0, r.size, block):
        h = r[start: start + block]
        x = w[start: start + block + span]
        # block + span <= size: the circular correlation does not wrap for the lags kept
        spectrum = np.conj(fft.rfft(h, size)) * fft.rfft(x, size)
        out += fft.irfft(spectrum, size)[: span + 1]
    return out


def _shift(y: np.ndarray, n: int) -> np.ndarray:
    """Move ``y`` by ``n`` samples (positive: later), keeping its length."""
    if n == 0:
        return y.copy()
    if n > 0:
        return np.pad(y, ((0, 0), (n, 0)))[:, : y.shape[1]]
    return np.pad(y[:, -n:], ((0, 0), (0, -n)))


# --- 2. noise gate ----------------------------------------------------------------


def _frame_peak_db(y: np.ndarray, sr: int, *, frame_s: float = 0.05) -> np.ndarray:
    # peaks, not RMS: the gate's detector follows the peaks, and noise peaks ~12 dB over its RMS
    x = to_mono(y)[0].astype(np.float64)
    n = max(1, int(frame_s * sr))
    frames = x[: x.size // n * n].reshape(-1, n)
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.max(np.abs(frames), axis=1))


def apply_noise_gate(y: np.ndarray, sr: int, *, threshold_db: float | None = None,
                     what: str = "your voice") -> tuple[np.ndarray, dict]:
    """Close a noise gate (pedalboard.NoiseGate) on the quiet parts between phrases.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
    threshold_db : float, optional
        Gate threshold in dBFS. By default 6 dB above the noise floor (the
        10th percentile of the peaks of 50 ms frames), but at least 25 dB under
        the loud parts, so quiet singing stays open.
    what : str
        Name used in the summary.

    Returns
    -------
    gated : np.ndarray, same shape
    info : dict
        ``threshold_db``, ``noise_floor_db``, ``loud_db``, ``closed_percent`` and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import apply_noise_gate
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.standard_normal((1, 88200)) * 0.001).astype(np.float32)
    >>> y[:, :44100] += np.sin(np.arange(44100) * 0.06).astype(np.float32) * 0.5
    >>> gated, info = apply_noise_gate(y, 44100)
    >>> bool(np.std(gated[:, 60000:]) < 0.2 * np.std(y[:, 60000:]))
    True

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    import pedalboard

    y = check_audio(y, what="The audio to gate")
    levels = _frame_peak_db(y, sr)
    finite = levels[np.isfinite(levels)]
    floor_db = float(np.percentile(finite, 10)) if finite.size else -120.0
    loud_db = float(np.percentile(finite, 95)) if finite.size else -120.0
    if threshold_db is None:
        threshold_db = min(max(floor_db + 6.0, -80.0), loud_db - 25.0)
    gate = pedalboard.NoiseGate(threshold_db=float(threshold_db), ratio=10.0, attack_ms=1.0, release_ms=100.0)
    out = _per_distinct_channel(lambda x: gate(x, int(sr)), y)
    closed = float(np.mean(levels < threshold_db) * 100.0) if levels.size else 0.0
    summary = (f"Quiet parts of {what} below {threshold_db:.0f} dBFS are turned down "
               f"(background noise peaks at {floor_db:.0f} dBFS, the loud parts at {loud_db:.0f} dBFS); "
               f"the gate was closed {closed:.0f}% of the time.")
    return out, {"threshold_db": round(float(threshold_db), 1), "noise_floor_db": round(floor_db, 1),
                 "loud_db": round(loud_db, 1), "closed_percent": round(closed, 1), "summary": summary}


# --- 3. level -----------------------------------------------------------------------


def balance_levels(vocal: np.ndarray, backing: np.ndarray, sr: int, *,
                   target_lu: float = TARGET_LU) -> tuple[np.ndarray, dict]:
    """One gain on the vocal so vocal minus backing integrated loudness is ``target_lu``.

    Parameters
    ----------
    vocal, backing : np.ndarray, shape (channels, samples)
    sr : int
    target_lu : float
        Vocal loudness minus backing loudness in LU; -0.5 by default.

    Returns
    -------
    vocal_out : np.ndarray
    info : dict
        ``vocal_lufs``, ``backing_lufs``, ``difference_before_lu``, ``gain_db``,
        ``difference_after_lu``, ``vocal_in_mix_lu`` (vocal minus the vocal+backing sum) and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import balance_levels
    >>> rng = np.random.default_rng(0)
    >>> v, b = rng.standard_normal((2, 1, 44100)).astype(np.float32) * [[[0.01]], [[0.1]]]
    >>> _, info = balance_levels(v, b, 44100)
    >>> round(info["gain_db"]), info["difference_after_lu"]
    (19, -0.5)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    target_lu = float(target_lu)
    if not (math.isfinite(target_lu) and -20.0 <= target_lu <= 20.0):
        raise OptionError(f"Target {target_lu} LU is out of range; use -20 to 20 (the paper uses -0.5).")
    lv, lb = measure_loudness(vocal, sr), measure_loudness(backing, sr)
    if not (lv > _SILENT_LUFS and lb > _SILENT_LUFS):
        which = "vocal" if not lv > _SILENT_LUFS else "backing track"
        raise AudioContentError(f"The {which} is silent, so there is no level to balance; check the file.")
    gain_db = target_lu - (lv - lb)
    out = (np.asarray(vocal, dtype=np.float32) * np.float32(db_to_gain(gain_db))).astype(np.float32)
    after = lv + gain_db - lb  # loudness moves exactly with a gain
    in_mix = lv + gain_db - measure_loudness(_sum(out, backing), sr)
    louder = "louder" if lv > lb else "quieter"
    summary = (f"Your voice measured {lv:.1f} LUFS and the backing {lb:.1f} LUFS, so it was {abs(lv - lb):.1f} LU "
               f"{louder} than the band. Turned it {'up' if gain_db >= 0 else 'down'} by {abs(gain_db):.1f} dB so it "
               f"sits {abs(after):.1f} LU {'below' if after < 0 else 'above'} the backing; in the mix your voice is "
               f"{in_mix:+.1f} LU from the whole (professional mixes: about -3).")
    return out, {"vocal_lufs": round(lv, 2), "backing_lufs": round(lb, 2), "difference_before_lu": round(lv - lb, 2),
                 "target_lu": target_lu, "gain_db": round(gain_db, 2), "difference_after_lu": round(after, 2),
                 "vocal_in_mix_lu": round(in_mix, 2), "summary": summary}


def _sum(vocal: np.ndarray, backing: np.ndarray) -> np.ndarray:
    v, b = np.asarray(vocal, np.float32), np.asarray(backing, np.float32)
    if v.shape[0] != b.shape[0]:  # a mono vocal goes to the middle of a stereo backing
        v = np.broadcast_to(to_mono(v), b.shape)
    return (v + b).astype(np.float32)


def _match_loudness(y: np.ndarray, sr: int, target_lufs: float, *,
                    measured_lufs: float | None = None) -> tuple[np.ndarray, float]:
    gain_db = target_lufs - (measure_loudness(y, sr) if measured_lufs is None else measured_lufs)
    return (y * np.float32(db_to_gain(gain_db))).astype(np.float32), float(gain_db)


# --- 4. compression -------------------------------------------------------------------


def compress_vocal(vocal: np.ndarray, sr: int, *, max_lra_lu: float = MAX_LRA_LU, start_threshold_db: float = 0.0,
                   start_ratio: float = 3.0, threshold_step_db: float = -3.0, ratio_step: float = 0.1,
                   lowest_threshold_db: float = -35.0, attack_ms: float = 30.0,
                   release_ms: float = 200.0) -> tuple[np.ndarray, dict]:
    """Compress the vocal step by step until its loudness range is at most ``max_lra_lu``.

    The vocal is first scaled so its peak is at 0 dBFS (so thresholds count down
    from the loudest moment); each step compresses that copy with
    pedalboard.Compressor and measures the loudness range (EBU Tech 3342) with
    FFmpeg. The result gets make-up gain back to the vocal's loudness before
    compression, so the level balance stays.

    Parameters
    ----------
    vocal : np.ndarray, shape (channels, samples)
    sr : int
    max_lra_lu : float
        Stop once the loudness range is at most this (15.7 +/- 1 LU target).
    start_threshold_db, start_ratio, threshold_step_db, ratio_step : float
        0 dB and 3:1 to start; -3 dB and +0.1 per step.
    lowest_threshold_db : float
        Give up once the next threshold would pass this.
    attack_ms, release_ms : float

    Returns
    -------
    vocal_out : np.ndarray
    info : dict
        ``lra_before_lu``, ``steps`` (each ``threshold_db``, ``ratio``, ``lra_lu``),
        ``threshold_db``/``ratio`` used (``None`` when no compression was needed),
        ``lra_after_lu``, ``reached``, ``stopped_because``, ``makeup_gain_db`` and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import compress_vocal
    >>> t = np.arange(8 * 44100) / 44100
    >>> steady = (0.3 * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32)
    >>> _, info = compress_vocal(steady, 44100)
    >>> info["steps"], info["reached"]
    ([], True)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    import pedalboard

    y = np.asarray(vocal, dtype=np.float32)
    loudness_before = measure_loudness(y, sr)
    peak = float(np.max(np.abs(y)))
    norm = (y / peak).astype(np.float32) if peak > 0 else y
    lra_before = _loudness_range(norm, sr, max_lra_lu)
    steps: list[dict] = []
    threshold, ratio = float(start_threshold_db), float(start_ratio)
    best = norm
    if lra_before <= max_lra_lu:
        reached, why = True, f"the loudness range was already {lra_before:.1f} LU, within {max_lra_lu:g} LU"
    else:
        reached, why = False, ""

        def compressed(threshold_db: float, ratio: float) -> np.ndarray:
            comp = pedalboard.Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                                         release_ms=release_ms)
            return _per_distinct_channel(lambda x: comp(x, int(sr)), norm)

        # pedalboard lets go of the GIL: the next setting is compressed while this one is measured
        pending = _BACKGROUND.submit(compressed, threshold, ratio)
        while threshold >= lowest_threshold_db:
            best = pending.result()
            if threshold + threshold_step_db >= lowest_threshold_db:
                pending = _BACKGROUND.submit(compressed, threshold + threshold_step_db, ratio + ratio_step)
            lra = _loudness_range(best, sr, max_lra_lu)
            steps.append({"threshold_db": round(threshold, 1), "ratio": round(ratio, 2), "lra_lu": round(lra, 1)})
            if lra <= max_lra_lu:
                reached, why = True, f"the loudness range reached {lra:.1f} LU (at most {max_lra_lu:g} LU)"
                pending.cancel()  # the setting after this one is not needed
                break
            threshold += threshold_step_db
            ratio += ratio_step
        if not reached:
            why = (f"the next threshold ({threshold:.0f} dB) would pass {lowest_threshold_db:g} dB; the range "
                   f"stays at {steps[-1]['lra_lu']:.1f} LU")
    out, makeup = _match_loudness(best, sr, loudness_before)
    lra_after = steps[-1]["lra_lu"] if steps else lra_before
    if not steps:
        summary = (f"Your voice's loudness range (the spread between its soft and loud passages) is "
                   f"{lra_before:.1f} LU, within {max_lra_lu:g} LU: no compression needed.")
    else:
        last = steps[-1]
        summary = (f"Your voice's loudness range was {lra_before:.1f} LU (pro vocals: about 15.7). Tried "
                   f"{len(steps)} compressor setting{'s' if len(steps) > 1 else ''}; used threshold "
                   f"{last['threshold_db']:.0f} dB at {last['ratio']:.1f}:1 (attack {attack_ms:g} ms, release "
                   f"{release_ms:g} ms), giving {last['lra_lu']:.1f} LU. Stopped because {why}.")
    info = {"lra_before_lu": round(lra_before, 1), "max_lra_lu": max_lra_lu, "steps": steps,
            "threshold_db": steps[-1]["threshold_db"] if steps else None,
            "ratio": steps[-1]["ratio"] if steps else None, "attack_ms": attack_ms, "release_ms": release_ms,
            "lra_after_lu": round(lra_after, 1), "reached": bool(reached), "stopped_because": why,
            "makeup_gain_db": round(makeup - 20 * math.log10(1 / peak) if peak > 0 else makeup, 2),
            "summary": summary}
    return out, info


def _loudness_range(y: np.ndarray, sr: int, limit_lu: float) -> float:
    """FFmpeg's loudness range of ``y``, computed in numpy unless it is close to ``limit_lu``.

    Each FFmpeg run pipes the whole song through a new process; the numpy copy of
    its algorithm (:func:`kit.loudness.compute_lra`) gives the same number without
    that, and FFmpeg itself settles the values near the limit, where 0.1 LU decides.
    """
    if y.shape[0] <= 2:
        estimate = compute_lra(y, sr)
        if abs(estimate - limit_lu) > _LRA_MARGIN_LU:
            return estimate
    return measure_lra(y, sr)


# --- 5. EQ -----------------------------------------------------------------------------


def unmask_vocal(vocal: np.ndarray, backing: np.ndarray, sr: int, *, max_gain_db: float = 6.0,
                 analysis_vocal: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Boost the vocal where the backing masks it, cut it where it masks the backing.

    The rule is :func:`kit.eq.plan_unmasking` (ten octave bands, K-weighted,
    4 + 3 essential bands, Q = 2); the filters are pedalboard peak filters. The
    vocal's loudness is then put back to what it was, so the balance stays.

    Parameters
    ----------
    vocal : np.ndarray, shape (channels, samples)
        The vocal to filter.
    backing : np.ndarray
        The backing for analysis (gate it first, as the rule says).
    sr : int
    max_gain_db : float
        Largest boost or cut.
    analysis_vocal : np.ndarray, optional
        Analyse this instead of ``vocal`` (default: ``vocal``).

    Returns
    -------
    vocal_out : np.ndarray
    info : dict
        The plan (bands, levels, differences, essential bands, ``filters``),
        ``loudness_change_lu`` the EQ made before the level was restored, and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import unmask_vocal
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal((1, 44100)).astype(np.float32)
    >>> out, info = unmask_vocal(y, y, 44100)
    >>> info["filters"]
    []

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    from .eq import apply_eq, plan_unmasking

    plan = plan_unmasking(vocal if analysis_vocal is None else analysis_vocal, backing, sr, max_gain_db=max_gain_db)
    before = measure_loudness(vocal, sr)
    eq = _per_distinct_channel(lambda x: apply_eq(x, sr, plan["filters"]), np.asarray(vocal, dtype=np.float32))
    after = measure_loudness(eq, sr) if plan["filters"] else before
    change = after - before
    out, _ = _match_loudness(eq, sr, before, measured_lufs=after) if plan["filters"] else (eq, 0.0)
    if plan["filters"]:
        moves = "; ".join(
            f"{f['action']} {abs(f['gain_db']):.1f} dB at {_hz(f['freq_hz'])}"
            + (f" (the rule asked {abs(f['rule_gain_db']):.1f} dB; capped)"
               if f["gain_db"] != f["rule_gain_db"] else "")
            for f in plan["filters"])
        restored = ("its loudness stayed the same" if abs(change) < 0.05
                    else f"it changed the voice's loudness by {change:+.1f} LU, which was put back")
        summary = (f"Your voice's main bands: {', '.join(_hz(f) for f in plan['essential_vocal_hz'])}; the "
                   f"backing's: {', '.join(_hz(f) for f in plan['essential_backing_hz'])}. EQ: {moves}; "
                   f"{restored}.")
    else:
        summary = (f"Your voice's main bands ({', '.join(_hz(f) for f in plan['essential_vocal_hz'])}) are not "
                   "hidden by the backing, and your voice does not crowd the backing's: no EQ needed.")
    return out, {**plan, "max_gain_db": max_gain_db, "loudness_change_lu": round(change, 2), "summary": summary}


def _hz(fc: float) -> str:
    return f"{fc / 1000:g} kHz" if fc >= 1000 else f"{fc:g} Hz"


# --- 6. reverb --------------------------------------------------------------------------


def estimate_tempo(y: np.ndarray, sr: int) -> float:
    """Tempo of a track in BPM (librosa's onset-autocorrelation estimate).

    Examples
    --------
    >>> import kit
    >>> mix, _ = kit.examples.make_multitrack(6.0, tempo_bpm=120)
    >>> round(estimate_tempo(mix, 44100) / 10) * 10
    120
    """
    import librosa

    x = to_mono(np.asarray(y, dtype=np.float32))[0]
    return float(np.atleast_1d(librosa.feature.tempo(y=x, sr=int(sr)))[0])


def add_reverb(vocal: np.ndarray, backing: np.ndarray, sr: int, *, tempo_bpm: float | None = None,
               return_lu: float = -14.0) -> tuple[np.ndarray, dict]:
    """Make the vocal's reverb return: time from the tempo, level 14 LU below the mix.

    Parameters
    ----------
    vocal, backing : np.ndarray, shape (channels, samples)
        The processed vocal and the backing (the backing gives the tempo and the mix level).
    sr : int
    tempo_bpm : float, optional
        The song's tempo; estimated from the backing when not given.
    return_lu : float
        Loudness of the reverb return relative to the dry mix.

    Returns
    -------
    wet : np.ndarray, shape (2, samples)
        The reverb return alone, to add to the mix.
    info : dict
        ``tempo_bpm``, ``rt_target_s`` (the rule), ``rt_set_s`` (what the reverb can
        do), ``room_size``, ``rt60_measured_s`` (from the reverb's own impulse
        response), ``return_lu``, ``wet_percent`` and ``summary``.

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    estimated = tempo_bpm is None
    tempo = estimate_tempo(backing, sr) if estimated else float(tempo_bpm)
    return _add_reverb(vocal, backing, sr, tempo=tempo, estimated=estimated, return_lu=return_lu)


def _add_reverb(vocal: np.ndarray, backing: np.ndarray, sr: int, *, tempo: float, estimated: bool,
                return_lu: float) -> tuple[np.ndarray, dict]:
    from .reverb import _reverb, choose_room_size, compute_reverb_time, make_impulse_response, measure_rt60

    if not (math.isfinite(tempo) and 20.0 <= tempo <= 400.0):
        raise OptionError(f"Tempo {tempo} BPM is not a song tempo; give 20 to 400 BPM (e.g. 120).")
    rt_target = compute_reverb_time(tempo)
    size, rt_set = choose_room_size(rt_target, sr)
    v = np.asarray(vocal, dtype=np.float32)
    v2 = np.ascontiguousarray(np.broadcast_to(to_mono(v), (2, v.shape[1])))
    # pedalboard lets go of the GIL while it reverberates: measure the dry levels meanwhile
    wet = _BACKGROUND.submit(_reverb(size), v2, int(sr))
    measured = measure_rt60(make_impulse_response(size, sr), sr)["rt60_s"]
    mix_lufs = measure_loudness(_sum(v, backing), sr)
    voice_lufs = measure_loudness(v, sr)
    wet, gain_db = _match_loudness(wet.result(), sr, mix_lufs + float(return_lu))
    wet_vs_voice = mix_lufs + float(return_lu) - voice_lufs
    wet_percent = 100.0 * db_to_gain(wet_vs_voice) / (1.0 + db_to_gain(wet_vs_voice))
    how = "measured from the backing" if estimated else "given"
    clipped = "" if abs(rt_set - rt_target) < 0.01 else f" (the reverb's limit; the rule asked {rt_target:.2f} s)"
    summary = (f"Tempo {tempo:.0f} BPM ({how}) -> reverb time {rt_target:.2f} s by the rule RT = -T/45 + 40/9. "
               f"Room size {size:.2f} gives {measured:.2f} s (measured from its impulse response){clipped}. "
               f"The reverb sits {abs(return_lu):g} LU below the mix ({wet_vs_voice:+.1f} LU against your dry voice, "
               f"about {wet_percent:.0f}% wet; the paper's plugin used 60%).")
    return wet.astype(np.float32), {
        "tempo_bpm": round(tempo, 1), "tempo_estimated": estimated, "rt_target_s": round(rt_target, 3),
        "rt_set_s": round(rt_set, 3), "room_size": round(size, 3), "rt60_measured_s": round(measured, 3),
        "return_lu": float(return_lu), "wet_gain_db": round(gain_db, 2), "wet_vs_voice_lu": round(wet_vs_voice, 2),
        "wet_percent": round(wet_percent, 1), "summary": summary,
    }


# --- 7. output ---------------------------------------------------------------------------


def finish_mix(vocal: np.ndarray, backing: np.ndarray, sr: int, *, wet: np.ndarray | None = None,
               ceiling_dbtp: float = -1.0) -> tuple[np.ndarray, dict]:
    """Sum vocal, backing and reverb; turn the whole mix down if its true peak passes the ceiling.

    One gain (not a limiter) keeps the balance and the dynamics exactly as mixed.

    Returns
    -------
    mix : np.ndarray, shape (2, samples) (or the backing's channels)
    info : dict
        ``true_peak_before_dbtp``, ``gain_db``, ``true_peak_dbtp``, ``mix_lufs``,
        ``lra_lu``, ``vocal_in_mix_lu`` and ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.automix import finish_mix
    >>> t = np.arange(44100 * 3) / 44100
    >>> loud = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    >>> _, info = finish_mix(loud, loud, 44100)
    >>> info["true_peak_dbtp"] <= -1.0
    True

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    if not (math.isfinite(ceiling_dbtp) and -24.0 <= ceiling_dbtp <= 0.0):
        raise OptionError(f"Ceiling {ceiling_dbtp} dBTP is out of range; use -24 to 0 (e.g. -1).")
    b = np.asarray(backing, dtype=np.float32)
    if b.shape[0] == 1:
        b = np.concatenate([b, b])
    mix = _sum(vocal, b)
    if wet is not None:
        mix = (mix + np.asarray(wet, dtype=np.float32)[: mix.shape[0]]).astype(np.float32)
    # FFmpeg runs in its own process: weigh the loudness here meanwhile (a gain is arithmetic on the blocks)
    ebur128 = _BACKGROUND.submit(measure_ebur128, mix, sr)
    vocal_lufs = measure_loudness(vocal, sr)
    mix_blocks = measure_block_energies(mix, sr)
    before = after = ebur128.result()
    total_db = 0.0
    if before["true_peak_dbtp"] > ceiling_dbtp:
        # FFmpeg prints the peak to 0.1 dB, so the true one is within 0.05 dB of it: aiming 0.1 dB
        # under the ceiling lands at most 0.05 dB under it. A gain moves the true peak and the
        # loudness by exactly the gain and leaves the range alone, so no second measurement is needed.
        total_db = ceiling_dbtp - 0.1 - before["true_peak_dbtp"]
        mix = (mix * np.float32(db_to_gain(total_db))).astype(np.float32)
        after = {"integrated_lufs": round(before["integrated_lufs"] + total_db, 1), "lra_lu": before["lra_lu"],
                 "true_peak_dbtp": round(before["true_peak_dbtp"] + total_db, 1)}
    tp = after["true_peak_dbtp"]
    v_in_mix = vocal_lufs + total_db - integrated_from_blocks(mix_blocks, gain_db=total_db)
    if total_db:
        what = (f"The loudest peak was {before['true_peak_dbtp']:+.1f} dBTP, above the {ceiling_dbtp:g} dBTP "
                f"ceiling (room for MP3 encoding); turned the whole mix down by {abs(total_db):.1f} dB to "
                f"{after['true_peak_dbtp']:+.1f} dBTP.")
    else:
        what = (f"The loudest peak is {tp:+.1f} dBTP, under the {ceiling_dbtp:g} dBTP ceiling; "
                "no gain change needed.")
    summary = (f"{what} The mix measures {after['integrated_lufs']:.1f} LUFS; your voice is "
               f"{v_in_mix:+.1f} LU from the whole mix.")
    return mix, {"true_peak_before_dbtp": before["true_peak_dbtp"], "ceiling_dbtp": ceiling_dbtp,
                 "gain_db": round(total_db, 2), "true_peak_dbtp": after["true_peak_dbtp"],
                 "mix_lufs": after["integrated_lufs"], "lra_lu": after["lra_lu"],
                 "vocal_in_mix_lu": round(v_in_mix, 2), "summary": summary}


# --- the whole chain ----------------------------------------------------------------------


class MixReport(dict):
    """What :func:`automix` measured and did: a dict (JSON-ready) with :meth:`as_text`.

    Keys: ``sr``, ``duration_s``, ``notes`` and one dict per step (``alignment``,
    ``noise_gate``, ``level``, ``compression``, ``eq``, ``reverb``, ``output``),
    each with a ``summary`` sentence.
    """

    def as_text(self) -> str:
        """The report as a few lines of plain English (see :func:`format_report`)."""
        return format_report(self)


def format_report(report: dict) -> str:
    """Turn an automix report (also one read back from JSON) into plain text, one step a line.

    Examples
    --------
    >>> from kit.automix import format_report
    >>> print(format_report({"sr": 44100, "duration_s": 10.0, "output": {"summary": "Done."}}))
    Automatic mix of your voice over the backing track (10.0 s at 44100 Hz)
     7. Output: Done.
    """
    lines = [f"Automatic mix of your voice over the backing track ({report.get('duration_s', 0):.1f} s at "
             f"{report.get('sr', 0)} Hz)"]
    for note in report.get("notes", ()):
        lines.append(f"  Note: {note}")
    for i, key in enumerate(_STEP_ORDER, start=1):
        step = report.get(key)
        if step is None:
            continue
        lines.append(f"{i:2d}. {_TITLES[key]}: {step.get('summary', '')}")
        if key == "compression":
            for s in step.get("steps", ()):
                lines.append(f"      threshold {s['threshold_db']:6.1f} dB, ratio {s['ratio']:.1f}:1 -> "
                             f"loudness range {s['lra_lu']:.1f} LU")
    return "\n".join(lines)


def automix(
    vocal: np.ndarray,
    backing: np.ndarray,
    sr: int,
    *,
    backing_sr: int | None = None,
    reference_vocal: np.ndarray | None = None,
    reference_sr: int | None = None,
    target_lu: float = TARGET_LU,
    max_lra_lu: float = MAX_LRA_LU,
    align: bool = True,
    max_offset_s: float = 1.0,
    gate: bool = True,
    compress: bool = True,
    eq: bool = True,
    max_eq_gain_db: float = 6.0,
    reverb: bool = True,
    tempo_bpm: float | None = None,
    reverb_return_lu: float = -14.0,
    ceiling_dbtp: float = -1.0,
    progress: Progress = None,
) -> tuple[np.ndarray, MixReport]:
    """Mix a recorded vocal over a backing track by Li and Lerch's rules, reporting every step.

    Parameters
    ----------
    vocal : np.ndarray, shape (channels, samples)
        The recorded voice (stereo is folded to mono: a lead vocal sits in the middle).
    backing : np.ndarray, shape (channels, samples)
        The backing track, e.g. from :func:`kit.make_backing_track`. Never changed
        except by the final overall gain.
    sr : int
        Sample rate of the vocal in Hz (and of the backing, unless ``backing_sr``).
    backing_sr, reference_sr : int, optional
        Rates of the backing / reference when they may differ: a mismatch is an error.
    reference_vocal : np.ndarray, optional
        The song's original vocal (e.g. the ``vocals`` stem of :func:`kit.separate`):
        the timing is matched against it. Without it, against the backing (a weaker cue).
    target_lu : float
        Vocal minus backing integrated loudness, LU (-0.5).
    max_lra_lu : float
        The compression loop stops at this loudness range, LU (16.7).
    align, gate, compress, eq, reverb : bool
        Turn single steps off.
    max_offset_s : float
        Largest latency searched.
    max_eq_gain_db : float
        Largest EQ boost or cut, dB.
    tempo_bpm : float, optional
        The song's tempo (else estimated from the backing).
    reverb_return_lu : float
        Reverb level relative to the mix, LU (-14).
    ceiling_dbtp : float
        Highest true peak of the mix, dBTP (-1).
    progress : callable, optional
        Called with the fraction done, 0..1.

    Returns
    -------
    mix : np.ndarray, float32, shape (2, samples)
        As long as the backing.
    report : MixReport
        A dict of every measured value and chosen parameter; ``report.as_text()``.

    Raises
    ------
    AudioContentError
        A silent or too short (< 3 s) input, or sample rates that differ.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(6.0)
    >>> backing = stems["drums"] + stems["bass"] + stems["other"]
    >>> out, report = kit.automix(stems["vocals"] * 0.1, backing, 44100, reverb=False)
    >>> out.shape, report["output"]["true_peak_dbtp"] <= -1.0
    ((2, 264600), True)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    sr = _check_sr(sr, backing_sr, reference_sr)
    vocal = _check_signal(vocal, sr, "The vocal")
    backing = _check_signal(backing, sr, "The backing track")
    if reference_vocal is not None:
        reference_vocal = _check_signal(reference_vocal, sr, "The reference vocal")
    rep = MixReport(sr=sr, duration_s=round(backing.shape[1] / sr, 2), notes=[])
    tempo = None
    if reverb and tempo_bpm is None:
        # the tempo depends on the backing only: estimate it (and import librosa, seconds the first
        # time) on a second core while the voice is aligned, gated, balanced and compressed
        tempo = _BACKGROUND.submit(estimate_tempo, backing, sr)
    if vocal.shape[0] > 1:
        vocal = to_mono(vocal)
        rep["notes"].append("Your recording is stereo; it was folded to mono (a lead vocal sits in the middle).")
    report(progress, 0.02)

    if align:
        ref, against = ((reference_vocal, "the original vocal") if reference_vocal is not None
                        else (backing, "the backing track"))
        vocal, rep["alignment"] = align_vocal(vocal, ref, sr, max_offset_s=max_offset_s, against=against)
    n = backing.shape[1]
    if vocal.shape[1] != n:
        diff_s = (vocal.shape[1] - n) / sr
        rep["notes"].append(f"Your recording is {abs(diff_s):.1f} s {'longer' if diff_s > 0 else 'shorter'} than "
                            f"the backing; {'the end was cut' if diff_s > 0 else 'silence was added at the end'}.")
        vocal = _fit_length(vocal, n)
    # measure the voice as it will sound: in the middle of the mix, i.e. in every channel of the backing
    vocal = np.ascontiguousarray(np.broadcast_to(vocal, backing.shape), dtype=np.float32)
    report(progress, 0.1)

    backing_analysis, backing_gate = backing, None
    if gate:
        # the gated backing is only for the EQ's analysis: gate it on a second core meanwhile
        backing_gate = _BACKGROUND.submit(apply_noise_gate, backing, sr, what="the backing (for analysis only)")
        vocal, rep["noise_gate"] = apply_noise_gate(vocal, sr)
    report(progress, 0.2)

    vocal, rep["level"] = balance_levels(vocal, backing, sr, target_lu=target_lu)
    report(progress, 0.3)
    if compress:
        vocal, rep["compression"] = compress_vocal(vocal, sr, max_lra_lu=max_lra_lu)
    if backing_gate is not None:
        backing_analysis, gate_b = backing_gate.result()
        rep["noise_gate"]["backing_threshold_db"] = gate_b["threshold_db"]
    report(progress, 0.55)
    if eq:
        vocal, rep["eq"] = unmask_vocal(vocal, backing_analysis, sr, max_gain_db=max_eq_gain_db)
    rep["level"]["difference_final_lu"] = round(measure_loudness(vocal, sr) - rep["level"]["backing_lufs"], 2)
    report(progress, 0.65)

    wet = None
    if reverb:
        tempo = float(tempo_bpm) if tempo is None else tempo.result()
        wet, rep["reverb"] = _add_reverb(vocal, backing, sr, tempo=tempo, estimated=tempo_bpm is None,
                                         return_lu=reverb_return_lu)
    report(progress, 0.85)
    mix, rep["output"] = finish_mix(vocal, backing, sr, wet=wet, ceiling_dbtp=ceiling_dbtp)
    report(progress, 1.0)
    return mix, rep

