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
import subprocess
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import AudioContentError, FFmpegError, InputFileError, KitWarning, OptionError
from .ffmpeg import ffmpeg_input, find_ffmpeg, run_ffmpeg

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
    "AudioInfo",
    "probe_audio",
    "format_duration",
    "check_song_length",
    "max_song_minutes",
    "open_audio_stream",
    "open_audio_writer",
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
    args = ["-v", "info", "-i", ffmpeg_input(path), "-map", "0:a:0", "-vn", *_trim_args(start_s, duration_s)]
    args += [*extra_out, "-c:a", "pcm_f32le", "-f", "wav", "pipe:1"]
    try:
        proc = run_ffmpeg(args, what=f"Decoding '{path.name}'")
    except FFmpegError as exc:
        raise _decode_error(path, exc) from None
    y, sr = parse_wav_stream(proc.stdout, path)
    return y, sr, _find_damage(proc.stderr, y.shape[1] / sr, start_s, duration_s)


def _find_damage(stderr: str, got_s: float, start_s, duration_s) -> list[str]:
    """FFmpeg's lines about damaged data, and a file that holds less than its header declares."""
    damage = [ln for ln in stderr.splitlines() if _DAMAGE.search(ln)]
    declared = _DURATION.search(stderr)
    if declared and "estimating duration" not in stderr.lower():
        h, m, s = declared.groups()
        expected_s = int(h) * 3600 + int(m) * 60 + float(s) - float(start_s or 0)
        if duration_s is not None:
            expected_s = min(expected_s, float(duration_s))
        # a file cut at a frame boundary decodes without errors, only shorter
        if got_s < expected_s - max(0.1, 0.02 * expected_s):
            damage.append(f"the file says {expected_s:.1f} s but holds only {got_s:.1f} s")
    return damage


def _decode_error(path: Path, exc: FFmpegError) -> InputFileError:
    """FFmpeg's refusal to open a file, as the one line kit.load gives."""
    msg = str(exc)
    if "matches no streams" in msg or "does not contain any stream" in msg:
        return InputFileError(f"'{path}' has no audio stream. Give a file with sound in it.")
    return InputFileError(
        f"'{path}' is not an audio file FFmpeg can read ({msg.split(': ', 1)[-1]}). "
        "Check that it is a song file (mp3, wav, flac, m4a, ogg, ...)."
    )


def _damage_error(path: Path, damage: list[str]) -> InputFileError:
    return InputFileError(
        f"'{path}' looks truncated or corrupt (FFmpeg: {damage[0].split('] ')[-1].strip()}). "
        "Download or export the file again."
    )


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
        raise _damage_error(path, damage)
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
        _warn_clipped(path, int(np.count_nonzero(np.abs(y) > 1.0)), peak, stacklevel=3)
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


def _warn_clipped(path: Path, n: int, peak: float, *, stacklevel: int) -> None:
    warnings.warn(
        f"{n} samples exceed full scale (peak {20 * np.log10(peak):+.1f} dBFS) and clip in "
        f"'{path.name}'; lower the gain, use a limiter, or save as .wav (float keeps them).",
        KitWarning,
        stacklevel=stacklevel,
    )


# --- long files: the header first, then a block at a time --------------------------


class AudioInfo(NamedTuple):
    """What a file's header says, read without decoding it (:func:`probe_audio`)."""

    duration_s: float | None
    """Length in seconds; None when the file does not say (a live stream)."""
    sr: int | None
    """Sample rate in Hz."""
    channels: int | None
    """Number of channels (before any downmix to stereo)."""


