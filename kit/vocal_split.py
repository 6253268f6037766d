"""Split a vocal stem into lead and backing vocals, by where each voice sits and by its pitch.

Separators give one ``vocals`` stem that holds the lead singer and the harmonies
together. Two cues tell them apart, and each is a method of its own so a lesson
can hear them apart:

- **pan**: the lead sits in the centre and harmonies are spread left and right.
  Per time-frequency bin, the correlation of the two channels says how centred
  the sound in that bin is (1 for a centred source, about 0.45 for one panned
  70 % to a side), as in ADRess-style azimuth separation.
- **pitch**: the lead is the predominant melody. Its f0 is tracked on the
  spectrogram (a harmonic sum over candidate pitches, smoothed by a Viterbi
  path), and a mask keeps the bins near its harmonics. This works for
  harmonies in the centre too, and on mono.
- **auto**: both. The pan cue finds the lead's melody: the f0 path is
  searched in the centre of the stereo image, where harmonies at the sides
  cannot capture it (they fill the gaps between the lead's harmonics, and then
  f0/2 or a harmony's f0 outscores the lead's). The f0 is then measured to the
  cent on the whole stem, and the pitch cue's mask splits. (Also vetoing bins
  that sit at a side scored lower on every test song: the lead's own stereo
  reverb sits there too.)

Both cues miss the lead's own room: its reverb is wide and lags its pitch. A
small room model (every voice's energy decays with a 1 s reverb time at
-12 dB) gives the lead its tail back, so a lead alone leaves the backing stem
nearly silent. The lead is resynthesised from the masked STFT and the backing is
the rest, so the two add up to the input to float precision.

Where it fails: a doubled lead (the melody sung again, a second take) stays
with the lead: its harmonics are the lead's (on ``make_harmony_song(harmony=
"double")`` the backing scores 0.5 dB SDR). Harmonies in unison or an octave
away share the lead's harmonics the same way. Panned wide, only the ``pan``
method could take them out; ``auto`` does not use the pan cue for that.

See also
--------
notebooks/11_lead_and_backing_vocals.ipynb, benchmarks/bench_vocal_split.py
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import KitWarning, OptionError
from .progress import Progress, report

__all__ = ["split_vocals", "split_stems", "split_stem_names", "check_split", "track_lead_f0",
           "compute_centre_weight", "compute_harmonic_mask",
           "METHODS", "STEMS", "F0_TRACKERS"]

METHODS = ("auto", "pan", "pitch")
STEMS = ("lead_vocals", "backing_vocals")
F0_TRACKERS = ("harmonic-sum", "pyin")

WINDOW_S = 0.093  # long enough to resolve the harmonics of a low voice (11 Hz bins at 44.1 kHz)
FMIN_HZ, FMAX_HZ = 70.0, 1100.0  # a bass's low notes to a soprano's high ones
ROOM_DB, ROOM_RT60_S = -12.0, 1.0  # the room assumed around every voice
TOP_HZ = 5000.0  # the f0 tracker listens to the harmonics below this
VOICED_FRACTION = 0.05  # frames whose melody is weaker than this part of the song's loud frames are unvoiced
# channel correlation -> centre weight 0..1: a harmony 70 % to a side reads 0.45, a centred voice in
# its own stereo reverb about 0.8-1
PAN_RANGE = (0.75, 0.97)


def _frame_sizes(sr: int) -> tuple[int, int]:
    n_fft = int(2 ** round(np.log2(WINDOW_S * sr)))
    return n_fft, n_fft // 4


def _frames_first(spec: np.ndarray) -> np.ndarray:
    """(channels, freqs, frames) complex -> float32 (frames, freqs, channels, 2) [re, im], no copy for librosa's.

    librosa's STFT is laid out frame by frame in memory, so working on
    (frames, freqs) arrays walks memory in order; (freqs, frames) would not.
    """
    spec_t = np.asarray(spec, np.complex64).T  # (frames, freqs, channels)
    if not spec_t.flags.c_contiguous:
        spec_t = np.ascontiguousarray(spec_t)
    return spec_t.view(np.float32).reshape(*spec_t.shape, 2)


def _power(pairs: np.ndarray) -> np.ndarray:
    """Power summed over channels, (frames, freqs) float32."""
    flat = pairs.reshape(*pairs.shape[:2], -1)
    return np.einsum("tfk,tfk->tf", flat, flat)


def _centre_weight(pairs: np.ndarray, power: np.ndarray, corr_range) -> np.ndarray:
    left, right = pairs[:, :, 0], pairs[:, :, 1]
    corr = left[..., 0] * right[..., 0]
    corr += left[..., 1] * right[..., 1]  # Re(L R*)
    corr *= 2
    corr /= np.maximum(power, np.float32(1e-20))
    lo, hi = corr_range
    corr -= np.float32(lo)
    corr /= np.float32(hi - lo)
    return np.clip(corr, 0.0, 1.0, out=corr)


def compute_centre_weight(spec: np.ndarray, *, corr_range: tuple[float, float] = PAN_RANGE) -> np.ndarray:
    """How centred each time-frequency bin is: 1 in the centre, 0 at or beyond a side.

    Parameters
    ----------
    spec : np.ndarray, complex, shape (2, freqs, frames)
        STFT of a stereo signal.
    corr_range : (float, float)
        Correlations at and below the first give 0, at and above the second 1.

    Returns
    -------
    weight : np.ndarray, float32, shape (freqs, frames)
        The normalised channel correlation ``2 Re(L R*) / (|L|^2 + |R|^2)``
        (1 for a centred source, ``sin(2 theta)`` for one panned at angle
        theta, below 0 for out-of-phase sound), mapped linearly from
        ``corr_range`` to 0 .. 1.

    Examples
    --------
    >>> import numpy as np
    >>> spec = np.ones((2, 3, 4), np.complex64)
    >>> float(compute_centre_weight(spec).min())
    1.0
    """
    pairs = _frames_first(spec)
    return _centre_weight(pairs, _power(pairs), corr_range).T


def _tracker_bins(sr: int, n_fft: int, top_hz: float = TOP_HZ) -> int:
    """How many STFT bins the f0 tracker looks at: up to ``top_hz``, or all of them at a low rate."""
    return min(int(top_hz * n_fft / sr) + 2, n_fft // 2 + 1)


def _harmonic_sum_weights(sr: int, n_fft: int, *, cents: float = 10.0, n_harmonics: int = 20,
                          decay: float = 0.8, top_hz: float = TOP_HZ):
    """Candidate f0s (Hz) and the (bins, candidates) matrix that sums each one's harmonics."""
    candidates = FMIN_HZ * 2 ** (np.arange(0.0, 1200 * np.log2(FMAX_HZ / FMIN_HZ), cents) / 1200)
    n_bins = _tracker_bins(sr, n_fft, top_hz)
    weights = np.zeros((n_bins, candidates.size), np.float32)
    cols = np.arange(candidates.size)
    for h in range(1, n_harmonics + 1):
        pos = h * candidates * n_fft / sr
        ok = pos < n_bins - 1
        i0 = np.floor(pos[ok]).astype(int)
        frac = (pos[ok] - i0).astype(np.float32)
        w = decay ** (h - 1)  # falling weights: f0/2 gains less from the even harmonics than f0 from all
        np.add.at(weights, (i0, cols[ok]), w * (1 - frac))
        np.add.at(weights, (i0 + 1, cols[ok]), w * frac)
    return candidates, weights


