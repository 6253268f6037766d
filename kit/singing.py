"""Score a sung take against the original vocal's melody: which notes were in tune, flat, sharp or missed.

:func:`score_singing` does what a karaoke game does, in four steps:

1. **Melody**: the reference vocal's notes and tuning (:func:`kit.extract_melody`).
2. **Latency**: the take is usually late (the phone's or browser's audio path).
   Both voices' onset envelopes (librosa's spectral flux, 10 ms frames) are
   cross-correlated and the peak refined between frames; two different
   singers agree on when the notes start, not on their waveforms, so this
   works where :func:`kit.automix.align_vocal`'s waveform match may not.
3. **Pitch per note**: the take's pitch (:func:`kit.track_pitch`), moved onto
   the reference's timeline, is compared with each note over its middle (the
   first 80 ms and last 40 ms are a singer's slide in and out). The error is the
   median, in cents, folded into one octave: a tenor singing a soprano's line
   an octave down sings the right notes.
4. **Verdict and score**: ``in tune`` within ``tolerance_cents``, else ``flat``
   or ``sharp``; ``missed`` when under half of the note was sung. The score (0
   to 100) is the notes' average credit weighted by their length: 1 in tune,
   falling to 0 at one semitone beyond the tolerance, 0 for a missed note.

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
_MIN_MATCH = 0.2  # correlation of the onset envelopes below which the delay is not trusted
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
    import librosa

    return librosa.onset.onset_strength(y=y16, sr=_SR, hop_length=_ENVELOPE_HOP, n_fft=512, n_mels=40)


def _delay_from_envelopes(take_env: np.ndarray, ref_env: np.ndarray, max_delay_s: float) -> tuple[float, float]:
    from scipy import signal

    a, b = take_env - take_env.mean(), ref_env - ref_env.mean()
    corr = signal.correlate(a, b, mode="full", method="fft")
    lags = signal.correlation_lags(a.size, b.size, mode="full")
    keep = np.abs(lags) <= max_delay_s * _SR / _ENVELOPE_HOP
    corr, lags = corr[keep], lags[keep]
    best = int(np.argmax(corr))
    # a parabola through the peak and its neighbours puts it between frames (to a few ms)
    step = 0.0
    if 0 < best < corr.size - 1:
        left, mid, right = corr[best - 1], corr[best], corr[best + 1]
        curve = left - 2 * mid + right
        step = 0.5 * (left - right) / curve if curve < 0 else 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0
    return float((lags[best] + step) * _ENVELOPE_HOP / _SR), float(corr[best]) / norm


def estimate_delay(take, reference_vocal, sr: int, *, max_delay_s: float = 1.0) -> tuple[float, float]:
    """How late a take is against the reference vocal, from when their notes start.

    Parameters
    ----------
    take, reference_vocal : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate of both, in Hz.
    max_delay_s : float
        Largest delay searched, either way.

    Returns
    -------
    delay_s : float
        Positive: the take is late.
    match : float
        Correlation of the two onset envelopes at that delay (0 to 1); under
        about 0.2 the take does not follow the reference's rhythm.

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
    return _delay_from_envelopes(_onset_envelope(take16), _onset_envelope(ref16), max_delay_s)


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
    return float(np.clip(1.0 - (abs(error) - tolerance) / 100.0, 0.0, 1.0))


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
    where = f"around {_clock_s(float(np.median(around)))}" if len(times) > 1 else f"at {_clock_s(float(times[0]))}"
    what = "missed" if worst == "missed" else f"were {worst} on"
    m = len(counts[worst])
    second = f"You {what} {m} notes, most {where}" if m > 1 else f"You {what} 1 note, {where}"
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
        The reference's melody from :func:`kit.extract_melody`, to score several
        takes without tracking the reference again.

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
    take_job = _POOL.submit(track_pitch, take16, _SR, method=method)
    ref_job = None if melody is not None else _POOL.submit(track_pitch, ref16, _SR, method=method)
    delay_s, match = _delay_from_envelopes(_onset_envelope(take16), _onset_envelope(ref16), max_delay_s)
    delay_found = match >= _MIN_MATCH
    if not delay_found:
        delay_s = 0.0
    if melody is None:
        ref_times, ref_f0, _ = ref_job.result()
        tuning = estimate_tuning_cents(ref_f0)
        notes = notes_from_pitch(ref_times, ref_f0, tuning_cents=tuning)
    else:
        notes, tuning = melody
    if not notes:
        raise AudioContentError("The reference vocal holds no notes to score against; give the song's vocal stem "
                                "(kit separate SONG), not the backing track.")
    times_s, f0_hz, _ = take_job.result()
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

