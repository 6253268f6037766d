"""`kit feedback`: what singers said about the app's results (the ratings the app keeps, kit.classroom)."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("feedback", help="the app's ratings: average per model, latest comments",
                       description="After a result the karaoke app asks for a rating (1-5) and a few words; "
                                   "they are kept with the song's content hash, the model and its settings (never "
                                   "the audio) in $KIT_FEEDBACK_DB, else the class database.")
    p.add_argument("--db", default=None, metavar="FILE",
                   help="the feedback database (default: $KIT_FEEDBACK_DB, else $KIT_CLASS_DB, else kit's data folder)")
    p.add_argument("--latest", type=int, default=5, metavar="N", help="how many comments to show (default: 5)")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=run_feedback)


def run_feedback(args) -> int:
    from ..classroom import feedback_db_path, read_feedback, summarize_feedback
    from ..errors import OptionError

    if args.latest < 0:
        raise OptionError(f"--latest {args.latest}: give how many comments to show, 0 or more.")
    db = feedback_db_path(args.db)
    if args.db is None and not db.is_file():  # nothing written yet is not a mistake; a named missing file is
        print(f"no feedback in {db} yet: the karaoke app keeps the ratings singers give after a result")
        return 0
    summary = summarize_feedback(read_feedback(db=db), latest=args.latest)
    if args.json:
        print(json.dumps({"db": str(db), **summary}, indent=2))
        return 0
    if not summary["models"]:
        print(f"no feedback in {db} yet")
        return 0
    print(f"feedback in {db}: average rating (1-5) per model")
    for m in summary["models"]:
        print(f"  {m['model']:<14} {m['mean']:.1f}  ({m['ratings']} rating{'s' if m['ratings'] != 1 else ''})")
    if summary["comments"]:
        print("latest comments:")
        for c in summary["comments"]:
            print(f"  {c['time']}  {c['model']}  {c['rating']}/5  {c['comment']}")
    return 0
