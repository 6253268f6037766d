"""Turn a vocal's pitch track into notes: onset, offset and MIDI pitch, like a karaoke game's lanes.

The rule, in three steps that the lesson also takes by hand:

1. **Track** the pitch of the vocal (:func:`kit.track_pitch`). A monophonic
   tracker follows the strongest voice, so a stem with quieter backing vocals
   gives the lead (the predominant voice).
2. **Round** the pitch to semitones after a short running median (80 ms, so a
   pitch glide or a vibrato swing does not make notes), relative to the song's
   own tuning (:func:`estimate_tuning_cents`: a band tuned 20 cents sharp still
   lands on its lanes).
3. **Segment**: a note is a run of voiced frames on one semitone. Runs shorter
   than ``min_note_s`` join the neighbour nearest in pitch (or go, if alone);
   a gap shorter than ``max_gap_s`` on the same semitone does not split a note.

See also
--------
notebooks/10_pitch_and_singing.ipynb
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import OptionError
from .pitch_tracking import hz_to_midi, track_pitch

__all__ = ["Note", "extract_melody", "notes_from_pitch", "estimate_tuning_cents"]

_SMOOTH_S = 0.08


@dataclass(frozen=True)
class Note:
    """One note of a melody: when it starts and ends (s), and its MIDI pitch (69 = A4)."""

    onset_s: float
    offset_s: float
    midi: int

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_tuning_cents(f0_hz) -> float:
    """How far the voice sits from A440's semitones, in cents (-50 to 50), from all voiced frames.

    The circular mean of each frame's distance to its nearest semitone: a voice
    that wobbles evenly around its notes (vibrato) averages out to its centre.

    Examples
    --------
    >>> from kit.melody import estimate_tuning_cents
    >>> round(estimate_tuning_cents([440.0 * 2 ** (0.2 / 12), 523.25 * 2 ** (0.2 / 12)]))
    20
    """
    midi = hz_to_midi(f0_hz)
    midi = midi[np.isfinite(midi)]
    if midi.size == 0:
        return 0.0
    angle = float(np.angle(np.mean(np.exp(2j * np.pi * midi))))
    return round(100.0 * angle / (2 * np.pi), 1)


def _running_median(midi: np.ndarray, width: int) -> np.ndarray:
    """Median over ``width`` frames, ignoring NaN (unvoiced) frames; NaN stays NaN."""
    if width <= 1:
        return midi
    from numpy.lib.stride_tricks import sliding_window_view

    pad = width // 2
    windows = sliding_window_view(np.pad(midi, pad, constant_values=np.nan), width)[: midi.size]
    out = np.full(midi.size, np.nan)
    voiced = np.isfinite(midi)
    if np.any(voiced):
        out[voiced] = np.nanmedian(windows[voiced], axis=1)
    return out


def notes_from_pitch(times_s, f0_hz, *, min_note_s: float = 0.1, max_gap_s: float = 0.05,
                     tuning_cents: float = 0.0) -> list[Note]:
    """Segment a pitch track into notes (steps 2 and 3 of this module's rule).

    Parameters
    ----------
    times_s, f0_hz : np.ndarray, shape (frames,)
        From :func:`kit.track_pitch`; NaN pitch = unvoiced.
    min_note_s : float
        Shortest note kept.
    max_gap_s : float
        An unvoiced gap up to this long between frames on the same semitone
        does not end the note.
    tuning_cents : float
        The song's tuning (:func:`estimate_tuning_cents`); notes are rounded
        relative to it: a note's pitch is ``midi + tuning_cents / 100``.

    Returns
    -------
    list of Note

    Examples
    --------
    >>> import numpy as np
    >>> from kit.melody import notes_from_pitch
    >>> times = np.arange(100) * 0.01
    >>> f0 = np.r_[np.full(40, 440.0), np.full(10, np.nan), np.full(50, 493.9)]
    >>> [(n.onset_s, n.offset_s, n.midi) for n in notes_from_pitch(times, f0)]
    [(0.0, 0.4, 69), (0.5, 1.0, 71)]
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    midi = hz_to_midi(f0_hz) - tuning_cents / 100.0
    if times_s.shape != midi.shape or times_s.ndim != 1:
        raise OptionError(f"times_s {times_s.shape} and f0_hz {midi.shape} must be 1-D and the same length.")
    if times_s.size < 2:
        return []
    hop = float(np.median(np.diff(times_s)))
    smooth = _running_median(midi, int(round(_SMOOTH_S / hop)) | 1)
    lane = np.where(np.isfinite(smooth), np.round(np.nan_to_num(smooth)), np.nan)
    runs = _runs(lane, max_gap=int(round(max_gap_s / hop)))
    runs = _absorb_short(runs, min_frames=max(1, int(round(min_note_s / hop))))
    notes = []
    for a, b in runs:
        values = midi[a:b][np.isfinite(midi[a:b])]
        pitch = int(np.round(np.median(values)))
        notes.append(Note(round(float(times_s[a]), 4), round(float(times_s[b - 1]) + hop, 4), pitch))
    return notes


def _runs(lane: np.ndarray, *, max_gap: int) -> list[list]:
    """``[start, end, semitone]`` frame ranges of one semitone, bridging short unvoiced gaps on the same one."""
    runs: list[list] = []
    for i in np.flatnonzero(np.isfinite(lane)):
        if runs and runs[-1][2] == lane[i] and i - runs[-1][1] <= max_gap:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, lane[i]])
    return runs


