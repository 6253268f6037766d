"""`kit automix VOCAL BACKING -o OUT`: mix a recorded vocal over a backing track by rules."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "automix",
        help="mix your recorded voice over a backing track: timing, level, compression, EQ, reverb",
        description="Mix VOCAL (your recording) over BACKING (e.g. from `kit backing`) with the rules of Li and "
                    "Lerch, and say what each step measured and did. Example: kit automix take1.wav "
                    "'song (no vocals).mp3' -o 'song (my mix).mp3' --report mix.json",
    )
    p.add_argument("vocal", metavar="VOCAL", help="your recorded vocal (wav, mp3, m4a, ...)")
    p.add_argument("backing", metavar="BACKING", help="the backing track it was sung over")
    p.add_argument("--output", "-o", default=None, metavar="OUT",
                   help="output file, .mp3/.wav/.flac (default: '<VOCAL> (mix).mp3' in the current folder)")
    p.add_argument("--report", default=None, metavar="FILE.json", help="also write the report as JSON")
    p.add_argument("--reference-vocal", default=None, metavar="FILE",
                   help="the song's original vocal (e.g. from `kit separate`): timing is matched against it, "
                        "which is surer than against the backing")
    p.add_argument("--resample", action="store_true",
                   help="convert the vocal (and reference) to the backing's sample rate if they differ")
    p.add_argument("--target-lu", type=float, default=-0.5, metavar="LU",
                   help="vocal loudness minus backing loudness (default: %(default)s, the paper's choice)")
    p.add_argument("--max-lra", type=float, default=16.7, metavar="LU",
                   help="compress until the vocal's loudness range is at most this (default: %(default)s)")
    p.add_argument("--max-eq-gain", type=float, default=6.0, metavar="DB",
                   help="largest EQ boost or cut (default: %(default)s)")
    p.add_argument("--tempo", type=float, default=None, metavar="BPM",
                   help="the song's tempo for the reverb time (default: measured from the backing)")
    p.add_argument("--reverb-level", type=float, default=-14.0, metavar="LU",
                   help="reverb loudness relative to the mix (default: %(default)s)")
    p.add_argument("--ceiling", type=float, default=-1.0, metavar="DB",
                   help="highest true peak of the mix in dBTP (default: %(default)s)")
    for step, what in (("align", "timing correction"), ("gate", "noise gate"), ("compression", "compression"),
                       ("eq", "EQ unmasking"), ("reverb", "reverb")):
        p.add_argument(f"--no-{step}", action="store_true", help=f"skip the {what}")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the output path, not the report")
    p.set_defaults(func=run)


def _check_number(value, flag: str, lo: float, hi: float, example: str) -> float:
    from ..errors import OptionError

    if value is None:
        return value
    if not (math.isfinite(value) and lo <= value <= hi):
        raise OptionError(f"{flag} {value:g} is out of range; use {lo:g} to {hi:g} (e.g. {flag} {example}).")
    return float(value)


def _check_report_path(path: Path, inputs) -> Path:
    from ..errors import OptionError

    if path.suffix.lower() != ".json":
        raise OptionError(f"--report '{path.name}' should end in .json, e.g. --report mix.json.")
    if path.is_dir():
        raise OptionError(f"--report '{path}' is a folder; give a file name such as mix.json.")
    if not path.absolute().parent.is_dir():
        raise OptionError(f"Folder '{path.absolute().parent}' does not exist; create it or pick another --report.")
    for src in inputs:
        if src.exists() and path.exists() and os.path.samefile(src, path):
            raise OptionError(f"Refusing to overwrite the input '{src}' with the report; choose another name.")
    return path


def run(args) -> int:
    from ..audio import atomic_output, check_input_path, check_output_path, load, save
    from ..automix import automix
    from ..errors import AudioContentError, OptionError
    from ..progress import tqdm_progress
    from ._common import say_replaced

    vocal_path, backing_path = Path(args.vocal), Path(args.backing)
    inputs = [vocal_path, backing_path]
    if args.reference_vocal:
        inputs.append(Path(args.reference_vocal))
    for path in inputs:
        check_input_path(path)
    # every cheap check before the slow part
    target = _check_number(args.target_lu, "--target-lu", -20, 20, "-0.5")
    max_lra = _check_number(args.max_lra, "--max-lra", 1, 40, "16.7")
    max_eq = _check_number(args.max_eq_gain, "--max-eq-gain", 0, 24, "6")
    tempo = _check_number(args.tempo, "--tempo", 20, 400, "120")
    reverb_level = _check_number(args.reverb_level, "--reverb-level", -40, 0, "-14")
    ceiling = _check_number(args.ceiling, "--ceiling", -24, 0, "-1")
    out = Path(args.output) if args.output else Path.cwd() / f"{vocal_path.stem} (mix).mp3"
    out = check_output_path(out, inputs=inputs)
    if not os.access(out.absolute().parent, os.W_OK):
        raise OptionError(f"Cannot write in '{out.absolute().parent}'; choose another place with -o.")
    report_path = _check_report_path(Path(args.report), inputs) if args.report else None

    backing, sr = load(backing_path)
    vocal, vocal_sr = load(vocal_path, sr=sr if args.resample else None)
    reference = None
    if args.reference_vocal:
        reference, ref_sr = load(Path(args.reference_vocal), sr=sr if args.resample else None)
        if ref_sr != sr:
            raise AudioContentError(f"'{args.reference_vocal}' is at {ref_sr} Hz but '{backing_path.name}' at {sr} Hz; "
                                    f"add --resample to convert it to {sr} Hz.")
    if vocal_sr != sr:
        raise AudioContentError(f"'{vocal_path.name}' is at {vocal_sr} Hz but '{backing_path.name}' at {sr} Hz; "
                                f"add --resample to convert the vocal to {sr} Hz.")
    with tqdm_progress("Mixing") as progress:
        mix, report = automix(
            vocal, backing, sr, reference_vocal=reference, target_lu=target, max_lra_lu=max_lra,
            align=not args.no_align, gate=not args.no_gate, compress=not args.no_compression, eq=not args.no_eq,
            max_eq_gain_db=max_eq, reverb=not args.no_reverb, tempo_bpm=tempo, reverb_return_lu=reverb_level,
            ceiling_dbtp=ceiling, progress=progress,
        )
    replaced = [p for p in (out, report_path) if p is not None and p.exists()]
    path = save(out, mix, sr)
    if report_path is not None:
        with atomic_output(report_path) as tmp:
            tmp.write_text(json.dumps({**report, "output": {**report["output"], "file": str(path)}}, indent=2))
    if not args.quiet:
        print(report.as_text())
    say_replaced(replaced)
    print(str(path))
    return 0
