"""Load and save audio: one decoder for every format, atomic writes.

Every file is decoded by FFmpeg, whatever its format. One decoder means one
timeline: FFmpeg trims the MP3 encoder delay, as soundfile and librosa do, so
stems line up with the input sample for sample (some readers, such as the one
Demucs ships, return MP3 audio about 25 ms late). Waveforms are float32 arrays
shaped ``(channels, samples)``.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import AudioContentError, FFmpegError, InputFileError, KitWarning, OptionError
from .ffmpeg import ffmpeg_input, run_ffmpeg

__all__ = [
    "load",
    "save",
    "resample",
    "to_stereo",
    "to_mono",
    "check_audio",
    "check_output_path",
    "atomic_output",
    "check_input_path",
    "parse_wav_stream",
    "encode_wav",
    "SAVE_FORMATS",
    "AUDIO_EXTENSIONS",
]

SAVE_FORMATS = ("wav", "flac", "mp3")
# File endings treated as audio when a folder of stems is read (load itself takes any format FFmpeg reads)
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif")

# Lines FFmpeg prints when the data itself is damaged (as opposed to notices).
_DAMAGE = re.compile(
    r"corrupt|invalid data|error while decoding|decoding error|truncat|"
    r"invalid pcm packet|premature end|incomplete frame|header missing",
    re.IGNORECASE,
)
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def check_input_path(path: Path) -> None:
    """Refuse a missing, folder or empty input path with one clear line (before any slow work)."""
    if not path.exists():
        raise InputFileError(f"No such file: '{path}'. Check the path and the file name.")
    if path.is_dir():
        raise InputFileError(f"'{path}' is a folder, not an audio file. Give the path of a song file.")
    if path.stat().st_size == 0:
        raise InputFileError(f"'{path}' is empty (0 bytes). Download or export it again.")


def parse_wav_stream(data: bytes, path: Path) -> tuple[np.ndarray, int]:
    """Read FFmpeg's float WAV from a pipe (its size fields are placeholders); ``path`` names it in errors."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InputFileError(f"'{path}' could not be decoded as audio. Is it a sound file?")
    pos, channels, sr = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            channels, sr = struct.unpack("<HI", data[pos + 10:pos + 16])
        if cid == b"data":
            body = data[pos + 8:]
            body = body[: len(body) - len(body) % (4 * channels)]
            y = np.frombuffer(body, dtype="<f4").reshape(-1, channels).T
            return np.ascontiguousarray(y, dtype=np.float32), int(sr)
        pos += 8 + size + (size & 1)
    raise InputFileError(f"'{path}' has no audio stream. Give a file with sound in it.")


def _decode(path: Path, extra_out: list[str], start_s, duration_s) -> tuple[np.ndarray, int, list[str]]:
    # "info" level, because the declared duration is how a cleanly cut file shows
    args = ["-v", "info", "-i", ffmpeg_input(path), "-map", "0:a:0", "-vn"]
    if start_s is not None or duration_s is not None:
        # atrim cuts at exact sample positions; -ss on the input would snap to packets
        parts = []
        if start_s:
            parts.append(f"start={float(start_s):.9f}")
        if duration_s is not None:
            parts.append(f"duration={float(duration_s):.9f}")
        args += ["-af", "atrim=" + ":".join(parts) if parts else "anull"]
    args += [*extra_out, "-c:a", "pcm_f32le", "-f", "wav", "pipe:1"]
    try:
        proc = run_ffmpeg(args, what=f"Decoding '{path.name}'")
    except FFmpegError as exc:
        msg = str(exc)
        if "matches no streams" in msg or "does not contain any stream" in msg:
            raise InputFileError(f"'{path}' has no audio stream. Give a file with sound in it.") from None
        raise InputFileError(
            f"'{path}' is not an audio file FFmpeg can read ({msg.split(': ', 1)[-1]}). "
            "Check that it is a song file (mp3, wav, flac, m4a, ogg, ...)."
        ) from None
    y, sr = parse_wav_stream(proc.stdout, path)
    damage = [ln for ln in proc.stderr.splitlines() if _DAMAGE.search(ln)]
    declared = _DURATION.search(proc.stderr)
    if declared and "estimating duration" not in proc.stderr.lower():
        h, m, s = declared.groups()
        expected_s = int(h) * 3600 + int(m) * 60 + float(s) - float(start_s or 0)
        if duration_s is not None:
            expected_s = min(expected_s, float(duration_s))
        got_s = y.shape[1] / sr
        # a file cut at a frame boundary decodes without errors, only shorter
        if got_s < expected_s - max(0.1, 0.02 * expected_s):
            damage.append(f"the file says {expected_s:.1f} s but holds only {got_s:.1f} s")
    return y, sr, damage


