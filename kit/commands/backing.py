"""`kit backing INPUT --drop vocals`: separate (cached) and recombine in one command."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from ._common import add_input, add_model_options, model_options, say_replaced, separation_progress
from ._demucs_options import add_demucs_options, demucs_options
from .separate import add_split_options, split_method

_GAIN = re.compile(r"^\s*([A-Za-z][\w-]*)\s*=\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:db|dB|DB)?\s*$")


def register(sub) -> None:
    p = sub.add_parser(
        "backing",
        help="make a backing track: separate a song and put it back together without some stems",
        description="Separate INPUT into stems (cached, so a second run with other options is quick) and "
                    "write the stems you keep as one track. Example: kit backing song.mp3 --model "
                    "htdemucs_6s --keep bass,drums,other,piano",
    )
    add_input(p)
    add_model_options(p)
    add_demucs_options(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--drop", metavar="STEM,...", help="stems to leave out, e.g. vocals or vocals,guitar")
    which.add_argument("--keep", metavar="STEM,...", help="stems to keep, e.g. bass,drums,other,piano")
    p.add_argument("--gain", action="append", default=[], metavar="STEM=DB",
                   help="turn one kept stem up or down in dB, e.g. --gain drums=-6 (repeat for more stems)")
    p.add_argument("--method", choices=("sum", "minus"), default="sum",
                   help="sum: add the kept stems; minus: the original minus the dropped stems, which keeps "
                        "whatever the model put in no stem (default: %(default)s)")
    p.add_argument("--semitones", type=float, default=0.0, metavar="N",
                   help="change the key by N semitones (-12..12, e.g. -1 or 1.5); length and timing stay")
    p.add_argument("--start", type=float, default=None, metavar="S", help="start the track at S seconds")
    p.add_argument("--end", type=float, default=None, metavar="S", help="end the track at S seconds")
    p.add_argument("--limit", action="store_true",
                   help="true-peak limiter, so the track cannot clip (ceiling: --ceiling)")
    p.add_argument("--ceiling", type=float, default=-1.0, metavar="DB",
                   help="limiter ceiling in dBTP (default: %(default)s)")
    p.add_argument("--lufs", type=float, default=None, metavar="X",
                   help="set the loudness to X LUFS with one gain (e.g. -14; add --limit if it then clips)")
    p.add_argument("--output", "-o", default=None, metavar="OUT",
                   help="output file, .mp3/.wav/.flac, or a folder for the default name (default: "
                        "'SONG (no STEMS).mp3' in the current folder); an existing file is replaced")
    p.add_argument("--no-cache", action="store_true", help="do not read or store stems in the stem cache")
    add_split_options(p)
    p.set_defaults(func=run)


def wants_split(args) -> str | None:
    """The vocal split asked for: by the flags, or by naming lead_vocals / backing_vocals in a stem list."""
    from ..mix import _as_list
    from ..vocal_split import STEMS

    named = _as_list(args.drop) + _as_list(args.keep) + list(parse_gains(args.gain))
    if any(name in STEMS for name in named):
        return args.split_method or "auto"
    return split_method(args)


def parse_gains(items) -> dict[str, float]:
    """``["drums=-6", "bass=+2dB,piano=-3"]`` -> ``{"drums": -6.0, "bass": 2.0, "piano": -3.0}``."""
    from ..errors import OptionError

    gains = {}
    for item in items or ():
        for part in str(item).split(","):
            if not part.strip():
                continue
            m = _GAIN.match(part)
            if not m:
                raise OptionError(f"--gain {part.strip()!r} is not STEM=DB; write e.g. --gain drums=-6.")
            gains[m.group(1).lower()] = float(m.group(2))
    return gains


def default_output(song: Path, dropped, *, semitones: float = 0.0, ext: str = "mp3") -> Path:
    """``<song> (no vocals, guitar).mp3`` in the current folder."""
    label = "no " + ", ".join(dropped) if dropped else "backing"
    if semitones:
        label += f", {semitones:+g} semitone" + ("" if abs(semitones) == 1 else "s")
    return Path.cwd() / f"{song.stem} ({label}).{ext}"


def output_path(output, song: Path, dropped, *, semitones: float = 0.0) -> Path:
    """Where -o points: a file, or a folder (existing, or written with a trailing slash) for the default name."""
    from ..audio import SAVE_FORMATS
    from ..errors import OptionError

    if not output:
        return default_output(song, dropped, semitones=semitones)
    out = Path(output)
    if out.is_dir():
        return out / default_output(song, dropped, semitones=semitones).name
    if str(output).endswith(("/", os.sep)):
        raise OptionError(f"The folder '{output}' does not exist; create it first, or give a file name "
                          f"such as -o karaoke.mp3.")
    if not out.suffix:
        raise OptionError(f"-o '{output}' has no file ending; give a file name such as '{out}.mp3' "
                          f"({', '.join('.' + f for f in SAVE_FORMATS)}) or an existing folder.")
    return out


def run(args) -> int:
    from ..audio import check_input_path, check_output_path
    from ..errors import InputFileError, OptionError
    from ..mix import check_gains, check_lufs, select_stems, write_backing_track
    from ..pitch import check_section, check_semitones
    from ..progress import tqdm_progress
    from ..separators.api import separate_with
    from ..separators.registry import best_available_model, get_separator, normalize_model_name, stems_for
    from ..vocal_split import check_split, split_stem_names
    from ._long import announce, load_song_or_part, write_backing_in_blocks

    song = Path(args.input)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", args.input):
        raise InputFileError(f"'{args.input}' is a web address; download it first with `kit fetch URL`, "
                             "then give the file it prints.")
    check_input_path(song)
    opts = model_options(args)
    model = normalize_model_name(args.model, model_dir=opts.get("model_dir"))
    auto = model == "auto"
    model = best_available_model(**opts) if auto else model
    opts.update(demucs_options(args, model=model, auto=auto))  # --shifts ... checked now, keyed in the cache

    # Every cheap check before the slow part: a typo must not cost a separation.
    available = stems_for(model, model_dir=opts.get("model_dir"))
    try:
        split = check_split(wants_split(args), available, model=model)
        available = split_stem_names(available) if split else available
        kept, dropped = select_stems(available, drop=args.drop, keep=args.keep, model=model)
        gains = check_gains(parse_gains(args.gain), available=available, kept=kept, model=model)
    except OptionError as exc:
        if not auto:
            raise
        raise OptionError(f"{str(exc).rstrip('.')}; --model auto picked '{model}', the best model usable "
                          "here now; name another with --model (see `kit doctor`).") from None
    semitones = check_semitones(args.semitones)
    if args.lufs is not None and not math.isfinite(args.lufs):
        raise OptionError(f"--lufs {args.lufs} is not a loudness; give e.g. --lufs -14.")
    if args.lufs is not None:
        check_lufs(args.lufs)  # before the slow part
    out = output_path(args.output, song, dropped, semitones=semitones)
    out = check_output_path(out, inputs=[song])
    if not os.access(out.absolute().parent, os.W_OK):
        raise OptionError(f"Cannot write in '{out.absolute().parent}'; choose another place with -o.")

    separator = get_separator(model, **opts)
    info, in_blocks = announce(song, separator, start_s=args.start, end_s=args.end)
    if in_blocks:  # a long song: separated, mixed and written a block at a time, memory flat
        path = write_backing_in_blocks(separator, song, out, info=info, args=args, kept=kept, gains=gains,
                                       semitones=semitones, split=split)
        print(str(path))
        return 0
    y, sr, start_s, end_s = load_song_or_part(song, info, start_s=args.start, end_s=args.end)
    if start_s is not None or end_s is not None:
        a, b = check_section(y.shape[1], sr, start_s=start_s, end_s=end_s)
        end_s = None if end_s is None else b / sr  # already clipped to the song, with a note
    # The whole song is separated (and cached) even for a section: trying other
    # sections, gains or keys afterwards then costs no separation at all.
    with separation_progress(separator) as progress:
        stems = separate_with(separator, y, sr, progress=progress, cache=not args.no_cache,
                              options={k: v for k, v in opts.items() if k != "device"}, split_vocals=split)
    replacing = out.exists()
    with tqdm_progress("Writing the backing track") as progress:
        path = write_backing_track(
            stems, out, sr=sr, keep=kept, gains_db=gains, method=args.method,
            mixture=y if args.method == "minus" else None, start_s=start_s, end_s=end_s,
            semitones=semitones, target_lufs=args.lufs, limit=args.limit, ceiling_db=args.ceiling,
            inputs=[song], progress=progress, model=model,
        )
    if replacing:
        say_replaced([path])
    print(str(path))
    return 0
