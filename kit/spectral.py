"""STFT, inverse STFT and magnitude/phase helpers, with sizes in physical units.

Waveforms are ``(channels, samples)``; spectrograms are ``(channels, freqs, frames)``.
Every function accepts the librosa sizes (``n_fft``, ``hop_length`` in samples) or
the same sizes in seconds (``window_s``, ``hop_s``), so a lesson can say "a 93 ms
window moved by 23 ms" and get the same numbers librosa would use. The defaults
are librosa's (``n_fft=2048``, ``hop_length=n_fft // 4``, Hann window, centred
frames with zero padding), so spectrograms match ``librosa.stft`` bin for bin.
"""

from __future__ import annotations

import numpy as np

from .errors import OptionError

__all__ = [
    "compute_stft",
    "compute_istft",
    "compute_magphase",
    "compute_stft_magnitude",
    "compute_masked_waveform",
    "convert_to_db",
    "resolve_frame_sizes",
    "seconds_to_frames",
    "frames_to_seconds",
    "seconds_to_samples",
    "hz_to_bin",
    "bin_to_hz",
    "get_frequencies",
    "get_times",
    "DEFAULT_N_FFT",
]

DEFAULT_N_FFT = 2048


def seconds_to_samples(t_s, *, sr: int):
    """Seconds -> whole samples (rounded). Works on scalars and arrays.

    Examples
    --------
    >>> seconds_to_samples(0.5, sr=44100)
    22050
    """
    out = np.rint(np.asarray(t_s, dtype=float) * sr).astype(int)
    return int(out) if out.ndim == 0 else out


