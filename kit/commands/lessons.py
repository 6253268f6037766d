"""`kit lessons student DIR`: the lessons as students get them (answers replaced by stubs, no outputs)."""

from __future__ import annotations

from ._common import say


def register(sub) -> None:
    p = sub.add_parser("lessons", help="write the student versions of the lessons",
                       description="The lessons in notebooks/ are the teacher's versions: every exercise's answer "
                                   "is marked with nbgrader's ### BEGIN SOLUTION / ### END SOLUTION. "
                                   "Example: kit lessons student class/  (then hand out class/*.ipynb)")
    lsub = p.add_subparsers(dest="lessons_command", metavar="ACTION")
    lsub.required = True
    sp = lsub.add_parser("student", help="write every lesson with its answers replaced by stubs, outputs stripped",
                         description="Write each lesson to DIR with every answer replaced by "
                                     "`raise NotImplementedError()` and every output stripped: Run All reaches the "
                                     "end, and each exercise check says 'not done yet' until the student's code is "
                                     "there. Prints the paths written.")
    sp.add_argument("folder", metavar="DIR", help="folder for the student versions (created if missing)")
    sp.add_argument("--from", dest="source", default=None, metavar="FOLDER",
                    help="the teacher's lessons (default: this repository's notebooks/)")
    sp.set_defaults(func=run_student)


def run_student(args) -> int:
    from ..lessons import write_student_lessons

    written = write_student_lessons(args.folder, source=args.source)
    for path, _ in written:
        print(str(path))
    total = sum(n for _, n in written)
    say(f"wrote {len(written)} lessons with {total} answers replaced by stubs to {args.folder}")
    return 0
