"""Score a sung take against the original vocal's melody: which notes were in tune, flat, sharp or missed.

:func:`score_singing` does what a karaoke game does, in four steps:

1. **Melody**: the reference vocal's notes and tuning (:func:`kit.extract_melody`).
2. **Latency**: the take is usually late (the phone's or browser's audio path).
   Two different singers agree on their notes and on when the notes start, not
   on their waveforms (what :func:`kit.automix.align_vocal` matches), so
   :func:`estimate_delay` finds the lag where the two pitch tracks agree, then
   refines it with the voices' onset envelopes (spectral flux, 10 ms frames).
3. **Pitch per note**: the take's pitch (:func:`kit.track_pitch`), moved onto
   the reference's timeline, is compared with each note over its middle (the
   first 80 ms and last 40 ms are a singer's slide in and out). The error is the
   median, in cents, folded into one octave: a tenor singing a soprano's line
   an octave down sings the right notes.
4. **Verdict and score**: ``in tune`` within ``tolerance_cents``, else ``flat``
   or ``sharp``; ``missed`` when under half of the note was sung. The score (0
   to 100) is the notes' average credit weighted by their length: 1 in tune,
   falling to 0 at 50 cents beyond the tolerance (a whole semitone off, at the
   usual 50), 0 for a missed note.

See also
--------
notebooks/10_pitch_and_singing.ipynb
"""

from __future__ import annotations

import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .audio import check_audio, resample, to_mono
from .errors import AudioContentError, OptionError
from .melody import Note, estimate_tuning_cents, notes_from_pitch
from .pitch_tracking import hz_to_midi, track_pitch

__all__ = ["score_singing", "estimate_delay", "SingingReport", "VERDICTS"]

VERDICTS = ("in tune", "flat", "sharp", "missed")
_SR = 16000  # both trackers and the onset envelope work on a voice's band; 16 kHz holds it
_ENVELOPE_HOP = 160  # 10 ms frames for the onset envelope
_SLIDE_IN_S, _SLIDE_OUT_S = 0.08, 0.04  # parts of a note left out of its pitch (at most 40 % of it)
_MIN_SUNG = 0.5  # share of a note's middle that must be voiced
_MIN_AGREEMENT = 0.6  # share of frames whose pitch agrees, below which the delay is not trusted
_CREDIT_FALL_CENTS = 50.0  # a note's credit falls from 1 to 0 over this many cents beyond the tolerance
_SILENT_PEAK = 1e-3  # -60 dBFS: a take whose loudest sample is below this holds no singing
# the take and the reference are tracked at the same time (ONNX Runtime and librosa release the GIL)
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kit-singing")


class SingingReport(dict):
    """What :func:`score_singing` measured: a dict (JSON-ready) with :meth:`as_text`.

    Keys: ``delay_s``, ``score``, ``tolerance_cents``, ``tuning_cents``,
    ``counts`` (notes per verdict), ``notes`` (one dict per reference note:
    ``onset_s``, ``offset_s``, ``midi``, ``cents_error``, ``verdict``) and
    ``summary`` (two sentences for the singer). Attributes, not in the JSON:
    ``take_times_s`` and ``take_f0_hz``, the take's pitch on the reference's
    timeline (moved by whole octaves to the melody's, as scored), for
    :func:`kit.plot.plot_note_lanes`.
    """

    take_times_s: np.ndarray
    take_f0_hz: np.ndarray

    def as_text(self) -> str:
        """The summary, the latency, and the notes that were not in tune, as plain lines."""
        lines = [self["summary"], _delay_sentence(self)]
        for note in self["notes"]:
            if note["verdict"] != "in tune":
                error = "" if note["cents_error"] is None else f" ({note['cents_error']:+.0f} cents)"
                lines.append(f"  {_clock(note['onset_s'])}  {_note_name(note['midi']):<4} {note['verdict']}{error}")
        return "\n".join(lines)


