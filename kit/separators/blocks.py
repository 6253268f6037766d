"""Songs of any length: separate a block at a time, with context, in bounded memory.

A 6-hour recording is 7.6 GB as float32 stereo, and every separator holds a
few copies of its input. So a long song is decoded, separated and written a
block of a few minutes at a time (:func:`separate_blocks`); memory then does not
depend on the song's length. Each block is separated with context on both
sides (:meth:`kit.separators.base.Separator.plan_blocks`) and only its middle is
kept: for ``unet`` the blocks sit on the network's segment grid and the result
equals the whole-song result to float rounding; for other models the joins are
cross-faded over a second, as Demucs cross-fades its own segments.

Input at another rate than the model's is resampled as one stream (soxr's
streaming resampler gives the same samples as resampling the whole song), and
the stems are resampled back the same way.

See also
--------
kit.audio.open_audio_stream, kit.audio.open_audio_writer
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np

from ..audio import check_audio, format_duration, probe_audio, stream_threshold_s
from ..errors import OptionError
from ..progress import Progress, report, scaled

__all__ = ["separate_blocks", "iter_blocks", "estimate_separation", "stream_threshold_s", "block_length_s",
           "BLOCK_S", "REALTIME_FACTORS"]

BLOCK_S = 240.0  # a block's own length: unet holds about 1 GB then, whatever the song's length

# How many times faster than real time a model separates, as measured on 2 CPU cores (AVX2)
# and one CUDA GPU; the first figure an estimate starts from, not a promise.
REALTIME_FACTORS = {
    ("unet", "cpu"): 19.0, ("unet", "cuda"): 1000.0, ("unet", "mps"): 60.0,
    ("demucs", "cpu"): 0.7, ("demucs", "cuda"): 40.0, ("demucs", "mps"): 5.0,
    ("tiny-unet", "cpu"): 40.0, ("center", "cpu"): 200.0, ("hpss", "cpu"): 30.0, ("repet", "cpu"): 20.0,
}


def block_length_s() -> float:
    """Length of one block in seconds: ``$KIT_BLOCK_S``, default :data:`BLOCK_S` (memory grows with it)."""
    text = os.environ.get("KIT_BLOCK_S")
    try:
        seconds = float(text) if text else BLOCK_S
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise OptionError(f"KIT_BLOCK_S={text!r} is not a length in seconds; set e.g. {BLOCK_S:g}.")
    return seconds


def estimate_separation(duration_s: float, *, model: str, device: str = "cpu") -> dict:
    """What separating a song of ``duration_s`` seconds will cost, before it starts.

    Parameters
    ----------
    duration_s : float
        The song's length (:func:`kit.audio.probe_audio` reads it from the header).
    model : str
        A model name (``"unet"``, ``"htdemucs"``...).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"mps"``.

    Returns
    -------
    estimate : dict
        ``seconds`` (rough: measured speeds, 2 CPU cores), ``blocks`` (True when the
        song is long enough to be separated in blocks), ``text`` (one line, e.g.
        ``'this song is 6 h 00 min; separating with unet on cpu takes about 19 minutes'``).

    Examples
    --------
    >>> from kit.separators.blocks import estimate_separation
    >>> estimate_separation(6 * 3600, model="unet", device="cpu")["text"]
    'this song is 6 h 00 min; separating with unet on cpu takes about 19 minutes'
    """
    family = "demucs" if "demucs" in model or model.startswith("mdx") else model
    kind = str(device).split(":")[0]
    factor = REALTIME_FACTORS.get((family, kind)) or REALTIME_FACTORS.get((family, "cpu")) or 1.0
    seconds = float(duration_s) / factor
    if seconds >= 90:
        took = f"about {round(seconds / 60)} minutes"
    elif seconds >= 10:
        took = f"about {round(seconds, -1):.0f} seconds"
    else:
        took = "a few seconds"
    text = f"this song is {format_duration(duration_s)}; separating with {model} on {device} takes {took}"
    return {"seconds": seconds, "blocks": float(duration_s) > stream_threshold_s(), "text": text}


class _ArrayReader:
    """An array read like a decoder: ``read(n)`` hands out the next ``n`` samples."""

    def __init__(self, y: np.ndarray, sr: int):
        self.y, self.sr, self.channels, self.samples_read = y, int(sr), y.shape[0], 0

    def read(self, n: int) -> np.ndarray:
        block = self.y[:, self.samples_read:self.samples_read + int(n)]
        self.samples_read += block.shape[1]
        return block


class _Resampler:
    """One stream resampled in pieces (soxr keeps its state: the same samples as resampling it whole)."""

    def __init__(self, sr_in: int, sr_out: int, channels: int):
        import soxr

        self._stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality="HQ")

    def __call__(self, y: np.ndarray, *, last: bool) -> np.ndarray:
        out = self._stream.resample_chunk(np.ascontiguousarray(y.T, dtype=np.float32), last=last)
        return np.ascontiguousarray(out.T, dtype=np.float32)


def iter_blocks(separator, reader, *, block_s: float | None = None, total_samples: int | None = None,
                progress: Progress = None) -> Iterator[tuple[int, dict, np.ndarray]]:
    """Separate what ``reader`` holds a block at a time; yield ``(first_sample, stems, mixture)``.

    Parameters
    ----------
    separator : kit.separators.base.Separator
    reader : object
        ``sr``, ``channels`` and ``read(n)`` returning the next ``(channels, <=n)`` samples
        (an :class:`kit.audio.AudioStream`, or an array wrapped the same way).
    block_s : float, optional
        Length of a block in seconds (rounded to the separator's alignment);
        default :func:`block_length_s`.
    total_samples : int, optional
        The song's length in samples, for progress (a header's estimate will do).
    progress : callable, optional
        Called with a fraction 0..1.

    Yields
    ------
    first_sample : int
        Where the block starts in the song, in samples at ``reader.sr``.
    stems : dict of str to np.ndarray, float32, shape (channels, n)
        Consecutive blocks, without gaps or overlaps: put together, the stems of the whole song.
    mixture : np.ndarray, shape (channels, n)
        The song's own samples under the block.
    """
    sr, channels = int(reader.sr), int(reader.channels)
    work_sr = int(separator.sample_rate or sr)
    plan = separator.plan_blocks(work_sr)
    block_s = block_length_s() if block_s is None else block_s
    core = max(1, round(block_s * work_sr / plan.align)) * plan.align
    to_work = _Resampler(sr, work_sr, channels) if work_sr != sr else None
    back = {}  # stem -> resampler back to the song's rate
    total_work = None if not total_samples else total_samples * work_sr / sr
    buf, buf_start, at_end = np.zeros((channels, 0), np.float32), 0, False
    native = []  # the song's own samples not yet handed out (when resampled), for the mixture
    start, tail, emitted = 0, None, 0
    report(progress, 0.0)
    while True:
        # read until the next block and its right context are in, or the song ends
        while not at_end and buf_start + buf.shape[1] < start + core + plan.right:
            need = start + core + plan.right - (buf_start + buf.shape[1])
            want = max(math.ceil(need * sr / work_sr) + 64, sr)
            x = reader.read(want)
            at_end = x.shape[1] < want
            if to_work is not None:  # at the song's own rate the mixture is cut from the chunk itself
                native.append(x)
                x = to_work(x, last=at_end)
            buf = np.concatenate([buf, x], axis=1) if buf.shape[1] else x
        end = buf_start + buf.shape[1]
        last = at_end and end <= start + core + plan.right
        stop = end if last else start + core
        if stop <= start:
            break
        lo = max(0, start - plan.left)
        chunk = np.ascontiguousarray(buf[:, lo - buf_start:min(end, stop + plan.right) - buf_start])
        # from here the buffer needs only the next block's left context and what was read ahead
        keep_from = max(0, stop - plan.left)
        buf, buf_start = buf[:, keep_from - buf_start:].copy(), keep_from
        mixture = chunk[:, start - lo:stop - lo] if to_work is None else None
        done = (lambda f: None) if total_work is None else scaled(
            progress, min(start / total_work, 1.0), min(stop / total_work, 1.0))
        stems = separator.separate(chunk, work_sr, progress=done)
        out = {k: v[:, start - lo:stop - lo] for k, v in stems.items()}
        if tail is not None:  # cross-fade the join with the end of the block before
            n = min(plan.fade, stop - start)
            ramp = np.linspace(0.0, 1.0, n + 2, dtype=np.float32)[1:-1]
            for k in out:
                out[k] = out[k].copy()
                out[k][:, :n] = tail[k][:, :n] * (1 - ramp) + out[k][:, :n] * ramp
        tail = None if last or not plan.fade else {k: v[:, stop - lo:stop - lo + plan.fade].copy()
                                                      for k, v in stems.items()}
        del stems
        if to_work is not None:
            for k in out:
                back.setdefault(k, _Resampler(work_sr, sr, out[k].shape[0]))
                out[k] = back[k](out[k], last=last)
        n_out = next(iter(out.values())).shape[1]
        if last:  # the song's exact length, as the whole-song result has it (resampling may be a sample off)
            n_out = reader.samples_read - emitted
            out = {k: _fit(v, n_out) for k, v in out.items()}
        if to_work is not None:
            mixture = np.concatenate(native, axis=1) if len(native) > 1 else native[0]
            native = [mixture[:, n_out:]]
        yield emitted, out, _fit(mixture, n_out)
        del chunk, mixture, out
        emitted += n_out
        if total_work is not None:
            report(progress, min(stop / total_work, 1.0))
        if last:
            break
        start = stop
    report(progress, 1.0)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    if y.shape[1] >= n:
        return y[:, :n]
    return np.pad(y, ((0, 0), (0, n - y.shape[1])))


def separate_blocks(
    audio,
    sr: int | None = None,
    *,
    model: str = "auto",
    device: str = "auto",
    block_s: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    progress: Progress = None,
    **options,
) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    """Separate a song of any length a block at a time, in memory that does not grow with it.

    The file is decoded a block at a time as well. Blocks are separated with
    context on both sides, so their stems join up: for ``unet`` the joined
    stems equal :func:`kit.separate` on the whole song (to 1e-5); for Demucs
    they differ from it at the joins only as much as Demucs's own overlapping
    segments differ from each other.

    Parameters
    ----------
    audio : str, Path or np.ndarray
        A file path (any format :func:`kit.load` reads) or a waveform
        ``(channels, samples)`` with ``sr``.
    sr : int, optional
        Sample rate of ``audio`` when it is an array.
    model, device, **options
        As for :func:`kit.separate` (the built model is reused the same way).
    block_s : float, optional
        Length of each block in seconds (rounded to the model's segment grid);
        memory grows with it, not with the song. Default :func:`block_length_s`.
    start_s, end_s : float, optional
        Separate only this part of a file (seconds).
    progress : callable, optional
        Called with a fraction 0..1.

    Yields
    ------
    start_s : float
        Where the block starts, in seconds from the start of what is separated.
    stems : dict of str to np.ndarray, float32, shape (channels, samples)
        The block's stems at the song's rate; consecutive blocks follow each other without a gap.

    Examples
    --------
    >>> import kit, numpy as np
    >>> y, sr = kit.examples.load_song()
    >>> y = np.tile(y, 3)  # 32.6 s
    >>> blocks = list(kit.separate_blocks(y, sr, model="center", block_s=8.0))
    >>> [round(t, 1) for t, _ in blocks]  # the last block takes the rest, up to a block and its context
    [0.0, 8.0, 16.0]
    >>> joined = np.concatenate([stems["vocals"] for _, stems in blocks], axis=1)
    >>> joined.shape == y.shape
    True

    See also
    --------
    kit.separate : the whole song at once (with the stem cache).
    """
    from .api import get_cached_separator

    is_path = isinstance(audio, (str, os.PathLike))
    if not is_path and sr is None:
        raise OptionError("kit.separate_blocks got an array but no sample rate; call it with (y, sr, ...).")
    if block_s is not None and not (math.isfinite(block_s) and block_s > 0):
        raise OptionError(f"block_s={block_s} must be a positive number of seconds; try {BLOCK_S:g}.")
    separator = get_cached_separator(model, device=device, **options)
    if not is_path:
        y = check_audio(audio, what="The song")
        a = 0 if start_s is None else max(0, round(start_s * sr))
        b = y.shape[1] if end_s is None else min(y.shape[1], round(end_s * sr))
        reader = _ArrayReader(y[:, a:b], sr)
        for first, stems, _ in iter_blocks(separator, reader, block_s=block_s, total_samples=b - a,
                                           progress=progress):
            yield first / sr, stems
        return
    yield from _separate_file_blocks(separator, audio, block_s=block_s, start_s=start_s, end_s=end_s,
                                     progress=progress)


def _separate_file_blocks(separator, path, *, block_s, start_s, end_s, progress):
    from ..audio import open_audio_stream

    info = probe_audio(path)
    duration_s = None if end_s is None else float(end_s) - float(start_s or 0)
    with open_audio_stream(path, start_s=start_s, duration_s=duration_s) as stream:
        total = None
        if info.duration_s:
            total = round((min(info.duration_s, end_s or math.inf) - (start_s or 0)) * stream.sr)
        for first, stems, _ in iter_blocks(separator, stream, block_s=block_s, total_samples=total,
                                           progress=progress):
            yield first / stream.sr, stems