_INPUT_AUDIO = re.compile(r"Stream #0:\d+\S*: Audio: [^,]+, (\d+) Hz, ([^,]+)")
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7,
            "7.1": 8}


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Read a file's length, rate and channels from its header, without decoding the audio.

    FFmpeg reports them when it opens the file (kit never needs ``ffprobe``,
    which the ``imageio-ffmpeg`` binary lacks). A 6-hour MP3 is probed in
    well under a second, so a command can say what a job costs before it starts.

    Parameters
    ----------
    path : str or Path
        Any file :func:`load` reads.

    Returns
    -------
    info : AudioInfo
        ``duration_s`` (None if the file does not declare it), ``sr``, ``channels``.
        For an MP3 without a length header FFmpeg estimates the length from the bit rate.

    Raises
    ------
    InputFileError
        Missing, empty, not audio, or no audio stream.

    Examples
    --------
    >>> import kit
    >>> info = kit.audio.probe_audio(kit.examples.song_path())
    >>> round(info.duration_s), info.sr, info.channels
    (11, 44100, 2)
    """
    path = Path(path)
    check_input_path(path)
    try:
        proc = run_ffmpeg(["-v", "info", "-i", ffmpeg_input(path), "-map", "0:a:0", "-t", "0", "-f", "null", "-"],
                          what=f"Reading '{path.name}'")
    except FFmpegError as exc:
        raise _decode_error(path, exc) from None
    head = re.split(r"Stream mapping|Output #0", proc.stderr, maxsplit=1)[0]
    declared = _DURATION.search(head)
    duration_s = None
    if declared:
        h, m, sec = declared.groups()
        duration_s = int(h) * 3600 + int(m) * 60 + float(sec)
    stream = _INPUT_AUDIO.search(head)
    sr = channels = None
    if stream:
        sr = int(stream.group(1))
        layout = stream.group(2).strip()
        found = re.match(r"(\d+) channels", layout)
        channels = int(found.group(1)) if found else _LAYOUTS.get(layout.split("(")[0])
    return AudioInfo(duration_s, sr, channels)


def format_duration(seconds: float) -> str:
    """A length as people say it: ``'45 s'``, ``'12 min 05 s'``, ``'6 h 00 min'``.

    Examples
    --------
    >>> from kit.audio import format_duration
    >>> format_duration(6 * 3600), format_duration(725), format_duration(45.2)
    ('6 h 00 min', '12 min 05 s', '45 s')
    """
    seconds = max(0, int(round(float(seconds))))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def max_song_minutes() -> float:
    """The longest song the karaoke app takes, in minutes: ``$KIT_MAX_MINUTES``, default 20."""
    text = os.environ.get("KIT_MAX_MINUTES")
    try:
        minutes = float(text) if text else 20.0
    except ValueError:
        raise OptionError(f"KIT_MAX_MINUTES={text!r} is not a number of minutes; set e.g. 20.") from None
    return minutes if minutes > 0 else 20.0


def _say_length(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((hours, "hour"), (minutes, "minute")) if n]
    return " ".join(parts) if parts else f"{seconds:.0f} seconds"


_STREAM_MINUTES = 15.0  # longer songs are separated in blocks (KIT_STREAM_MINUTES)


def stream_threshold_s() -> float:
    """Songs longer than this (seconds) are separated in blocks: ``$KIT_STREAM_MINUTES``, default 15 minutes."""
    text = os.environ.get("KIT_STREAM_MINUTES")
    try:
        minutes = float(text) if text else _STREAM_MINUTES
    except ValueError:
        raise OptionError(f"KIT_STREAM_MINUTES={text!r} is not a number of minutes; set e.g. 15.") from None
    return max(0.0, minutes) * 60.0


def check_song_length(path: str | os.PathLike, *, max_minutes: float | None = None) -> AudioInfo:
    """Refuse a song longer than the karaoke app serves, from its header, before it is decoded.

    Decoding a 6-hour song takes 7.6 GB; on a shared server that one upload
    would take every kernel down. The header says the length in milliseconds.

    Parameters
    ----------
    path : str or Path
        The uploaded or fetched file.
    max_minutes : float, optional
        The limit; default :func:`max_song_minutes` (``$KIT_MAX_MINUTES``, 20).

    Returns
    -------
    info : AudioInfo
        What :func:`probe_audio` read.

    Raises
    ------
    InputFileError
        One sentence: how long the file is, the limit, and what to do instead.

    Examples
    --------
    >>> import kit
    >>> kit.audio.check_song_length(kit.examples.song_path()).sr
    44100
    """
    limit = max_song_minutes() if max_minutes is None else float(max_minutes)
    info = probe_audio(path)
    if info.duration_s is not None and info.duration_s > limit * 60:
        raise InputFileError(
            f"This file is {_say_length(info.duration_s)} long; the karaoke maker takes songs up to "
            f"{limit:g} minutes. Cut the part you want, or use `kit separate` on the command line."
        )
    return info


class AudioStream:
    """A file's samples, read a block at a time from one FFmpeg process (:func:`open_audio_stream`).

    Attributes
    ----------
    sr : int
        Sample rate in Hz.
    channels : int
        1 or 2 (files with more are downmixed by FFmpeg).
    samples_read : int
        Samples per channel read so far.
    """

    def __init__(self, path: Path, extra: list[str], start_s, duration_s):
        self.path, self.start_s, self.duration_s = path, start_s, duration_s
        self.samples_read, self.at_end, self._done = 0, False, False
        args = ["-v", "info", "-i", ffmpeg_input(path), "-map", "0:a:0", "-vn", *_trim_args(start_s, duration_s),
                *extra, "-c:a", "pcm_f32le", "-f", "wav", "pipe:1"]
        # FFmpeg's notes go to a file: a pipe nobody reads would fill up and stall the decoder
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([find_ffmpeg(), "-hide_banner", "-nostdin", *args], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._log)
        try:
            self.sr, self.channels = self._read_header()
        except BaseException:
            self.abort()
            raise

    def _log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def _read_header(self) -> tuple[int, int]:
        out = self._proc.stdout
        head = out.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            if self._proc.wait() != 0:
                lines = [ln.strip() for ln in self._log_text().splitlines() if ln.strip()]
                raise _decode_error(self.path, FFmpegError(f"Decoding failed: {lines[-1] if lines else '?'}"))
            raise InputFileError(f"'{self.path}' could not be decoded as audio. Is it a sound file?")
        channels = sr = None
        while True:
            chunk = out.read(8)
            if len(chunk) < 8:
                raise InputFileError(f"'{self.path}' has no audio stream. Give a file with sound in it.")
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                return int(sr), int(channels)
            body = out.read(size + (size & 1))
            if cid == b"fmt ":
                channels, sr = struct.unpack("<HI", body[2:8])

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples, float32 ``(channels, n)``; fewer at the end, none after it."""
        want = int(n_samples) * 4 * self.channels
        data = self._proc.stdout.read(want) if want > 0 and not self.at_end else b""
        if len(data) < want:
            self.at_end = True
        data = data[: len(data) - len(data) % (4 * self.channels)]
        y = np.frombuffer(data, dtype="<f4").reshape(-1, self.channels).T
        y = np.ascontiguousarray(y, dtype=np.float32)
        self.samples_read += y.shape[1]
        if y.size and not np.all(np.isfinite(y)):
            check_audio(y, what=f"'{self.path}'")  # raises, with the count
        return y

    def finish(self) -> None:
        """After the last block: wait for FFmpeg and refuse a file that turned out truncated or corrupt."""
        if self._done:
            return
        self._done = True
        if not self.at_end:
            self.abort()
            return
        rc = self._proc.wait()
        self._proc.stdout.close()
        text = self._log_text()
        self._log.close()
        if rc != 0:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            raise _decode_error(self.path, FFmpegError(f"Decoding failed: {lines[-1] if lines else rc}"))
        damage = _find_damage(text, self.samples_read / self.sr, self.start_s, self.duration_s)
        if damage:
            raise _damage_error(self.path, damage)
        if self.samples_read == 0:
            raise AudioContentError(f"'{self.path}' contains no audio samples. Use a file with sound in it.")

    def abort(self) -> None:
        """Stop FFmpeg now (the reader gave up, or was stopped)."""
        self._done = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        self._log.close()