def _note_name(midi: int) -> str:
    return ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")[midi % 12] + str(midi // 12 - 1)


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _clock_s(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _delay_sentence(report: dict) -> str:
    ms = 1000 * report["delay_s"]
    if not report.get("delay_found", True):
        return "Your take could not be lined up with the song by its notes; it was scored as it was recorded."
    if abs(ms) < 5:
        return "Your take was in time with the song (within 5 ms)."
    return f"Your take came in {abs(ms):.0f} ms {'late' if ms > 0 else 'early'}; it was lined up before scoring."


# --- latency --------------------------------------------------------------------------


def _onset_envelope(y16: np.ndarray) -> np.ndarray:
    """Spectral flux: how much louder each 10 ms frame got than the one before, summed over 100 Hz to 5 kHz.

    The same idea as ``librosa.onset.onset_strength`` (log magnitude, rising
    parts only), in plain numpy: it spares the score the seconds that importing
    librosa's feature modules takes in a fresh process.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    n_fft = 512
    padded = np.pad(y16.astype(np.float32), n_fft // 2)
    frames = sliding_window_view(padded, n_fft)[::_ENVELOPE_HOP]
    lo, hi = int(100 * n_fft / _SR), int(5000 * n_fft / _SR)
    spectrum = np.empty((frames.shape[0], hi - lo), dtype=np.float32)
    window = np.hanning(n_fft).astype(np.float32)
    for start in range(0, frames.shape[0], 4096):  # in blocks, to keep memory small on a long song
        block = np.abs(np.fft.rfft(frames[start:start + 4096] * window, axis=1))[:, lo:hi]
        spectrum[start:start + 4096] = np.log1p(1000.0 * block)
    flux = np.maximum(np.diff(spectrum, axis=0, prepend=spectrum[:1]), 0.0)
    return flux.sum(axis=1, dtype=np.float64)


def _pitch_agreement(take_midi: np.ndarray, ref_midi: np.ndarray, max_lag: int) -> np.ndarray:
    """For each lag -max_lag..max_lag (frames), the share of frames voiced in both whose pitch agrees.

    Agree = within 1.5 semitones, octaves folded, so a take sung off pitch or an
    octave down still lines up; a lag off by a beat puts other notes side by side.
    """
    out = np.zeros(2 * max_lag + 1)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        t = take_midi[max(lag, 0):]
        r = ref_midi[max(-lag, 0):]
        n = min(t.size, r.size)
        both = np.isfinite(t[:n]) & np.isfinite(r[:n])
        if np.count_nonzero(both) >= 10:
            diff = _fold_cents(100.0 * (t[:n][both] - r[:n][both]))
            out[i] = np.count_nonzero(np.abs(diff) <= 150.0) / np.count_nonzero(both)
    return out


def _refine_by_onsets(take_env: np.ndarray, ref_env: np.ndarray, around_s: float, width_s: float) -> float:
    """The lag (s) near ``around_s`` where the onset envelopes line up best, between frames by a parabola."""
    a, b = take_env - take_env.mean(), ref_env - ref_env.mean()
    first = int(np.floor((around_s - width_s) * _SR / _ENVELOPE_HOP)) - 1
    lags = np.arange(first, int(np.ceil((around_s + width_s) * _SR / _ENVELOPE_HOP)) + 2)
    size = 1 << int(np.ceil(np.log2(a.size + b.size + 1)))
    # full[lag] = sum_n a[n + lag] * b[n]: the take is late by `lag` frames where it peaks
    full = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    corr = full[lags % size]
    best = int(np.argmax(corr[1:-1])) + 1
    left, mid, right = corr[best - 1], corr[best], corr[best + 1]
    curve = left - 2 * mid + right
    step = float(np.clip(0.5 * (left - right) / curve, -0.5, 0.5)) if curve < 0 else 0.0
    return float((lags[best] + step) * _ENVELOPE_HOP / _SR)


def _estimate_delay(take16, ref16, take_track, ref_track, max_delay_s: float) -> tuple[float, float]:
    (take_times, take_f0, _), (_, ref_f0, _) = take_track, ref_track
    hop_s = float(take_times[1] - take_times[0]) if take_times.size > 1 else 0.016
    max_lag = int(round(max_delay_s / hop_s))
    agreement = _pitch_agreement(hz_to_midi(take_f0), hz_to_midi(ref_f0), max_lag)
    coarse_s = (int(np.argmax(agreement)) - max_lag) * hop_s
    fine_s = _refine_by_onsets(_onset_envelope(take16), _onset_envelope(ref16), coarse_s, hop_s)
    return fine_s, float(np.max(agreement))


def estimate_delay(take, reference_vocal, sr: int, *, max_delay_s: float = 1.0,
                   method: str = "fast") -> tuple[float, float]:
    """How late a take is against the reference vocal: by their notes, then by when the notes start.

    Two steps: the lag at which the two pitch tracks agree best (in 16 ms
    frames; a lag one beat off pairs different notes), then, within a frame of
    it, the peak of the cross-correlation of the two onset envelopes (10 ms
    frames, refined between frames by a parabola).

    Parameters
    ----------
    take, reference_vocal : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate of both, in Hz.
    max_delay_s : float
        Largest delay searched, either way.
    method : {"fast", "pyin"}
        The pitch tracker (:func:`kit.track_pitch`).

    Returns
    -------
    delay_s : float
        Positive: the take is late.
    agreement : float
        Share of the frames sung in both where the pitches agree at that delay
        (0 to 1); under about 0.6 the take does not follow the reference.

    Examples
    --------
    >>> import numpy as np, kit
    >>> from kit.singing import estimate_delay
    >>> ref, _ = kit.examples.make_sung_melody(kit.examples.multitrack_melody(6.0), 16000)
    >>> take = np.pad(ref, ((0, 0), (1600, 0)))  # 100 ms late
    >>> round(estimate_delay(take, ref, 16000)[0], 2)
    0.1
    """
    take16 = _prepare(take, sr, "The take")
    ref16 = _prepare(reference_vocal, sr, "The reference vocal")
    tracks = [track_pitch(y, _SR, method=method) for y in (take16, ref16)]
    return _estimate_delay(take16, ref16, *tracks, max_delay_s)


# --- the reference's pitch, kept for the next take ---------------------------------

_REFERENCE_TRACKS: dict = {}  # (content digest, method) -> pitch track: a singer's next takes skip it


def _track_reference(ref16: np.ndarray, method: str):
    """The reference vocal's pitch track, kept for the last two references (every take of a song shares it)."""
    import hashlib

    key = (hashlib.blake2b(ref16.tobytes(), digest_size=16).hexdigest(), method)
    if key not in _REFERENCE_TRACKS:
        track = track_pitch(ref16, _SR, method=method)
        while len(_REFERENCE_TRACKS) >= 2:
            _REFERENCE_TRACKS.pop(next(iter(_REFERENCE_TRACKS)))
        _REFERENCE_TRACKS[key] = track
    return _REFERENCE_TRACKS[key]


# --- scoring --------------------------------------------------------------------------


def _prepare(y, sr: int, what: str) -> np.ndarray:
    return resample(to_mono(check_audio(y, what=what)), int(sr), sr=_SR)[0]


def _check_options(sr, tolerance_cents, max_delay_s) -> None:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr < 8000:
        raise OptionError(f"sr={sr!r} is not a sample rate; give the rate in Hz, e.g. 44100.")
    if not (isinstance(tolerance_cents, numbers.Real) and 5 <= tolerance_cents <= 100):
        raise OptionError(f"tolerance_cents={tolerance_cents!r} is out of range; use 5 to 100 "
                          "(50 = half a semitone, the usual; 25 for strict).")
    if not (isinstance(max_delay_s, numbers.Real) and 0 < max_delay_s <= 5):
        raise OptionError(f"max_delay_s={max_delay_s!r} is out of range; use a positive number up to 5 s, e.g. 1.")


def _fold_cents(cents: np.ndarray) -> np.ndarray:
    """Cents folded into -600..600: a whole octave off counts as the same note."""
    return (cents + 600.0) % 1200.0 - 600.0


def _judge_note(note: Note, target_midi: float, times_s: np.ndarray, midi: np.ndarray, tolerance: float):
    length = note.offset_s - note.onset_s
    start = note.onset_s + min(_SLIDE_IN_S, 0.25 * length)
    end = note.offset_s - min(_SLIDE_OUT_S, 0.15 * length)
    inside = (times_s >= start) & (times_s < end)
    frames = midi[inside]
    sung = frames[np.isfinite(frames)]
    if inside.sum() == 0 or sung.size < _MIN_SUNG * inside.sum():
        return None, "missed"
    error = float(np.median(_fold_cents(100.0 * (sung - target_midi))))
    if abs(error) <= tolerance:
        return error, "in tune"
    return error, "flat" if error < 0 else "sharp"


def _credit(error, tolerance: float) -> float:
    if error is None:
        return 0.0
    return float(np.clip(1.0 - (abs(error) - tolerance) / _CREDIT_FALL_CENTS, 0.0, 1.0))


def _summary(notes: list[dict], score: int, tolerance: float) -> str:
    n = len(notes)
    in_tune = sum(1 for note in notes if note["verdict"] == "in tune")
    first = f"{in_tune} of {n} notes in tune (within {tolerance:g} cents); score {score}/100."
    wrong = [v for v in VERDICTS[1:] if any(note["verdict"] == v for note in notes)]
    if not wrong:
        return first + " Every note was in tune: well sung!"
    counts = {v: [note for note in notes if note["verdict"] == v] for v in wrong}
    worst = max(wrong, key=lambda v: (len(counts[v]), -VERDICTS.index(v)))
    # where those notes cluster: the 10-second window holding most of them
    times = np.array([note["onset_s"] for note in counts[worst]])
    centre = max(times, key=lambda t: int(np.sum(np.abs(times - t) <= 5.0)))
    around = times[np.abs(times - centre) <= 5.0]
    m = len(times)
    what = "missed" if worst == "missed" else f"were {worst} on"
    if m == 1:
        second = f"You {what} 1 note, at {_clock_s(float(times[0]))}"
    elif around.size == m:
        second = f"You {what} {m} notes, around {_clock_s(float(np.median(around)))}"
    elif around.size > 1:
        second = f"You {what} {m} notes, most around {_clock_s(float(np.median(around)))}"
    else:
        second = f"You {what} {m} notes, from {_clock_s(float(times[0]))} to {_clock_s(float(times[-1]))}"
    others = [f"{len(counts[v])} {v}" for v in wrong if v != worst]
    return f"{first} {second}{' (also ' + ', '.join(others) + ')' if others else ''}."


def score_singing(take, reference_vocal, sr: int, *, tolerance_cents: float = 50, method: str = "fast",
                  max_delay_s: float = 1.0, melody: tuple[list[Note], float] | None = None) -> SingingReport:
    """Score a sung take against the melody of a reference vocal.

    Parameters
    ----------
    take : np.ndarray, shape (channels, samples) or (samples,)
        The singer's recording, started with the song (as the app records it).
    reference_vocal : np.ndarray, shape (channels, samples) or (samples,)
        The original vocal, e.g. the ``vocals`` stem from :func:`kit.separate`.
    sr : int
        Sample rate of both, in Hz.
    tolerance_cents : float
        A note is in tune within this many cents of the melody (50 = half a semitone).
    method : {"fast", "pyin"}
        Pitch tracker (:func:`kit.track_pitch`).
    max_delay_s : float
        Largest latency searched, either way.
    melody : (notes, tuning_cents), optional
        The melody to score against (as :func:`kit.extract_melody` returns it);
        by default the reference vocal's. The reference is still used for the latency.

    Returns
    -------
    SingingReport
        ``delay_s`` (positive: the take was late), ``score`` (0-100), ``notes``
        (each with ``onset_s``, ``offset_s``, ``midi``, ``cents_error``,
        ``verdict``) on the reference's timeline, ``summary``; see
        :class:`SingingReport`.

    Raises
    ------
    AudioContentError
        The take is silent, or the reference holds no notes.

    Examples
    --------
    >>> import numpy as np, kit
    >>> notes = kit.examples.multitrack_melody(6.0)
    >>> ref, _ = kit.examples.make_sung_melody(notes, 16000)
    >>> sharp = [(a, b, m + 0.8 if i == 3 else m) for i, (a, b, m) in enumerate(notes)]
    >>> take, _ = kit.examples.make_sung_melody(sharp, 16000, formant_scale=1.1)
    >>> report = kit.score_singing(np.pad(take, ((0, 0), (3200, 0))), ref, 16000)
    >>> round(report["delay_s"], 1), [n["verdict"] for n in report["notes"]][2:5]
    (0.2, ['in tune', 'sharp', 'in tune'])

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    _check_options(sr, tolerance_cents, max_delay_s)
    take16 = _prepare(take, sr, "The take")
    ref16 = _prepare(reference_vocal, sr, "The reference vocal")
    if float(np.max(np.abs(take16))) < _SILENT_PEAK:
        raise AudioContentError("The take is silent (nothing above -60 dBFS); check the microphone and sing again.")
    ref_job = _POOL.submit(_track_reference, ref16, method)
    take_track = track_pitch(take16, _SR, method=method)
    ref_track = ref_job.result()
    if melody is None:
        tuning = estimate_tuning_cents(ref_track[1])
        notes = notes_from_pitch(ref_track[0], ref_track[1], tuning_cents=tuning)
    else:
        notes, tuning = melody
    if not notes:
        raise AudioContentError("The reference vocal holds no notes to score against; give the song's vocal stem "
                                "(kit separate SONG), not the backing track.")
    delay_s, agreement = _estimate_delay(take16, ref16, take_track, ref_track, max_delay_s)
    delay_found = agreement >= _MIN_AGREEMENT
    if not delay_found:
        delay_s = 0.0
    times_s, f0_hz, _ = take_track
    times_s = times_s - delay_s
    take_midi = hz_to_midi(f0_hz)
    results = []
    folded = np.copy(take_midi)
    for note in notes:
        target = note.midi + tuning / 100.0
        error, verdict = _judge_note(note, target, times_s, take_midi, float(tolerance_cents))
        inside = (times_s >= note.onset_s) & (times_s < note.offset_s)
        folded[inside] = target + _fold_cents(100.0 * (take_midi[inside] - target)) / 100.0
        results.append({"onset_s": note.onset_s, "offset_s": note.offset_s, "midi": note.midi,
                         "cents_error": None if error is None else round(error, 1), "verdict": verdict})
    lengths = np.array([n.offset_s - n.onset_s for n in notes])
    credits = np.array([_credit(r["cents_error"], float(tolerance_cents)) for r in results])
    score = int(round(100.0 * float(np.sum(credits * lengths) / np.sum(lengths))))
    report = SingingReport(
        delay_s=round(float(delay_s), 4), delay_found=bool(delay_found), score=score,
        tolerance_cents=float(tolerance_cents), tuning_cents=float(tuning), method=method,
        counts={v: sum(1 for r in results if r["verdict"] == v) for v in VERDICTS},
        notes=results, summary=_summary(results, score, float(tolerance_cents)),
    )
    report.take_times_s = times_s
    report.take_f0_hz = 440.0 * 2.0 ** ((folded - 69.0) / 12.0)
    return report

