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
    p.set_defaults(func=run)


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
        for folder in reversed(created):  # only folders this call made, and only if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    say_replaced(existing)
    return written


def _make_folder(out_dir: Path) -> list[Path]:
    """Create out_dir (and missing parents); return the folders created, outermost first."""
    from ..errors import OptionError

    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"--out '{out_dir}' is a file; give a folder for the stems, e.g. --out stems/.")
    missing = [d for d in [out_dir, *out_dir.parents] if not d.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def run(args) -> int:
    from ..separators.api import separate_file
    from ..separators.registry import get_separator

    # the model first: a wrong name should fail before a long song is decoded
    options = model_options(args)
    options.update(demucs_options(args, model=args.model))  # --shifts ... checked now, and keyed in the cache
    separator = get_separator(args.model, **options)
    two_stems = check_two_stems(args.two_stems, separator.stems, model=separator.name)
    out_dir = Path(args.out) if args.out else Path("separated") / separator.name / Path(args.input).stem
    if out_dir.exists() and not out_dir.is_dir():  # before the slow part
        _make_folder(out_dir)
    with separation_progress(separator) as progress:
        # a song separated before (same bytes, model, settings, weights) comes from the stem cache
        stems, sr = separate_file(separator, args.input, progress=progress, cache=not args.no_cache,
                                  options=options)
    if two_stems:
        stems = make_two_stems(stems, two_stems)
    print_paths(write_stems(stems, sr, out_dir, args.format, inputs=[args.input]))
    return 0