def _trim_args(start_s, duration_s) -> list[str]:
    parts = []
    if start_s:
        parts.append(f"start={float(start_s):.9f}")
    if duration_s is not None:
        parts.append(f"duration={float(duration_s):.9f}")
    # atrim cuts at exact sample positions; -ss on the input would snap to packets
    return ["-af", "atrim=" + ":".join(parts)] if parts else []


@contextmanager
def open_audio_stream(path: str | os.PathLike, *, start_s: float | None = None, duration_s: float | None = None):
    """Decode a file a block at a time, so that a song of any length fits in memory.

    The samples are those :func:`load` returns, in the same order; nothing but
    the block asked for is held.

    Parameters
    ----------
    path : str or Path
        Any file :func:`load` reads.
    start_s, duration_s : float, optional
        Read only this part of the file, cut at exact sample positions.

    Yields
    ------
    stream : AudioStream
        ``stream.read(n)`` returns the next ``n`` samples ``(channels, n)``, fewer at
        the end. Leaving the block after the last read checks the file was whole.

    Examples
    --------
    >>> import kit
    >>> with kit.audio.open_audio_stream(kit.examples.song_path()) as stream:
    ...     block = stream.read(44100)
    >>> block.shape, stream.sr
    ((2, 44100), 44100)
    """
    path = Path(path)
    check_input_path(path)
    if start_s is not None and start_s < 0:
        raise OptionError(f"start_s={start_s} is negative; give a start time of 0 s or more.")
    stream = AudioStream(path, [], start_s, duration_s)
    if stream.channels > 2:
        n = stream.channels
        stream.abort()
        stream = AudioStream(path, ["-ac", "2"], start_s, duration_s)
        warnings.warn(f"'{path.name}' has {n} channels; downmixed to stereo.", KitWarning, stacklevel=3)
    try:
        yield stream
    except BaseException:
        stream.abort()
        raise
    stream.finish()


