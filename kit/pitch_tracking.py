"""Follow the pitch (f0) of a voice over time: librosa's pYIN, or SwiftF0, a small CNN.

Two methods behind one function, :func:`track_pitch`:

* ``"pyin"``: librosa's probabilistic YIN (Mauch and Dixon, 2014), the method
  the lesson builds by hand. Clear and dependable, but slow: about real time
  on one core at 22 kHz, far too slow to score a song while the singer waits.
* ``"fast"`` (the default): SwiftF0 (Nieradzik, 2025, MIT licence), a
  14,000-parameter CNN on a 16 kHz spectrogram, 16 ms frames, 47 Hz to 2.1 kHz.
  Its ONNX weights (135 kB) ship inside the ``swift-f0`` wheel, so nothing is
  downloaded at run time. ``benchmarks/bench_pitch.py`` measures both methods'
  speed and accuracy on synthetic voices whose pitch is known.

Both return frame times at the centre of each analysis window, the pitch in Hz
(NaN where the frame is unvoiced, as librosa does) and a voiced flag. The input
is mixed to mono first.

See also
--------
notebooks/10_pitch_and_singing.ipynb
"""

from __future__ import annotations

import functools

import numpy as np

from .audio import check_audio, resample, to_mono
from .errors import OptionError

__all__ = ["track_pitch", "hz_to_midi", "midi_to_hz", "cents_between", "METHODS", "FMIN_HZ", "FMAX_HZ"]

METHODS = ("fast", "pyin")
# a sung voice: a bass's low E2 (82 Hz) down a little, a soprano's C6 (1047 Hz)
FMIN_HZ = 65.0
FMAX_HZ = 1100.0
_FAST_SR = 16000  # SwiftF0's own rate
_PYIN_SR = 22050
_PYIN_FRAME = 2048  # librosa's default at 22 kHz: two periods of 65 Hz fit
_PYIN_HOP = 256  # 11.6 ms, close to SwiftF0's 16 ms
_VOICED_CONFIDENCE = 0.5  # SwiftF0's confidence is calibrated so that 0.5 splits voiced from unvoiced


def hz_to_midi(f0_hz):
    """MIDI note number of a frequency (69 = A4 = 440 Hz; 60 = middle C); NaN stays NaN.

    Examples
    --------
    >>> from kit.pitch_tracking import hz_to_midi
    >>> float(hz_to_midi(440.0)), float(hz_to_midi(261.6256).round(3))
    (69.0, 60.0)
    """
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 69.0 + 12.0 * np.log2(f0_hz / 440.0)


def midi_to_hz(midi):
    """Frequency in Hz of a (possibly fractional) MIDI note number.

    Examples
    --------
    >>> from kit.pitch_tracking import midi_to_hz
    >>> float(midi_to_hz(69)), float(midi_to_hz(81))
    (440.0, 880.0)
    """
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def cents_between(f_hz, ref_hz):
    """How far ``f_hz`` is above ``ref_hz`` in cents: ``1200 * log2(f / ref)`` (100 cents = 1 semitone).

    Examples
    --------
    >>> from kit.pitch_tracking import cents_between
    >>> float(cents_between(880.0, 440.0)), float(cents_between(440.0, 466.1638).round(1))
    (1200.0, -100.0)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1200.0 * np.log2(np.asarray(f_hz, dtype=np.float64) / np.asarray(ref_hz, dtype=np.float64))


def _check_range(fmin_hz, fmax_hz) -> tuple[float, float]:
    try:
        lo, hi = float(fmin_hz), float(fmax_hz)
    except (TypeError, ValueError):
        raise OptionError(f"fmin_hz={fmin_hz!r}, fmax_hz={fmax_hz!r} are not numbers; give Hz, e.g. 65 and 1100.") \
            from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 40.0 <= lo < hi / 1.2 and hi <= 2000.0):
        raise OptionError(f"The pitch range {fmin_hz} to {fmax_hz} Hz is not usable; give 40 <= fmin_hz < fmax_hz "
                          "<= 2000 with some room between them (a voice: 65 to 1100).")
    return lo, hi


@functools.lru_cache(maxsize=1)
def _swift_detector():
    """One SwiftF0 session for the process (building it allocates the ONNX thread pool).

    ``spin=False`` lets ONNX Runtime's threads sleep between calls instead of
    busy-waiting, which matters in a notebook or app server that does other work.
    """
    try:
        import swift_f0
    except ImportError:
        raise OptionError("method='fast' needs the swift-f0 package: pip install swift-f0 "
                          "(or use method='pyin').") from None
    return swift_f0.SwiftF0(threads=2, spin=False)


def _track_fast(y: np.ndarray, sr: int, fmin_hz: float, fmax_hz: float):
    y16 = resample(y, sr, sr=_FAST_SR)[0]
    result = _swift_detector().detect(y16, _FAST_SR, fmin=fmin_hz, fmax=fmax_hz)
    voiced = result.confidence >= _VOICED_CONFIDENCE
    return result.timestamps, np.where(voiced, result.pitch_hz, np.nan), voiced


def _track_pyin(y: np.ndarray, sr: int, fmin_hz: float, fmax_hz: float):
    import librosa

    y22 = resample(y, sr, sr=_PYIN_SR)[0]
    f0, voiced, _ = librosa.pyin(y22, fmin=fmin_hz, fmax=fmax_hz, sr=_PYIN_SR, frame_length=_PYIN_FRAME,
                                 hop_length=_PYIN_HOP, center=True)
    times = librosa.times_like(f0, sr=_PYIN_SR, hop_length=_PYIN_HOP)
    return times, np.where(voiced, f0, np.nan), np.asarray(voiced, dtype=bool)


def track_pitch(y, sr: int, *, method: str = "fast", fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ):
    """Estimate the pitch (fundamental frequency) of one voice, frame by frame.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
        A voice (a vocal stem or a take); channels are averaged.
    sr : int
        Sample rate in Hz.
    method : {"fast", "pyin"}
        ``"fast"``: SwiftF0, a small CNN (16 ms frames, well over 50x real time
        on two cores). ``"pyin"``: librosa's pYIN (11.6 ms frames, about real time).
    fmin_hz, fmax_hz : float
        The pitch range searched.

    Returns
    -------
    times_s : np.ndarray, shape (frames,)
        Centre of each frame, in seconds from the start of ``y``.
    f0_hz : np.ndarray, shape (frames,)
        Pitch in Hz; NaN where the frame is unvoiced.
    voiced : np.ndarray of bool, shape (frames,)

    Examples
    --------
    >>> import numpy as np, kit
    >>> y, _ = kit.examples.make_sung_melody([(0.1, 0.9, 69)], 16000, vibrato_semitones=0)
    >>> times_s, f0_hz, voiced = kit.track_pitch(y, 16000)
    >>> round(float(np.nanmedian(f0_hz)))
    440

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    if method not in METHODS:
        raise OptionError(f"method='{method}' is not a pitch tracker; use 'fast' (SwiftF0) or 'pyin' (librosa).")
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr < 8000:
        raise OptionError(f"sr={sr!r} is not a sample rate; give the rate in Hz, e.g. 44100.")
    lo, hi = _check_range(fmin_hz, fmax_hz)
    y = to_mono(check_audio(y, what="The voice"))
    track = _track_fast if method == "fast" else _track_pyin
    times_s, f0_hz, voiced = track(y, int(sr), lo, hi)
    return (np.asarray(times_s, dtype=np.float64), np.asarray(f0_hz, dtype=np.float64),
            np.asarray(voiced, dtype=bool))
