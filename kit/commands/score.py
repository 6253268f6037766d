"""`kit score TAKE --reference-vocal VOCAL`: which notes of a sung take were in tune, flat, sharp or missed."""

from __future__ import annotations

import json
import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score your singing against the original vocal's melody: in tune, flat, sharp, missed",
        description="Score TAKE (your recording, started with the song) against the melody of VOCAL (the song's "
                    "original vocal, e.g. from `kit separate`): the take's latency, a score out of 100 and a verdict "
                    "for each note. Example: kit score take1.wav --reference-vocal stems/vocals.wav --json score.json",
    )
    p.add_argument("take", metavar="TAKE", help="your recorded take (wav, mp3, m4a, ...)")
    p.add_argument("--reference-vocal", required=True, metavar="VOCAL",
                   help="the song's original vocal (e.g. stems/vocals.wav from `kit separate`)")
    p.add_argument("--json", default=None, metavar="FILE.json",
                   help="also write delay_s, score and every note's verdict as JSON")
    p.add_argument("--tolerance-cents", default="50", metavar="N",
                   help="a note within N cents of the melody is in tune (default: %(default)s, half a semitone)")
    p.add_argument("--method", default="fast", choices=("fast", "pyin"),
                   help="pitch tracker: fast (SwiftF0, a small neural net) or pyin (librosa, slow) "
                        "(default: %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the JSON path, not the summary")
    p.set_defaults(func=run)


def _check_json_path(path: Path, inputs) -> Path:
    from ..errors import OptionError

    if path.suffix.lower() != ".json":
        raise OptionError(f"--json '{path.name}' should end in .json, e.g. --json score.json.")
    if path.is_dir():
        raise OptionError(f"--json '{path}' is a folder; give a file name such as score.json.")
    if not path.absolute().parent.is_dir():
        raise OptionError(f"Folder '{path.absolute().parent}' does not exist; create it or pick another --json.")
    if not os.access(path.absolute().parent, os.W_OK):
        raise OptionError(f"Cannot write in '{path.absolute().parent}'; choose another place for --json.")
    for src in inputs:
        if src.exists() and path.exists() and os.path.samefile(src, path):
            raise OptionError(f"Refusing to overwrite the input '{src}' with the scores; choose another --json name.")
    return path


def run(args) -> int:
    from ..audio import atomic_output, check_input_path, load
    from ..errors import OptionError
    from ..singing import score_singing
    from ._common import parse_number, say_replaced

    take_path, reference_path = Path(args.take), Path(args.reference_vocal)
    for path in (take_path, reference_path):
        check_input_path(path)
    tolerance = parse_number("--tolerance-cents", args.tolerance_cents, "50")
    if not 5 <= tolerance <= 100:
        raise OptionError(f"--tolerance-cents {args.tolerance_cents} is out of range; use 5 to 100 "
                          "(e.g. --tolerance-cents 50, half a semitone).")
    json_path = _check_json_path(Path(args.json), [take_path, reference_path]) if args.json else None

    # the pitch trackers work at 16 kHz (fast) or 22.05 kHz (pyin); decoding straight to it saves a resampling
    sr = 16000 if args.method == "fast" else 22050
    reference, _ = load(reference_path, sr=sr, mono=True)
    take, _ = load(take_path, sr=sr, mono=True)
    report = score_singing(take, reference, sr, tolerance_cents=tolerance,
                           method=args.method)
    if not args.quiet:
        print(report.as_text())
    if json_path is not None:
        replaced = [json_path] if json_path.exists() else []
        data = {"take": str(take_path), "reference_vocal": str(reference_path), **report}
        with atomic_output(json_path) as tmp:
            tmp.write_text(json.dumps(data, indent=2))
        say_replaced(replaced)
        print(str(json_path))
    return 0
