"""Teacher and student versions of the lessons.

The notebooks in ``notebooks/`` are the teacher's version: each exercise's answer
sits between nbgrader's markers, ``### BEGIN SOLUTION`` and ``### END SOLUTION``,
in a cell marked as a solution cell in nbgrader's metadata, so teachers who use
nbgrader can import the lessons as they are. :func:`make_student_version`
replaces each answer by nbgrader's stub (``raise NotImplementedError()``) and
strips the outputs; the exercise checks (:func:`kit.classroom.check_exercise`)
then say "not done yet" until the student writes the code, so *Run All* still
reaches the end. ``kit lessons student DIR`` writes the student versions.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputFileError, OptionError

__all__ = ["BEGIN", "END", "STUB", "find_lessons", "make_student_version", "write_student_lessons"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # nbgrader's stub for Python


def _lines(source) -> list[str]:
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.split("\n")


def _strip_answers(text: str, *, where: str) -> tuple[str, int]:
    """The cell's source with each marked answer replaced by the stub, and how many there were."""
    out, inside, count = [], False, 0
    for line in text.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise InputFileError(f"{where}: '{BEGIN}' twice without '{END}' between; close the first answer.")
            inside, count = True, count + 1
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + STUB[0], indent + STUB[1]]
        elif marker == END:
            if not inside:
                raise InputFileError(f"{where}: '{END}' without '{BEGIN}' before it; mark where the answer starts.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise InputFileError(f"{where}: '{BEGIN}' is never closed; add '{END}' after the answer.")
    return "\n".join(out), count


def make_student_version(nb: dict, *, name: str = "notebook") -> tuple[dict, int]:
    """A lesson as students get it: answers replaced by stubs, outputs and execution counts stripped.

    Parameters
    ----------
    nb : dict
        The notebook as JSON (nbformat 4).
    name : str
        Named in error messages.

    Returns
    -------
    student : dict
        A new notebook; ``nb`` is not changed.
    answers : int
        How many answers were replaced.

    Examples
    --------
    >>> cell = {"cell_type": "code", "metadata": {}, "outputs": [{"output_type": "stream"}], "execution_count": 3,
    ...         "source": "def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"}
    >>> student, n = make_student_version({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    >>> print(student["cells"][0]["source"])
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    >>> n, student["cells"][0]["outputs"], student["cells"][0]["execution_count"]
    (1, [], None)
    """
    student = json.loads(json.dumps(nb))
    answers = 0
    for i, cell in enumerate(student.get("cells", [])):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            text, n = _strip_answers("\n".join(_lines(cell.get("source", ""))), where=f"{name} cell {i}")
            if n:
                cell["source"] = text
                answers += n
        elif BEGIN in "\n".join(_lines(cell.get("source", ""))):
            raise InputFileError(f"{name} cell {i}: answer markers in a {cell.get('cell_type')} cell; "
                                 "put answers in code cells.")
    return student, answers


def find_lessons(folder=None) -> list[Path]:
    """The lesson notebooks ``NN_name.ipynb`` in ``folder`` (default: the repository's ``notebooks/``)."""
    if folder is None:
        folder = Path(__file__).resolve().parent.parent / "notebooks"
        if not folder.is_dir():
            raise OptionError("kit is installed without its lessons; give the folder of a clone's lessons with "
                              "--from DIR (e.g. --from kit/notebooks).")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"No folder '{folder}'; give the folder that holds the lessons (NN_name.ipynb).")
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise InputFileError(f"No lessons (NN_name.ipynb) in '{folder}'; give the folder that holds them.")
    return found


def write_student_lessons(out_dir, *, source=None) -> list[tuple[Path, int]]:
    """Write the student version of every lesson to ``out_dir``; returns each path and its number of answers.

    Each file is written whole or not at all. ``source`` is the teacher's lessons
    folder (default: the repository's ``notebooks/``); it must not be ``out_dir``.
    """
    from .audio import atomic_output

    lessons = find_lessons(source)
    out_dir = Path(out_dir)
    if out_dir.resolve() == lessons[0].parent.resolve():
        raise OptionError(f"'{out_dir}' holds the teacher's lessons; write the student versions to another folder.")
    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"'{out_dir}' is a file; give a folder for the student versions.")
    students = []
    for path in lessons:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputFileError(f"'{path}' is not a notebook ({type(exc).__name__}); leave it out.") from None
        students.append((path.name, *make_student_version(nb, name=path.name)))  # all checked before writing
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, student, answers in students:
        target = out_dir / name
        with atomic_output(target) as tmp:
            tmp.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append((target, answers))
    return written
