"""`kit separate INPUT`: write one file per stem."""

from __future__ import annotations

from pathlib import Path

from ._common import add_input, add_model_options, model_options, print_paths


def register(sub) -> None:
    p = sub.add_parser("separate", help="split a song into stems (one file per stem)")
    add_input(p)
    add_model_options(p)
    p.add_argument("--out", "-o", default=None, metavar="DIR",
                   help="output folder (default: separated/MODEL/SONG_NAME)")
    p.add_argument("--format", "-f", default="wav", choices=("wav", "flac", "mp3"),
                   help="stem file format (default: %(default)s; wav keeps 32-bit float)")
    p.add_argument("--no-cache", action="store_true",
                   help="separate again even if this song was separated before with the same settings")
    p.set_defaults(func=run)


def write_stems(stems: dict, sr: int, out_dir: Path, fmt: str, *, inputs=()) -> list[Path]:
    """Save every stem as out_dir/<stem>.<fmt>; on any failure remove what this call wrote."""
    from ..audio import check_output_path, save

    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {name: check_output_path(out_dir / f"{name}.{fmt}", inputs=inputs) for name in stems}
    written = []
    try:
        for name, path in targets.items():
            written.append(save(path, stems[name], sr))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def run(args) -> int:
    from ..progress import tqdm_progress
    from ..separators.api import separate_file
    from ..separators.registry import get_separator

    # the model first: a wrong name should fail before a long song is decoded
    options = model_options(args)
    separator = get_separator(args.model, **options)
    out_dir = Path(args.out) if args.out else Path("separated") / separator.name / Path(args.input).stem
    with tqdm_progress(f"Separating with {separator.name}") as progress:
        # a song separated before (same bytes, model, settings, weights) comes from the stem cache
        stems, sr = separate_file(separator, args.input, progress=progress, cache=not args.no_cache,
                                  options=options)
    print_paths(write_stems(stems, sr, out_dir, args.format, inputs=[args.input]))
    return 0
