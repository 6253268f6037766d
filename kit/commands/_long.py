"""Long songs on the command line: say what the job costs first, then work a block at a time.

A song longer than ``$KIT_STREAM_MINUTES`` (default 15) is decoded, separated
and written in blocks (:mod:`kit.separators.blocks`), so memory stays flat
whatever its length; its stems are not put in the stem cache (a 6-hour song's
stems would fill it). Shorter songs take the usual path, with the cache.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ._common import say, separation_progress

__all__ = ["announce", "block_progress", "write_stems_in_blocks", "write_backing_in_blocks", "load_song_or_part",
           "split_in_blocks"]

_MIXTURE = "\0mixture"  # the song under a block, carried beside its stems through the vocal split

# Context decoded around a part of a long song, so the part's edges are separated as in the song
PART_CONTEXT_S = 30.0


def announce(path, separator, *, start_s=None, end_s=None, check=None):
    """Say in one line what separating ``path`` will cost when it is long, before it starts.

    Returns ``(info, in_blocks)``: the file's :class:`kit.audio.AudioInfo`, and
    True when the song (or the part asked for) is long enough to be separated
    a block at a time. ``check(info, in_blocks)``, if given, runs before
    anything is said, so that a refusal is the only line.
    """
    from ..audio import probe_audio
    from ..separators.blocks import estimate_separation, stream_threshold_s

    info = probe_audio(path)
    if info.duration_s is None:  # the file does not say: blocks are safe at any length
        if check is not None:
            check(info, True)
        return info, True
    length_s = min(info.duration_s, end_s if end_s is not None else info.duration_s) - (start_s or 0.0)
    device = getattr(separator, "device", None) or "cpu"
    estimate = estimate_separation(max(length_s, 0.0), model=separator.name, device=device)
    in_blocks = length_s > stream_threshold_s()
    if check is not None:
        check(info, in_blocks)
    if in_blocks or estimate["seconds"] >= 60:
        note = "; in blocks, so memory stays flat (stems of songs this long are not cached)" if in_blocks else ""
        say(estimate["text"] + note)
    return info, in_blocks


@contextmanager
def block_progress(separator):
    """The bar of :func:`separation_progress`; without a terminal, a line every 10% with the time left."""
    from ..audio import format_duration

    lines = not sys.stderr.isatty()
    t0, said = time.monotonic(), [0]
    with separation_progress(separator) as bar:
        def progress(fraction: float) -> None:
            bar(fraction)
            tenth = int(fraction * 10 + 1e-9)
            if lines and 0 < tenth < 10 and tenth > said[0]:
                said[0] = tenth
                left_s = (time.monotonic() - t0) * (1 - fraction) / max(fraction, 1e-9)
                say(f"{tenth * 10}% done, about {format_duration(left_s)} left")

        yield progress


def write_stems_in_blocks(separator, path, out_dir: Path, fmt: str, *, info=None, two_stems=None, split=None,
                          inputs=(), progress=None) -> list[Path]:
    """Separate a long song block by block straight into one file per stem.

    ``split`` (a :func:`kit.split_vocals` method) writes ``lead_vocals`` and
    ``backing_vocals`` instead of ``vocals``, split a block at a time with context.
    Nothing is left if it fails or is stopped: every file appears only when all are complete.
    ``progress`` replaces the command line's bar and lines (``kit batch`` passes its own).
    """
    from ..audio import check_output_path, open_audio_stream, open_audio_writer, probe_audio
    from ..separators.blocks import iter_blocks
    from ..vocal_split import STEMS, split_stem_names
    from ._common import say_replaced
    from ._demucs_options import make_two_stems
    from .separate import _make_folder, _two_stems_split, remove_made_folders

    names = split_stem_names(list(separator.stems)) if split else list(separator.stems)
    if two_stems:
        names = [*STEMS, "no_vocals"] if split else [two_stems, "no_" + two_stems]
    info = probe_audio(path) if info is None else info
    created = _make_folder(out_dir)
    targets = {name: check_output_path(out_dir / f"{name}.{fmt}", inputs=inputs) for name in names}
    existing = [p for p in targets.values() if p.exists()]
    try:
        with open_audio_stream(path) as stream, _progress_or_bar(separator, progress) as progress:
            total = round(info.duration_s * stream.sr) if info.duration_s else None
            with ExitStack() as files:
                writers = {name: files.enter_context(open_audio_writer(target, stream.sr, stream.channels,
                                                                       inputs=inputs, expected_s=info.duration_s))
                           for name, target in targets.items()}
                blocks = (stems for _, stems, _ in iter_blocks(separator, stream, total_samples=total,
                                                                progress=progress))
                if split:
                    blocks = split_in_blocks(blocks, stream.sr, split, model=separator.name)
                for stems in blocks:
                    if two_stems:
                        stems = make_two_stems(stems, two_stems) if not split else _two_stems_split(stems)
                    for name, writer in writers.items():
                        writer.write(stems[name])
                    del stems
                stream.finish()  # a truncated file fails here, before any stem file is put in place
    except BaseException:
        remove_made_folders(created)
        raise
    say_replaced(existing)
    return list(targets.values())


def split_in_blocks(blocks, sr: int, method: str, *, model: str | None = None):
    """Stems of consecutive blocks with ``vocals`` split into lead and backing, each block with context."""
    from ..stream_map import map_with_context
    from ..vocal_split import split_stems

    return map_with_context(blocks, lambda stems: split_stems(stems, sr, method=method, model=model), sr=sr)


@contextmanager
def _progress_or_bar(separator, progress):
    if progress is not None:
        yield progress
        return
    with block_progress(separator) as bar:
        yield bar


def load_song_or_part(song, info, *, start_s, end_s):
    """The song as an array, and the section in its time; of a long song only the section (with context) is decoded.

    Returns ``(y, sr, start_s, end_s)``, the section's times counted from the start of ``y``.
    """
    from ..audio import load
    from ..separators.blocks import stream_threshold_s

    long_song = info.duration_s is None or info.duration_s > stream_threshold_s()
    if not long_song or (start_s is None and end_s is None):
        y, sr = load(song)
        return y, sr, start_s, end_s
    first = max(0.0, (start_s or 0.0) - PART_CONTEXT_S)
    length = None if end_s is None else end_s + PART_CONTEXT_S - first
    y, sr = load(song, start_s=first, duration_s=length)
    return y, sr, (start_s or 0.0) - first, None if end_s is None else end_s - first


def write_backing_in_blocks(separator, song, out, *, info, args, kept, gains, semitones=0.0, split=None) -> Path:
    """``kit backing`` for a long song: separate, mix and encode a block at a time; nothing is left if it fails.

    A key change and the vocal split are made a block at a time with context
    (:func:`kit.stream_map.map_with_context`); ``--lufs`` measures the whole
    track first (:func:`kit.mix.write_backing_blocks`).
    """
    from ..audio import open_audio_stream
    from ..errors import OptionError
    from ..mix import write_backing_blocks
    from ..separators.blocks import iter_blocks
    from ..vocal_split import split_stem_names

    start_s, end_s = args.start, args.end
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise OptionError(f"--end {end_s:g} s must come after --start {start_s:g} s.")
    replacing = out.exists()
    duration_s = None if end_s is None else end_s - (start_s or 0.0)
    with open_audio_stream(song, start_s=start_s, duration_s=duration_s) as stream, \
            block_progress(separator) as progress:
        total = None
        if info.duration_s:
            total = round((min(info.duration_s, end_s or info.duration_s) - (start_s or 0.0)) * stream.sr)

        def blocks():
            parts = ({**stems, _MIXTURE: mixture}
                     for _, stems, mixture in iter_blocks(separator, stream, total_samples=total, progress=progress))
            if split:
                parts = split_in_blocks(parts, stream.sr, split, model=separator.name)
            for part in parts:
                mixture = part.pop(_MIXTURE)
                yield part, mixture
            stream.finish()  # a truncated file fails here, before the track is put in place

        names = split_stem_names(list(separator.stems)) if split else list(separator.stems)
        path = write_backing_blocks(blocks(), out, sr=stream.sr, channels=stream.channels, stems=names,
                                    keep=kept, gains_db=gains, method=args.method, semitones=semitones,
                                    target_lufs=args.lufs, limit=args.limit, ceiling_db=args.ceiling,
                                    inputs=[song], expected_s=total / stream.sr if total else None)
    if replacing:
        from ._common import say_replaced

        say_replaced([path])
    return path