def load(
    path: str | os.PathLike,
    *,
    sr: int | None = None,
    mono: bool = False,
    start_s: float | None = None,
    duration_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode an audio file into a float32 array.

    Parameters
    ----------
    path : str or Path
        Any format FFmpeg reads (mp3, wav, flac, m4a, ogg, opus, video files).
    sr : int, optional
        Resample to this rate (explicitly, with soxr). Default keeps the file's rate.
    mono : bool
        Average the channels into one.
    start_s, duration_s : float, optional
        Read only this part of the file, cut at exact sample positions.

    Returns
    -------
    y : np.ndarray, float32, shape (channels, samples)
        One or two channels; files with more are downmixed to stereo, with a note.
    sr : int
        Sample rate in Hz.

    Raises
    ------
    InputFileError
        Missing, empty, not audio, truncated or corrupt file.
    AudioContentError
        No samples, or NaN/inf samples.

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.load(kit.examples.song_path(), duration_s=1.0)
    >>> y.shape, sr
    ((2, 44100), 44100)

    See also
    --------
    notebooks/01_sound_and_the_stft.ipynb
    """
    path = Path(path)
    check_input_path(path)
    if start_s is not None and start_s < 0:
        raise OptionError(f"start_s={start_s} is negative; give a start time of 0 s or more.")
    if duration_s is not None and duration_s <= 0:
        raise OptionError(f"duration_s={duration_s} must be positive; give a length in seconds.")
    y, native_sr, damage = _decode(path, [], start_s, duration_s)
    if y.shape[0] > 2:
        n = y.shape[0]
        # Decode again and let FFmpeg downmix: it knows the channel layout (5.1, 7.1, ...)
        y, native_sr, damage = _decode(path, ["-ac", "2"], start_s, duration_s)
        warnings.warn(f"'{path.name}' has {n} channels; downmixed to stereo.", KitWarning, stacklevel=2)
    if damage:
        raise InputFileError(
            f"'{path}' looks truncated or corrupt (FFmpeg: {damage[0].split('] ')[-1].strip()}). "
            "Download or export the file again."
        )
    check_audio(y, what=f"'{path}'")
    if mono and y.shape[0] > 1:
        y = to_mono(y)
    if sr is not None and sr != native_sr:
        y = resample(y, native_sr, sr=sr)
        native_sr = sr
    return y, native_sr


def check_audio(y: np.ndarray, *, what: str = "The audio", min_samples: int = 1) -> np.ndarray:
    """Check a waveform is usable: 2-D ``(channels, samples)``, samples present, finite.

    Returns the array as float32, C-contiguous. Raises :class:`AudioContentError`.
    """
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[np.newaxis]
    if y.ndim != 2 or y.shape[0] > 16:
        raise AudioContentError(
            f"{what} has shape {y.shape}; expected (channels, samples), e.g. (2, 441000)."
        )
    if y.shape[1] == 0:
        raise AudioContentError(f"{what} contains no audio samples. Use a file with sound in it.")
    if y.shape[1] < min_samples:
        raise AudioContentError(
            f"{what} is too short ({y.shape[1]} samples; at least {min_samples} needed). Use a longer clip."
        )
    if not np.all(np.isfinite(y)):
        bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
        raise AudioContentError(
            f"{what} contains {bad} NaN or infinite samples. Re-export it from your audio editor."
        )
    return np.ascontiguousarray(y, dtype=np.float32)


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average channels: ``(channels, samples) -> (1, samples)``."""
    return np.mean(y, axis=0, keepdims=True, dtype=np.float32)


def to_stereo(y: np.ndarray) -> np.ndarray:
    """Make a waveform two-channel: mono is copied to both sides, stereo is kept."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[np.newaxis]
    if y.shape[0] == 2:
        return y
    if y.shape[0] == 1:
        return np.concatenate([y, y], axis=0)
    raise AudioContentError(f"Expected 1 or 2 channels, got {y.shape[0]}; load the file with kit.load.")


def resample(y: np.ndarray, orig_sr: int, *, sr: int) -> np.ndarray:
    """Resample ``(channels, samples)`` from ``orig_sr`` to ``sr`` Hz (soxr, high quality)."""
    if orig_sr == sr:
        return y
    import soxr

    out = soxr.resample(np.ascontiguousarray(y.T), orig_sr, sr, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def check_output_path(path: str | os.PathLike, *, inputs=()) -> Path:
    """Refuse an output path that is one of the inputs, a folder, or has an unknown format."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext not in SAVE_FORMATS:
        raise OptionError(
            f"Cannot write '{path.name}': unknown format '.{ext}'. Use one of: "
            + ", ".join("." + f for f in SAVE_FORMATS) + "."
        )
    if path.is_dir():
        raise OptionError(f"'{path}' is a folder; give a file name such as '{path / ('out.' + ext)}'.")
    for src in inputs:
        src = Path(src)
        if src.exists() and path.exists() and os.path.samefile(src, path):
            raise OptionError(
                f"Refusing to overwrite the input '{src}'. Choose another output name with -o."
            )
    if not path.absolute().parent.exists():
        raise OptionError(f"Folder '{path.absolute().parent}' does not exist; create it or pick another -o.")
    return path


@contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; rename it over ``path`` only on success.

    A crash or an error leaves no half-written file behind, and the old file
    (if any) stays untouched until the new one is complete.
    """
    path = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:40]}.", suffix=".partial" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give the output normal permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    path: str | os.PathLike,
    y: np.ndarray,
    sr: int,
    *,
    bitrate_kbps: int = 320,
) -> Path:
    """Write a waveform to wav (32-bit float), flac (24-bit) or mp3, atomically.

    Parameters
    ----------
    path : str or Path
        Output file; the extension picks the format.
    y : np.ndarray, shape (channels, samples) or (samples,)
        Float waveform. WAV keeps values above 1.0; flac and mp3 clip them, with a note.
    sr : int
        Sample rate in Hz.
    bitrate_kbps : int
        MP3 bit rate.

    Returns
    -------
    path : Path
        The file written.

    Examples
    --------
    >>> import numpy as np, kit, tempfile, os
    >>> out = kit.save(os.path.join(tempfile.mkdtemp(), "a.wav"), np.zeros((2, 100)), 44100)
    >>> out.name
    'a.wav'
    """
    path = check_output_path(path)
    y = check_audio(y, what="The audio to save")
    ext = path.suffix.lower().lstrip(".")
    peak = float(np.max(np.abs(y)))
    if ext != "wav" and peak > 1.0:
        n = int(np.count_nonzero(np.abs(y) > 1.0))
        warnings.warn(
            f"{n} samples exceed full scale (peak {20 * np.log10(peak):+.1f} dBFS) and clip in "
            f"'{path.name}'; lower the gain, use a limiter, or save as .wav (float keeps them).",
            KitWarning,
            stacklevel=2,
        )
    with atomic_output(path) as tmp:
        if ext in ("wav", "flac"):
            import soundfile as sf

            subtype = "FLOAT" if ext == "wav" else "PCM_24"
            data = y.T if ext == "wav" else np.clip(y, -1.0, 1.0).T
            sf.write(str(tmp), data, int(sr), subtype=subtype, format=ext.upper())
        else:
            raw = np.ascontiguousarray(np.clip(y, -1.0, 1.0).T, dtype="<f4").tobytes()
            run_ffmpeg(
                ["-f", "f32le", "-ar", str(int(sr)), "-ac", str(y.shape[0]), "-i", "pipe:0",
                 "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-f", "mp3", str(tmp)],
                input_bytes=raw,
                what=f"Encoding '{path.name}'",
            )
    return path


def encode_wav(y: np.ndarray, sr: int) -> bytes:
    """16-bit PCM WAV bytes of ``y`` (clipped to full scale): what browsers, phones and players open.

    Written with the standard library's ``wave``, in memory (players and downloads
    in the app need bytes, not a file).

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate in Hz.

    Examples
    --------
    >>> import numpy as np
    >>> encode_wav(np.zeros((2, 4410), np.float32), 44100)[:4]
    b'RIFF'
    """
    import io
    import wave

    y = check_audio(np.asarray(y, dtype=np.float32), what="The audio to encode")
    pcm = np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(y.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(sr))
        w.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return buf.getvalue()