def _viterbi(salience: np.ndarray, *, max_jump: int = 6, cost_per_step: float = 0.02) -> np.ndarray:
    """The candidate path with the most salience, moving at most ``max_jump`` candidates a frame.

    No leaps: allowing them (at any cost we tried) let the path hop onto a harmony for a note.
    """
    n_frames, n_cand = salience.shape
    norm = salience / (salience.max(axis=1, keepdims=True) + 1e-12)
    width = 2 * max_jump + 1
    # row j of `shifted` holds the scores moved by j - max_jump candidates, plus the cost of that move:
    # the best previous candidate is then an argmax down the columns, all in contiguous rows
    shifted = np.full((width, n_cand + 2 * max_jump), -np.inf)
    cost = (-cost_per_step * np.abs(np.arange(width) - max_jump))[:, None]
    cols = np.arange(n_cand)
    back = np.empty((n_frames, n_cand), np.int16)
    score = norm[0].astype(np.float64)
    for t in range(1, n_frames):
        for j in range(width):
            shifted[j, j:j + n_cand] = score
        windows = shifted[:, max_jump:max_jump + n_cand] + cost
        best = np.argmax(windows, axis=0)
        score = windows[best, cols] + norm[t]
        score -= score.max()  # keep the numbers small; only differences matter
        back[t] = max_jump - best  # the previous candidate is this one plus back[t]
    path = np.empty(n_frames, np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = path[t] + back[t, path[t]]
    return path


def _compress(mag: np.ndarray) -> np.ndarray:
    """(freqs, frames) -> (frames, freqs) magnitude ** 0.3: a strong fundamental must not outvote the rest."""
    return np.power(mag.T, np.float32(0.3))


def _refine_f0(comp: np.ndarray, f0_hz: np.ndarray, sr: int, n_fft: int, *, cents: float = 30.0,
               n_harmonics: int = 20, decay: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """f0 to the cent, by the harmonic sum at 1-cent steps around each frame's rough f0; and its strength.

    The mask's 20th harmonic moves by 2 % of a bin for each cent, so the grid's 10 cents are not enough.
    """
    steps = np.arange(-cents, cents + 1)
    trial = f0_hz[:, None] * 2 ** (steps[None, :] / 1200)  # (frames, steps)
    h = np.arange(1, n_harmonics + 1)
    pos = trial[:, :, None] * h * (n_fft / sr)  # (frames, steps, harmonics), in bins
    inside = pos < comp.shape[1] - 1
    pos = np.where(inside, pos, 0)
    i0 = pos.astype(np.int64)
    frac = (pos - i0).astype(np.float32)
    rows = np.arange(comp.shape[0])[:, None, None]
    at = comp[rows, i0] * (1 - frac) + comp[rows, i0 + 1] * frac
    score = np.sum(at * inside * (decay ** (h - 1)).astype(np.float32), axis=2)  # (frames, steps)
    best = np.clip(np.argmax(score, axis=1), 1, steps.size - 2)
    r = np.arange(score.shape[0])
    a, b, c = score[r, best - 1], score[r, best], score[r, best + 1]
    offset = np.clip(0.5 * (a - c) / np.where(a - 2 * b + c < 0, a - 2 * b + c, -1e-12), -0.5, 0.5)
    return trial[r, best] * 2 ** (offset / 1200), b


def _track_harmonic_sum(mag: np.ndarray, sr: int, n_fft: int, guide: np.ndarray | None = None):
    candidates, weights = _harmonic_sum_weights(sr, n_fft)
    comp = _compress(mag[: weights.shape[0]])
    # the path follows the guide where there is one (the centre of the image); the f0 is measured on mag
    salience = (_compress(guide[: weights.shape[0]]) if guide is not None else comp) @ weights
    path = _viterbi(salience)
    f0_hz, strength = _refine_f0(comp, candidates[path], sr, n_fft)
    voiced = strength > VOICED_FRACTION * np.percentile(strength, 95)
    return f0_hz, voiced


def _track_pyin(y_mono: np.ndarray, sr: int, n_fft: int, hop_length: int) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    f0_hz, voiced, _ = librosa.pyin(y_mono, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=sr, frame_length=n_fft,
                                    hop_length=hop_length)
    return np.nan_to_num(f0_hz, nan=FMIN_HZ), voiced


def track_lead_f0(mag: np.ndarray, sr: int, *, n_fft: int, hop_length: int, tracker: str = "harmonic-sum",
                  y: np.ndarray | None = None, guide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The predominant f0 on every STFT frame: the one place to swap in another pitch tracker.

    Parameters
    ----------
    mag : np.ndarray, shape (freqs, frames)
        Magnitude spectrogram of the voice (``n_fft``, ``hop_length``).
    sr : int
        Sample rate in Hz.
    n_fft, hop_length : int
        The STFT's sizes.
    tracker : str
        ``"harmonic-sum"``: a sum of 20 weighted harmonics over candidate f0s
        10 cents apart, followed by a Viterbi path (fast: it reuses the STFT);
        ``"pyin"``: librosa's pYIN on ``y`` (8-20x slower; see
        benchmarks/bench_vocal_split.py for both, measured).
    y : np.ndarray, shape (samples,), optional
        The mono waveform, for ``"pyin"``.
    guide : np.ndarray, shape like ``mag``, optional
        Where to look for the melody (``auto`` gives the centre of the stereo
        image): the path follows it, and the f0 is then measured on ``mag``.

    Returns
    -------
    f0_hz : np.ndarray, shape (frames,)
    voiced : np.ndarray of bool, shape (frames,)

    Examples
    --------
    >>> import numpy as np
    >>> sr, n_fft = 22050, 2048
    >>> t = np.arange(sr) / sr
    >>> y = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 8))
    >>> mag = np.abs(np.fft.rfft(np.hanning(n_fft) * y[:n_fft]))[:, None].repeat(3, axis=1)
    >>> f0_hz, voiced = track_lead_f0(mag, sr, n_fft=n_fft, hop_length=512)
    >>> round(float(f0_hz[1]))
    220
    """
    if tracker == "harmonic-sum":
        return _track_harmonic_sum(mag, sr, n_fft, guide)
    if tracker == "pyin":
        if y is None:
            raise OptionError("tracker='pyin' needs the waveform; pass y=...")
        f0_hz, voiced = _track_pyin(y, sr, n_fft, hop_length)
        return f0_hz[: mag.shape[1]], voiced[: mag.shape[1]]
    raise OptionError(f"Unknown f0 tracker {tracker!r}; choose from {', '.join(F0_TRACKERS)}.")


def compute_harmonic_mask(f0_hz: np.ndarray, voiced: np.ndarray, *, sr: int, n_fft: int,
                          width_bins: float = 1.0, spread: float = 0.01) -> np.ndarray:
    """A soft mask near the harmonics of an f0 track: 1 on each harmonic, falling off as a Gaussian.

    Parameters
    ----------
    f0_hz, voiced : np.ndarray, shape (frames,)
        The f0 track and where it is voiced (unvoiced frames get 0).
    sr, n_fft : int
        Sample rate and STFT size.
    width_bins : float
        Standard deviation of each peak in bins (a Hann window's main lobe is 4 bins wide).
    spread : float
        Extra width per harmonic, as a fraction of its frequency: vibrato
        moves high harmonics further within one window.

    Returns
    -------
    mask : np.ndarray, float32, shape (n_fft // 2 + 1, frames)

    Examples
    --------
    >>> import numpy as np
    >>> m = compute_harmonic_mask(np.array([200.0]), np.array([True]), sr=8000, n_fft=400)
    >>> [round(float(m[k, 0]), 2) for k in (10, 15, 20)]  # 200 Hz, 300 Hz, 400 Hz
    [1.0, 0.0, 1.0]
    """
    return _harmonic_mask(f0_hz, voiced, sr=sr, n_fft=n_fft, width_bins=width_bins, spread=spread).T


def _harmonic_mask(f0_hz, voiced, *, sr, n_fft, width_bins=1.0, spread=0.01) -> np.ndarray:
    """compute_harmonic_mask as (frames, freqs)."""
    freqs = (np.arange(n_fft // 2 + 1) * sr / n_fft).astype(np.float32)[None, :]
    f0 = np.asarray(f0_hz, np.float32)[:, None]
    harmonic = freqs / f0
    np.rint(harmonic, out=harmonic)
    np.maximum(harmonic, 1.0, out=harmonic)
    harmonic *= f0  # now the nearest harmonic's frequency
    z = freqs - harmonic
    harmonic *= np.float32(spread)
    harmonic += np.float32(width_bins * sr / n_fft)
    z /= harmonic
    z *= z
    z *= np.float32(-0.5)
    mask = np.exp(z, out=z)
    mask[~np.asarray(voiced, bool)] = 0.0
    return mask


def _room_tail(power: np.ndarray, *, sr: int, hop_length: int) -> np.ndarray:
    """The reverb energy that ``power`` (frames, freqs) leaves behind in the assumed room."""
    a = np.float32(np.exp(-6.9 * hop_length / (ROOM_RT60_S * sr)))  # 6.9 = ln(1000): -60 dB after the RT60
    # a few bins wide: vibrato spreads a note's reverb around its harmonics
    tail = power.copy()
    for shift in (1, 2):
        np.maximum(tail[:, shift:], power[:, :-shift], out=tail[:, shift:])
        np.maximum(tail[:, :-shift], power[:, shift:], out=tail[:, :-shift])
    tail *= np.float32((1 - a) * 10 ** (ROOM_DB / 10))
    for t in range(1, tail.shape[0]):  # a one-pole smoother along time
        tail[t] += a * tail[t - 1]
    return tail


def _check_method(method: str) -> str:
    name = str(method).strip().lower()
    if name not in METHODS:
        raise OptionError(f"Unknown vocal split method {method!r}; choose from {', '.join(METHODS)}.")
    return name


def compute_lead_mask(spec: np.ndarray, sr: int, *, method: str = "auto", hop_length: int,
                      tracker: str = "harmonic-sum", y=None) -> tuple[np.ndarray, dict]:
    """The lead's soft mask (freqs, frames) for a vocal STFT (channels, freqs, frames), and what was found.

    ``info`` holds ``f0_hz`` and ``voiced`` (None for ``pan``). See :func:`split_vocals`.
    """
    method = _check_method(method)
    n_fft = 2 * (spec.shape[1] - 1)
    pairs = _frames_first(spec)
    power = _power(pairs)  # (frames, freqs), as every array below
    centre = None
    if spec.shape[0] == 2 and method != "pitch":
        centre = _centre_weight(pairs, power, PAN_RANGE)
    f0_hz = voiced = None
    if method == "pan" and centre is not None:
        direct = power * centre
    else:
        low = slice(0, _tracker_bins(sr, n_fft))  # all the tracker looks at
        # the path is searched in the centre only (see the module's docstring)
        guide = np.sqrt(power[:, low] * centre[:, low]).T if centre is not None else None
        f0_hz, voiced = track_lead_f0(np.sqrt(power[:, low]).T, sr, n_fft=n_fft, hop_length=hop_length,
                                      tracker=tracker, y=y, guide=guide)
        direct = _harmonic_mask(f0_hz, voiced, sr=sr, n_fft=n_fft)
        direct *= power
    del pairs
    # Energy the lead's room explains is the lead's; only what is left over can be a backing voice.
    lead = _room_tail(direct, sr=sr, hop_length=hop_length)
    backing = power - direct
    backing -= lead
    np.maximum(backing, 0.0, out=backing)
    lead += direct
    total = _room_tail(backing, sr=sr, hop_length=hop_length)
    total += backing
    total += lead
    mask = np.divide(lead, np.maximum(total, np.float32(1e-20), out=total), out=lead)
    return np.clip(mask, 0.0, 1.0, out=mask).T, {"f0_hz": f0_hz, "voiced": voiced}


def split_vocals(vocals: np.ndarray, sr: int, *, method: str = "auto", tracker: str = "harmonic-sum",
                 progress: Progress = None) -> dict[str, np.ndarray]:
    """Split a vocal stem into the lead singer and the backing vocals.

    Parameters
    ----------
    vocals : np.ndarray, shape (channels, samples) or (samples,)
        A vocal stem, e.g. ``kit.separate(...)["vocals"]``.
    sr : int
        Sample rate in Hz.
    method : str
        ``"pan"`` (the lead is in the centre), ``"pitch"`` (the lead is the
        predominant melody) or ``"auto"`` (both). On mono, ``pan`` and
        ``auto`` use the pitch cue alone and say so with a :class:`kit.KitWarning`.
    tracker : str
        The f0 tracker for the pitch cue (see :func:`track_lead_f0`).
    progress : callable, optional
        Called with a fraction 0..1.

    Returns
    -------
    stems : dict
        ``lead_vocals`` and ``backing_vocals``, float32, shaped like
        ``vocals``; they add up to it (to float precision).

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_harmony_song(2.0, sr=22050)
    >>> vocals = stems["lead_vocals"] + stems["backing_vocals"]
    >>> parts = kit.split_vocals(vocals, 22050)
    >>> sorted(parts), parts["lead_vocals"].shape
    (['backing_vocals', 'lead_vocals'], (2, 44100))
    >>> bool(abs(parts["lead_vocals"] + parts["backing_vocals"] - vocals).max() < 1e-6)
    True

    See also
    --------
    notebooks/11_lead_and_backing_vocals.ipynb
    """
    from .audio import check_audio
    from .spectral import compute_istft, compute_stft

    method = _check_method(method)
    if tracker not in F0_TRACKERS:
        raise OptionError(f"Unknown f0 tracker {tracker!r}; choose from {', '.join(F0_TRACKERS)}.")
    shape = np.shape(vocals)
    y = check_audio(vocals, what="The vocal stem")
    if y.shape[0] != 2 and method != "pitch":
        warnings.warn(f"The vocal stem has {y.shape[0]} channel{'s' if y.shape[0] > 1 else ''}, not 2: the pan "
                      "cue needs stereo, so only the pitch cue splits it.", KitWarning, stacklevel=2)
        method = "pitch"
    n_fft, hop_length = _frame_sizes(sr)
    report(progress, 0.0)
    spec = compute_stft(y, n_fft=n_fft, hop_length=hop_length)
    report(progress, 0.2)
    mask, _ = compute_lead_mask(spec, sr, method=method, hop_length=hop_length, tracker=tracker,
                                y=y.mean(axis=0) if tracker == "pyin" else None)
    report(progress, 0.7)
    lead = compute_istft(spec * mask, n_fft=n_fft, hop_length=hop_length, length=y.shape[1])
    backing = y - lead
    report(progress, 1.0)
    return {"lead_vocals": lead.reshape(shape), "backing_vocals": backing.reshape(shape)}


def check_split(method, stems=None, *, model: str | None = None) -> str | None:
    """The split method asked for (``True`` means ``"auto"``), or None; checks the model has vocals.

    Cheap, so callers run it before a separation.

    Examples
    --------
    >>> check_split(True, ["vocals", "accompaniment"])
    'auto'
    >>> check_split(None) is None
    True
    """
    if method is None or method is False:
        return None
    method = _check_method("auto" if method is True else method)
    if stems is not None and "vocals" not in stems:
        owner = f"model '{model}'" if model else "this model"
        raise OptionError(f"Splitting the vocals needs a 'vocals' stem, but {owner} has only: "
                          f"{', '.join(stems)}; pick a model with vocals (see `kit models`).")
    return method


def split_stem_names(stems) -> list[str]:
    """A model's stem names with ``vocals`` replaced by the lead and backing stems, in its place.

    Examples
    --------
    >>> split_stem_names(["vocals", "accompaniment"])
    ['lead_vocals', 'backing_vocals', 'accompaniment']
    """
    out = []
    for name in stems:
        out.extend(STEMS if name == "vocals" else [name])
    return out


def split_stems(stems: dict, sr: int, *, method: str = "auto", model: str | None = None,
                parts: dict | None = None, progress: Progress = None) -> dict[str, np.ndarray]:
    """A model's stems with ``vocals`` replaced by ``lead_vocals`` and ``backing_vocals``, in its place.

    ``parts`` are the two vocal stems when they were split before (the stem cache keeps them).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((2, 4410), np.float32)
    >>> list(split_stems({"vocals": y, "accompaniment": y}, 44100))
    ['lead_vocals', 'backing_vocals', 'accompaniment']
    """
    method = check_split(method, stems, model=model)
    if parts is None:
        parts = split_vocals(stems["vocals"], sr, method=method, progress=progress)
    out = {}
    for name, y in stems.items():
        if name == "vocals":
            out.update((k, parts[k]) for k in STEMS)
        else:
            out[name] = y
    return out