_STREAM_ENCODERS = {
    "wav": ["-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav"],  # RF64 only if it passes 4 GB
    "flac": ["-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24", "-f", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
}


class AudioWriter:
    """Append blocks to one audio file (:func:`open_audio_writer`).

    WAV and FLAC are written with soundfile (as :func:`save` writes them); MP3,
    or any format run through FFmpeg filters, goes through one FFmpeg encoder
    fed block by block, so the song is never whole in memory.

    Attributes
    ----------
    samples_written : int
    peak : float
        The largest absolute sample given (before any clipping).
    n_clipped : int
        Samples above full scale (they clip in FLAC and MP3).
    log : str
        FFmpeg's messages, once closed (for the filters' measurements).
    """

    def __init__(self, tmp: Path, ext: str, sr: int, channels: int, *, bitrate_kbps: int, filters: str | None,
                 expected_s: float | None = None):
        self.sr, self.channels, self.ext = int(sr), int(channels), ext
        self.samples_written, self.peak, self.n_clipped, self.log = 0, 0.0, 0, ""
        self._clip = ext != "wav" and not filters
        self._file = self._proc = None
        if ext in ("wav", "flac") and not filters:
            import soundfile as sf

            container = ext.upper()
            # a WAV holds at most 4 GB (3.4 hours of float stereo at 44.1 kHz): longer ones are RF64,
            # the same format with 64-bit sizes, which FFmpeg, soundfile and DAWs read
            if ext == "wav" and (expected_s is None or expected_s * self.sr * self.channels * 4 > 3.9e9):
                container = "RF64"
            self._file = sf.SoundFile(str(tmp), "w", samplerate=self.sr, channels=self.channels,
                                      subtype="FLOAT" if ext == "wav" else "PCM_24", format=container)
            return
        encode = list(_STREAM_ENCODERS[ext])
        if ext == "mp3":
            encode[2:2] = ["-b:a", f"{int(bitrate_kbps)}k"]
        args = ["-f", "f32le", "-ar", str(self.sr), "-ac", str(self.channels), "-i", "pipe:0",
                *(["-af", filters] if filters else []), *encode, "file:" + str(tmp)]
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([find_ffmpeg(), "-hide_banner", "-y", *args], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=self._log)

    def write(self, y: np.ndarray) -> None:
        """Append ``(channels, n)`` samples."""
        y = np.asarray(y, dtype=np.float32)
        if y.shape[0] != self.channels:
            raise AudioContentError(f"A block has {y.shape[0]} channels; this file was opened with {self.channels}.")
        if not y.shape[1]:
            return
        mag = np.abs(y)
        self.peak = max(self.peak, float(mag.max()))
        self.n_clipped += int(np.count_nonzero(mag > 1.0))
        del mag
        if self._clip:
            y = np.clip(y, -1.0, 1.0)
        self.samples_written += y.shape[1]
        if self._file is not None:
            self._file.write(y.T)
            return
        try:
            self._proc.stdin.write(np.ascontiguousarray(y.T, dtype="<f4").tobytes())
        except BrokenPipeError:
            self.close()  # FFmpeg stopped: its own words say why

    def close(self) -> None:
        """Finish the file; raises FFmpegError if the encoder failed."""
        if self._file is not None:
            self._file.close()
            return
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self._proc.wait()
        self._log.seek(0)
        self.log = self._log.read().decode("utf-8", "replace")
        self._log.close()
        if rc != 0:
            lines = [ln.strip() for ln in self.log.splitlines() if ln.strip()]
            raise FFmpegError(f"Encoding failed: {lines[-1] if lines else f'exit code {rc}'}")

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
        elif self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            self._log.close()


@contextmanager
def open_audio_writer(path: str | os.PathLike, sr: int, channels: int, *, bitrate_kbps: int = 320,
                      filters: str | None = None, inputs=(), expected_s: float | None = 0.0):
    """Write a file a block at a time, atomically: it appears only when complete.

    Parameters
    ----------
    path : str or Path
        ``.wav`` (32-bit float), ``.flac`` (24-bit) or ``.mp3``.
    sr : int
        Sample rate in Hz.
    channels : int
        Channels of every block.
    bitrate_kbps : int
        MP3 bit rate.
    filters : str, optional
        An FFmpeg filter chain run before encoding (e.g. a limiter); then FFmpeg
        writes every format.
    inputs : sequence of paths
        Files the output must never replace.
    expected_s : float or None
        About how long the file will be (None: unknown). A ``.wav`` that may pass
        4 GB is written as RF64 (WAV with 64-bit sizes).

    Yields
    ------
    writer : AudioWriter
        ``writer.write(block)`` appends ``(channels, n)`` samples. An error or
        Ctrl-C inside the ``with`` leaves no file (and the old one untouched).

    Examples
    --------
    >>> import numpy as np, kit, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "a.flac")
    >>> with kit.audio.open_audio_writer(out, 44100, 2) as writer:
    ...     for _ in range(3):
    ...         writer.write(np.zeros((2, 44100), np.float32))
    >>> kit.audio.probe_audio(out).duration_s
    3.0
    """
    path = check_output_path(path, inputs=inputs)
    ext = path.suffix.lower().lstrip(".")
    with atomic_output(path) as tmp:
        writer = AudioWriter(tmp, ext, sr, channels, bitrate_kbps=bitrate_kbps, filters=filters,
                             expected_s=expected_s)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        writer.close()
    if writer.n_clipped and ext != "wav" and not filters:
        _warn_clipped(path, writer.n_clipped, writer.peak, stacklevel=4)