def _absorb_short(runs: list[list], *, min_frames: int) -> list[tuple[int, int]]:
    """Give each too-short run to the touching neighbour nearest in pitch; drop lone short runs."""
    while True:
        short = [k for k, (a, b, _) in enumerate(runs) if b - a < min_frames]
        if not short:
            return [(a, b) for a, b, _ in runs]
        k = min(short, key=lambda j: runs[j][1] - runs[j][0])  # the shortest first
        a, b, semitone = runs.pop(k)
        touching = [j for j in (k - 1, k) if 0 <= j < len(runs) and (runs[j][1] == a if j < k else runs[j][0] == b)]
        if not touching:
            continue
        j = min(touching, key=lambda j: abs(runs[j][2] - semitone))
        runs[j][0], runs[j][1] = min(runs[j][0], a), max(runs[j][1], b)
        # neighbours that now touch on the same semitone are one note
        merged = [runs[0]]
        for r in runs[1:]:
            if r[0] == merged[-1][1] and r[2] == merged[-1][2]:
                merged[-1][1] = r[1]
            else:
                merged.append(r)
        runs = merged


def extract_melody(vocal, sr: int, *, method: str = "fast", min_note_s: float = 0.1,
                   max_gap_s: float = 0.05) -> tuple[list[Note], float]:
    """The notes a vocal sings, and the tuning it sings them in.

    Parameters
    ----------
    vocal : np.ndarray, shape (channels, samples) or (samples,)
        A vocal stem (e.g. from :func:`kit.separate`); with backing vocals in it,
        the melody follows the loudest (lead) voice.
    sr : int
        Sample rate in Hz.
    method : {"fast", "pyin"}
        The pitch tracker (:func:`kit.track_pitch`).
    min_note_s, max_gap_s : float
        See :func:`notes_from_pitch`.

    Returns
    -------
    notes : list of Note
    tuning_cents : float
        The vocal's tuning against A440 (:func:`estimate_tuning_cents`).

    Examples
    --------
    >>> import kit
    >>> y, _ = kit.examples.make_sung_melody([(0.2, 0.8, 69), (0.8, 1.4, 72)], 16000)
    >>> notes, tuning_cents = kit.extract_melody(y, 16000)
    >>> [n.midi for n in notes]
    [69, 72]

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    times_s, f0_hz, _ = track_pitch(vocal, sr, method=method)
    tuning = estimate_tuning_cents(f0_hz)
    return notes_from_pitch(times_s, f0_hz, min_note_s=min_note_s, max_gap_s=max_gap_s, tuning_cents=tuning), tuning