def seconds_to_frames(t_s, *, sr: int, hop_length: int = DEFAULT_N_FFT // 4):
    """Seconds -> STFT frame index, as :func:`librosa.time_to_frames` (rounds down).

    Examples
    --------
    >>> seconds_to_frames(2.0, sr=22050, hop_length=512)
    86
    """
    import librosa

    out = np.asarray(librosa.time_to_frames(t_s, sr=sr, hop_length=hop_length))
    return int(out) if out.ndim == 0 else out


def frames_to_seconds(frames, *, sr: int, hop_length: int = DEFAULT_N_FFT // 4):
    """STFT frame index -> seconds (the frame's centre, with centred frames).

    Examples
    --------
    >>> frames_to_seconds(86, sr=22050, hop_length=512)
    1.9969160997732427
    """
    out = np.asarray(frames, dtype=float) * hop_length / sr
    return float(out) if out.ndim == 0 else out


def hz_to_bin(f_hz, *, sr: int, n_fft: int = DEFAULT_N_FFT):
    """Frequency in Hz -> nearest FFT bin index (clipped to ``0 .. n_fft // 2``).

    Examples
    --------
    >>> hz_to_bin(1000.0, sr=44100, n_fft=2048)
    46
    """
    out = np.clip(np.rint(np.asarray(f_hz, dtype=float) * n_fft / sr), 0, n_fft // 2).astype(int)
    return int(out) if out.ndim == 0 else out


def bin_to_hz(bins, *, sr: int, n_fft: int = DEFAULT_N_FFT):
    """FFT bin index -> its centre frequency in Hz.

    Examples
    --------
    >>> bin_to_hz(46, sr=44100, n_fft=2048)
    990.52734375
    """
    out = np.asarray(bins, dtype=float) * sr / n_fft
    return float(out) if out.ndim == 0 else out


def get_frequencies(*, sr: int, n_fft: int = DEFAULT_N_FFT) -> np.ndarray:
    """Centre frequency in Hz of every STFT bin, shape ``(n_fft // 2 + 1,)``."""
    return np.arange(n_fft // 2 + 1) * sr / n_fft


def get_times(n_frames: int, *, sr: int, hop_length: int = DEFAULT_N_FFT // 4) -> np.ndarray:
    """Time in seconds of every STFT frame centre, shape ``(n_frames,)``."""
    return np.arange(n_frames) * hop_length / sr


def resolve_frame_sizes(
    sr: int | None,
    *,
    n_fft: int | None = None,
    hop_length: int | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
) -> tuple[int, int]:
    """Turn sizes given in samples or in seconds into ``(n_fft, hop_length)``.

    ``window_s`` and ``hop_s`` are rounded to whole samples. Give a size one way
    or the other, not both. Without sizes: librosa's 2048 and 512.

    Examples
    --------
    >>> resolve_frame_sizes(22050, window_s=0.0929, hop_s=0.0232)
    (2048, 512)
    """
    if n_fft is not None and window_s is not None:
        raise OptionError(f"Give the window as n_fft={n_fft} or window_s={window_s}, not both.")
    if hop_length is not None and hop_s is not None:
        raise OptionError(f"Give the hop as hop_length={hop_length} or hop_s={hop_s}, not both.")
    if (window_s is not None or hop_s is not None) and not sr:
        raise OptionError("window_s/hop_s need the sample rate; pass sr=... as well.")
    if window_s is not None:
        n_fft = seconds_to_samples(window_s, sr=sr)
    n_fft = int(n_fft if n_fft is not None else DEFAULT_N_FFT)
    if hop_s is not None:
        hop_length = seconds_to_samples(hop_s, sr=sr)
    hop_length = int(hop_length if hop_length is not None else n_fft // 4)
    if n_fft < 2:
        raise OptionError(f"The STFT window is {n_fft} samples; use at least 2 (e.g. window_s=0.046).")
    if not 1 <= hop_length <= n_fft:
        raise OptionError(
            f"hop_length={hop_length} must be between 1 and n_fft={n_fft}; a quarter window is usual."
        )
    return n_fft, hop_length


def compute_stft(
    y: np.ndarray,
    sr: int | None = None,
    *,
    n_fft: int | None = None,
    hop_length: int | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    window: str = "hann",
    center: bool = True,
) -> np.ndarray:
    """Short-time Fourier transform of every channel.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
        Waveform. A 1-D array is treated as one channel.
    sr : int, optional
        Sample rate in Hz; needed only with ``window_s``/``hop_s``.
    n_fft, hop_length : int, optional
        Window and hop in samples (librosa's names; default 2048 and n_fft // 4).
    window_s, hop_s : float, optional
        The same sizes in seconds, instead of samples.
    window : str
        Window function name (scipy.signal.get_window).
    center : bool
        Centre frames on ``t * hop_length`` with zero padding, as librosa does.

    Returns
    -------
    spec : np.ndarray, complex64, shape (channels, n_fft // 2 + 1, frames)

    Examples
    --------
    >>> import numpy as np
    >>> compute_stft(np.zeros((2, 22050), np.float32), 22050, window_s=0.0929, hop_s=0.0232).shape
    (2, 1025, 44)

    See also
    --------
    compute_istft, notebooks/01_sound_and_the_stft.ipynb
    """
    import librosa

    n_fft, hop_length = resolve_frame_sizes(sr, n_fft=n_fft, hop_length=hop_length, window_s=window_s, hop_s=hop_s)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[np.newaxis]
    return librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window=window, center=center)


def compute_istft(
    spec: np.ndarray,
    sr: int | None = None,
    *,
    n_fft: int | None = None,
    hop_length: int | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
) -> np.ndarray:
    """Inverse STFT back to a waveform ``(channels, samples)``, float32.

    Parameters
    ----------
    spec : np.ndarray, complex, shape (channels, freqs, frames) or (freqs, frames)
    sr, n_fft, hop_length, window_s, hop_s, window, center
        As in :func:`compute_stft`; use the same values. ``n_fft`` defaults to
        ``2 * (freqs - 1)``.
    length : int, optional
        Trim or pad the result to this many samples (pass the input's length to
        get back exactly as many samples as went in).

    Returns
    -------
    y : np.ndarray, float32, shape (channels, samples)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((1, 4000)).astype(np.float32)
    >>> back = compute_istft(compute_stft(y), length=4000)
    >>> bool(np.allclose(back, y, atol=1e-5))
    True

    See also
    --------
    compute_stft
    """
    import librosa

    spec = np.asarray(spec)
    if spec.ndim == 2:
        spec = spec[np.newaxis]
    if n_fft is None and window_s is None:
        n_fft = 2 * (spec.shape[-2] - 1)
    n_fft, hop_length = resolve_frame_sizes(sr, n_fft=n_fft, hop_length=hop_length, window_s=window_s, hop_s=hop_s)
    if spec.shape[-2] != n_fft // 2 + 1:
        raise OptionError(
            f"The spectrogram has {spec.shape[-2]} frequency bins but n_fft={n_fft} gives "
            f"{n_fft // 2 + 1}; pass the n_fft used for the STFT."
        )
    y = librosa.istft(spec, n_fft=n_fft, hop_length=hop_length, window=window, center=center, length=length)
    return np.ascontiguousarray(y, dtype=np.float32)


def compute_magphase(spec: np.ndarray, *, power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Split a complex spectrogram into magnitude and unit phase: ``spec = mag * phase``.

    Parameters
    ----------
    spec : np.ndarray, complex, shape (channels, freqs, frames)
    power : float
        1 for magnitude, 2 for power.

    Returns
    -------
    mag : np.ndarray, float32, same shape
    phase : np.ndarray, complex64, same shape, ``|phase| == 1`` (1 where ``spec == 0``)

    Examples
    --------
    >>> import numpy as np
    >>> mag, phase = compute_magphase(np.array([[3 + 4j, 0j]], np.complex64))
    >>> mag.tolist(), phase.tolist()
    ([[5.0, 0.0]], [[(0.6000000238418579+0.800000011920929j), (1+0j)]])

    See also
    --------
    librosa.magphase
    """
    import librosa

    mag, phase = librosa.magphase(np.asarray(spec), power=power)
    return mag.astype(np.float32, copy=False), phase.astype(np.complex64, copy=False)


def convert_to_db(mag: np.ndarray, *, ref=np.max, top_db: float | None = 80.0) -> np.ndarray:
    """Magnitude -> decibels relative to ``ref`` (librosa.amplitude_to_db), for plots.

    Examples
    --------
    >>> import numpy as np
    >>> convert_to_db(np.array([1.0, 0.1])).round(1).tolist()
    [0.0, -20.0]
    """
    import librosa

    return librosa.amplitude_to_db(np.asarray(mag), ref=ref, top_db=top_db)


# --- long signals, a chunk of frames at a time ----------------------------------

def _frame_chunks(y1: np.ndarray, *, n_fft: int, hop_length: int, chunk_frames: int, context: int):
    """Yield ``(f0, f1, a, spec)``: frames ``a..`` of the centred STFT of a 1-D signal.

    ``spec`` holds frames ``a .. b-1`` where ``[a, b)`` is ``[f0, f1)`` widened by
    ``context`` frames each side; every frame equals the same frame of
    ``librosa.stft(y1, center=True)`` (zero padding), computed from only the
    samples it covers.
    """
    import librosa

    n = y1.shape[-1]
    n_frames = 1 + n // hop_length
    half = n_fft // 2
    for f0 in range(0, n_frames, chunk_frames):
        f1 = min(f0 + chunk_frames, n_frames)
        a, b = max(0, f0 - context), min(n_frames, f1 + context)
        lo, hi = a * hop_length - half, (b - 1) * hop_length + half + (n_fft % 2)
        seg = np.zeros(hi - lo, dtype=np.float32)
        s0, s1 = max(lo, 0), min(hi, n)
        if s1 > s0:
            seg[s0 - lo:s1 - lo] = y1[s0:s1]
        yield f0, f1, a, librosa.stft(seg, n_fft=n_fft, hop_length=hop_length, center=False)


def compute_stft_magnitude(
    y: np.ndarray,
    *,
    n_fft: int = DEFAULT_N_FFT,
    hop_length: int | None = None,
    chunk_frames: int = 2048,
) -> np.ndarray:
    """``|STFT|`` of a long waveform without holding its complex spectrogram.

    Same values as ``np.abs(compute_stft(y, ...))``, computed a chunk of frames at
    a time, so a whole song needs one float32 spectrogram, not a complex one
    (twice the size) as well.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
    n_fft, hop_length : int
        STFT sizes in samples (hop default ``n_fft // 4``).
    chunk_frames : int
        Frames computed at once.

    Returns
    -------
    mag : np.ndarray, float32, shape (channels, n_fft // 2 + 1, frames)
        Laid out frame by frame (Fortran order), as librosa returns it.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((1, 20000)).astype(np.float32)
    >>> bool(np.allclose(compute_stft_magnitude(y, chunk_frames=8), np.abs(compute_stft(y))))
    True

    See also
    --------
    compute_masked_waveform
    """
    n_fft, hop_length = resolve_frame_sizes(None, n_fft=n_fft, hop_length=hop_length)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[np.newaxis]
    n_frames = 1 + y.shape[-1] // hop_length
    mag = np.empty((y.shape[0], n_fft // 2 + 1, n_frames), dtype=np.float32, order="F")
    for c in range(y.shape[0]):
        for f0, f1, a, spec in _frame_chunks(y[c], n_fft=n_fft, hop_length=hop_length,
                                             chunk_frames=chunk_frames, context=0):
            mag[c, :, f0:f1] = np.abs(spec[:, f0 - a:f1 - a])
    return mag


def compute_masked_waveform(
    y: np.ndarray,
    mask: np.ndarray,
    *,
    n_fft: int = DEFAULT_N_FFT,
    hop_length: int | None = None,
    chunk_frames: int = 2048,
) -> np.ndarray:
    """``istft(mask * stft(y))`` of a long waveform, a chunk of frames at a time.

    Each chunk is transformed with a few extra frames on both sides, so every
    sample it keeps has all the frames that overlap it: the result matches the
    whole-signal computation (to float32 rounding, ~1e-7) while memory holds one
    chunk's complex spectrogram instead of the song's.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
    mask : np.ndarray, shape (channels, freqs, frames) or (freqs, frames)
        One mask per channel, or one for all; frames as ``compute_stft(y)``.
    n_fft, hop_length, chunk_frames : int
        As in :func:`compute_stft_magnitude`.

    Returns
    -------
    y_masked : np.ndarray, float32, shape (channels, samples)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((2, 20000)).astype(np.float32)
    >>> mask = np.full((1025, 1 + 20000 // 512), 0.5, np.float32)
    >>> bool(np.allclose(compute_masked_waveform(y, mask, chunk_frames=8), 0.5 * y, atol=1e-5))
    True

    See also
    --------
    kit.masks.apply_mask, kit.separators.classical.RepetSimSeparator
    """
    import librosa

    n_fft, hop_length = resolve_frame_sizes(None, n_fft=n_fft, hop_length=hop_length)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[np.newaxis]
    mask = np.asarray(mask)
    n, n_frames = y.shape[-1], 1 + y.shape[-1] // hop_length
    if mask.shape[-2:] != (n_fft // 2 + 1, n_frames) or (mask.ndim == 3 and mask.shape[0] != y.shape[0]):
        raise OptionError(
            f"Mask shape {mask.shape} does not fit this signal's STFT "
            f"({y.shape[0]}, {n_fft // 2 + 1}, {n_frames}); use the same n_fft and hop_length."
        )
    # a sample is covered by frames up to n_fft / hop_length away
    context = -(-n_fft // hop_length) + 1
    half = n_fft // 2
    out = np.empty_like(y)
    for c in range(y.shape[0]):
        m = mask[c] if mask.ndim == 3 else mask
        for f0, f1, a, spec in _frame_chunks(y[c], n_fft=n_fft, hop_length=hop_length,
                                             chunk_frames=chunk_frames, context=context):
            spec *= m[:, a:a + spec.shape[1]]
            seg = librosa.istft(spec, n_fft=n_fft, hop_length=hop_length, center=False)
            # keep this chunk's own samples, [f0 * hop, f1 * hop) (to the end for the last chunk)
            t0, t1 = f0 * hop_length, (n if f1 == n_frames else min(n, f1 * hop_length))
            offset = a * hop_length - half  # sample position of seg[0]
            out[c, t0:t1] = seg[t0 - offset:t1 - offset]
    return out
