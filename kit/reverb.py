"""Reverb with a reverb time you can ask for: RT60 measurement and a calibrated Freeverb.

pedalboard's :class:`~pedalboard.Reverb` (Freeverb) is set by a room size from 0
to 1, not by a reverb time. So we measure: play an impulse through it, take the
energy decay curve by Schroeder's backward integration, fit a line to its fall
from -5 to -35 dB (T30; T20 from -5 to -25 dB when the tail is too short) and
read off how long 60 dB of decay would take (RT60). Doing that for a grid of room
sizes gives a table, computed once per sample rate and kept for the session;
inverting it turns "1.78 s" into a room size.

The tempo rule of Li and Lerch maps a song's tempo T (BPM) to a vocal reverb time
``RT = -T/45 + 40/9`` s: slow songs (65 BPM) get about 3 s, fast ones (200 BPM)
almost none.

See also
--------
notebooks/08_vocal_mixing.ipynb
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .errors import AudioContentError

__all__ = [
    "compute_reverb_time",
    "compute_decay_curve",
    "measure_rt60",
    "make_impulse_response",
    "calibrate_room_size",
    "choose_room_size",
    "DAMPING",
]

DAMPING = 0.5  # Freeverb's high-frequency damping, fixed: only the room size is chosen
# up to 0.9 (about 3.8 s): the tempo rule never asks more than 4 s, and room 1.0 is an endless tail
_GRID = np.round(np.arange(0.0, 0.901, 0.05), 2)
_IR_S = 8.0


def compute_reverb_time(tempo_bpm: float) -> float:
    """Vocal reverb time in s for a tempo in BPM: ``RT = -T/45 + 40/9`` (never below 0).

    Examples
    --------
    >>> from kit.reverb import compute_reverb_time
    >>> round(compute_reverb_time(120), 2)
    1.78

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    return max(0.0, -float(tempo_bpm) / 45.0 + 40.0 / 9.0)


def compute_decay_curve(ir: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy decay curve in dB (Schroeder backward integration), 0 dB at the start.

    Each point is the energy still to come after that moment, relative to the total:
    a smooth, falling curve whose slope is the decay rate.

    Returns
    -------
    times_s, edc_db : np.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from kit.reverb import compute_decay_curve
    >>> t, edc = compute_decay_curve(np.exp(-np.arange(8000) / 800.0), 8000)
    >>> float(edc[0]), bool(edc[4000] < -20)
    (0.0, True)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    h = np.atleast_2d(np.asarray(ir, dtype=np.float64))
    energy = np.sum(h ** 2, axis=0)
    tail = np.cumsum(energy[::-1])[::-1]
    if tail[0] <= 0:
        raise AudioContentError("The impulse response is silent; there is no decay to measure.")
    with np.errstate(divide="ignore"):
        edc_db = 10.0 * np.log10(tail / tail[0])
    return np.arange(edc_db.size) / float(sr), edc_db


def measure_rt60(ir: np.ndarray, sr: int) -> dict[str, float]:
    """Reverb time of an impulse response by Schroeder backward integration.

    Parameters
    ----------
    ir : np.ndarray, shape (samples,) or (channels, samples)
        The impulse response (channels are summed in energy).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    values : dict
        ``rt60_s`` (T30 when the decay reaches -35 dB, else T20), ``t20_s``,
        ``t30_s`` (``nan`` when not reached) and ``method`` ("T30" or "T20").

    Raises
    ------
    AudioContentError
        The response is silent or decays less than 25 dB, so no RT60 can be read.

    Examples
    --------
    >>> import numpy as np
    >>> from kit.reverb import measure_rt60
    >>> sr = 8000; t = np.arange(3 * sr) / sr
    >>> ir = np.random.default_rng(0).standard_normal(t.size) * 10 ** (-3 * t / 1.5)  # RT60 = 1.5 s
    >>> round(measure_rt60(ir, sr)["rt60_s"], 1)
    1.5

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    t, edc_db = compute_decay_curve(ir, sr)
    out = {"t20_s": math.nan, "t30_s": math.nan}
    for key, low_db in (("t20_s", -25.0), ("t30_s", -35.0)):
        span = (edc_db <= -5.0) & (edc_db >= low_db)
        # the curve must really get below low_db, or the fit would use a truncated tail
        if np.count_nonzero(span) >= 8 and edc_db.min() < low_db - 5.0:
            slope_db_per_s = np.polyfit(t[span], edc_db[span], 1)[0]
            if slope_db_per_s < 0:
                out[key] = float(-60.0 / slope_db_per_s)
    if math.isfinite(out["t30_s"]):
        return {"rt60_s": out["t30_s"], **out, "method": "T30"}
    if math.isfinite(out["t20_s"]):
        return {"rt60_s": out["t20_s"], **out, "method": "T20"}
    raise AudioContentError("The impulse response decays less than 30 dB; make it longer to measure RT60.")


def _reverb(room_size: float, *, wet_level: float = 1.0, dry_level: float = 0.0):
    import pedalboard

    return pedalboard.Reverb(room_size=float(room_size), damping=DAMPING, wet_level=wet_level,
                             dry_level=dry_level, width=1.0)


def make_impulse_response(room_size: float, sr: int, *, length_s: float = _IR_S) -> np.ndarray:
    """The wet impulse response of pedalboard's Reverb at ``room_size``, shape (2, samples).

    Examples
    --------
    >>> from kit.reverb import make_impulse_response
    >>> make_impulse_response(0.5, 8000, length_s=1.0).shape
    (2, 8000)
    """
    x = np.zeros((2, int(round(length_s * sr))), dtype=np.float32)
    x[:, 0] = 1.0
    return _reverb(room_size)(x, int(sr))


@functools.cache
def calibrate_room_size(sr: int) -> tuple[tuple[float, float], ...]:
    """Measured ``(room_size, rt60_s)`` pairs for pedalboard's Reverb at ``sr`` (cached).

    Computed once per sample rate in a process (about a second), then reused.

    Examples
    --------
    >>> from kit.reverb import calibrate_room_size
    >>> table = calibrate_room_size(22050)
    >>> table[0][1] < table[-1][1]
    True

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    table, rt = [], 0.5
    for size in _GRID:
        # RT grows with the room size: each response only needs to be long enough to fall
        # 45 dB at the previous size's rate, with a margin (a third of the time of a fixed 8 s)
        length_s = min(_IR_S, 1.0 + 1.3 * rt)
        rt = measure_rt60(make_impulse_response(size, sr, length_s=length_s), sr)["rt60_s"]
        table.append((float(size), rt))
    return tuple(table)


def choose_room_size(rt60_s: float, sr: int) -> tuple[float, float]:
    """Room size giving reverb time ``rt60_s``, by inverting the calibration table.

    Returns ``(room_size, expected_rt60_s)``; a time outside what the reverb can
    make is clipped to its shortest (about 0.5 s) or longest, which the second
    value shows.

    Examples
    --------
    >>> from kit.reverb import choose_room_size
    >>> size, rt = choose_room_size(1.78, 44100)
    >>> 0.6 < size < 0.8, round(rt, 2)
    (True, 1.78)

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    table = np.array(calibrate_room_size(int(sr)))
    sizes, times = table[:, 0], table[:, 1]
    # RT grows fast with room size: interpolate log(RT), which is close to straight
    log_rt = np.log(np.clip(float(rt60_s), times[0], times[-1]))
    size = float(np.interp(log_rt, np.log(times), sizes))
    return size, float(np.exp(log_rt))
