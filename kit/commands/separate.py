"""`kit separate INPUT`: write one file per stem."""

from __future__ import annotations

from pathlib import Path

from ._common import add_input, add_model_options, model_options, print_paths, say_replaced, separation_progress
from ._demucs_options import add_demucs_options, check_two_stems, demucs_options, make_two_stems


def register(sub) -> None:
    p = sub.add_parser("separate", help="split a song into stems (one file per stem)")
    add_input(p)
    add_model_options(p)
    add_demucs_options(p, two_stems=True)
    p.add_argument("--out", "-o", default=None, metavar="DIR",
                   help="output folder (default: separated/MODEL/SONG_NAME)")
    p.add_argument("--format", "-f", default="wav", choices=("wav", "flac", "mp3"),
                   help="stem file format (default: %(default)s; wav keeps 32-bit float)")
    p.add_argument("--no-cache", action="store_true",
                   help="separate again even if this song was separated before with the same settings")
    add_split_options(p)
    p.set_defaults(func=run)


def add_split_options(p) -> None:
    """``--split-vocals`` and ``--split-method``, shared with ``kit backing``."""
    from ..vocal_split import METHODS

    p.add_argument("--split-vocals", action="store_true",
                   help="write lead_vocals and backing_vocals instead of vocals (any model with a vocals stem)")
    p.add_argument("--split-method", choices=METHODS, default=None,
                   help="how to tell the lead from the backing vocals: pan (the lead in the centre), pitch "
                        "(the lead is the melody) or auto, both (default: auto; implies --split-vocals)")


def split_method(args) -> str | None:
    """The vocal split the flags ask for, or None."""
    if getattr(args, "split_method", None):
        return args.split_method
    return "auto" if getattr(args, "split_vocals", False) else None


def write_stems(stems: dict, sr: int, out_dir: Path, fmt: str, *, inputs=()) -> list[Path]:
    """Save every stem as out_dir/<stem>.<fmt>; on any failure remove what this call wrote.

    Stem files already there are replaced, and each is named on stderr (``kit: replaced ...``).
    """
    from ..audio import check_output_path, save

    created = _make_folder(out_dir)
    targets = {name: check_output_path(out_dir / f"{name}.{fmt}", inputs=inputs) for name in stems}
    existing = [path for path in targets.values() if path.exists()]
    written = []
    try:
        for name, path in targets.items():
            written.append(save(path, stems[name], sr))
    except BaseException:
        for path in written:
            if path not in existing:
                path.unlink(missing_ok=True)
        remove_made_folders(created)
        raise
    say_replaced(existing)
    return written


def remove_made_folders(created) -> None:
    """Remove the folders a failed command made (innermost first), only while they are empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break


def _make_folder(out_dir: Path) -> list[Path]:
    """Create out_dir (and missing parents); return the folders created, outermost first."""
    from ..errors import OptionError

    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"--out '{out_dir}' is a file; give a folder for the stems, e.g. --out stems/.")
    missing = [d for d in [out_dir, *out_dir.parents] if not d.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _two_stems_split(stems: dict) -> dict:
    """--two-stems vocals --split-vocals: the lead, the backing vocals and everything else."""
    from ..vocal_split import STEMS

    rest = make_two_stems({"vocals": stems[STEMS[0]], **{k: v for k, v in stems.items() if k not in STEMS}},
                          "vocals")["no_vocals"]
    return {**{k: stems[k] for k in STEMS}, "no_vocals": rest}


def run(args) -> int:
    from ..errors import OptionError
    from ..separators.api import separate_file
    from ..separators.registry import get_separator
    from ..vocal_split import check_split
    from ._long import announce, write_stems_in_blocks

    # the model first: a wrong name should fail before a long song is decoded
    options = model_options(args)
    options.update(demucs_options(args, model=args.model))  # --shifts ... checked now, and keyed in the cache
    separator = get_separator(args.model, **options)
    two_stems = check_two_stems(args.two_stems, separator.stems, model=separator.name)
    split = check_split(split_method(args), separator.stems, model=separator.name)
    if split and two_stems not in (None, "vocals"):
        raise OptionError(f"--two-stems {two_stems} leaves no vocals stem to split; use --two-stems vocals "
                          "with --split-vocals, or leave one of them out.")
    out_dir = Path(args.out) if args.out else Path("separated") / separator.name / Path(args.input).stem
    if out_dir.exists() and not out_dir.is_dir():  # before the slow part
        _make_folder(out_dir)
    info, in_blocks = announce(args.input, separator)
    if in_blocks:  # a long song: a block at a time, straight into the files, memory flat
        print_paths(write_stems_in_blocks(separator, args.input, out_dir, args.format, info=info,
                                          two_stems=two_stems, split=split, inputs=[args.input]))
        return 0
    with separation_progress(separator) as progress:
        # a song separated before (same bytes, model, settings, weights) comes from the stem cache
        stems, sr = separate_file(separator, args.input, progress=progress, cache=not args.no_cache,
                                  options=options, split_vocals=split)
    if two_stems:
        stems = make_two_stems(stems, two_stems) if not split else _two_stems_split(stems)
    print_paths(write_stems(stems, sr, out_dir, args.format, inputs=[args.input]))
    return 0
