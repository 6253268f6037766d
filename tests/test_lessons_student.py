"""`kit lessons student`: answers become stubs, outputs go; Run All of every student version reaches the end.

Each exercise check then says "not done yet" (never PASS) and records it in the class database,
and `kit class report` counts the student as having reached each exercise and passed none.
Lessons without marked answers are the same code in both versions (the teacher's run covers them).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from notebook_runner import CLASS_PARAMETERS, NOTEBOOKS, ClassRun, lessons_with_answers, output_text

from kit.errors import InputFileError
from kit.lessons import BEGIN, END, make_student_version


def _kit(*args):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_student_versions_run_to_the_end_say_not_done_and_record_it(tmp_path):
    student = tmp_path / "student"
    made = _kit("lessons", "student", str(student))
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == [str(student / p.name) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    for path in student.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert BEGIN not in path.read_text() and END not in path.read_text()
        assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
                   for c in nb["cells"] if c["cell_type"] == "code")
    folder = tmp_path / "class"
    folder.mkdir()
    db = folder / "class.sqlite"
    run = ClassRun(folder, notebooks=student, environ={"KIT_CLASS_DB": str(db), "JUPYTERHUB_USER": "student1"})
    with_answers = lessons_with_answers()
    assert len(with_answers) >= 7
    for name in with_answers:
        text = output_text(run.run(name))
        assert "PASS" not in text and "NOT YET" not in text, f"{name}:\n{text[-1500:]}"
        assert "not done yet: write my_" in text, name
    report = json.loads(_kit("class", "report", "--db", str(db), "--json").stdout)
    assert report["students"] == ["student1"]
    assert {e["lesson"] for e in report["exercises"]} == {name[:2] for name in with_answers}
    assert all(e["reached"] == 1 and e["passed"] == 0 for e in report["exercises"])


def test_every_lesson_has_a_marked_answer_and_a_recorded_check():
    # a lesson whose answer is not marked would print PASS in the student version
    for name in CLASS_PARAMETERS:
        text = (NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8")
        assert "check_exercise(" in text and BEGIN in text, f"{name}: mark its answer and check it with check_exercise"
    assert lessons_with_answers() == list(CLASS_PARAMETERS)


def test_broken_markers_are_one_clear_error():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n"}
    with pytest.raises(InputFileError, match="never closed"):
        make_student_version({"cells": [cell]}, name="05_x.ipynb")
    cell["source"] = "def f():\n    return 1\n    ### END SOLUTION\n"
    with pytest.raises(InputFileError, match="without '### BEGIN SOLUTION'"):
        make_student_version({"cells": [cell]})


def test_student_command_mistakes_are_one_line(tmp_path):
    for args, words in ((["lessons", "student", str(NOTEBOOKS)], "holds the teacher's lessons"),
                        (["lessons", "student", str(tmp_path / "s"), "--from", str(tmp_path / "none")], "No folder")):
        out = _kit(*args)
        assert out.returncode != 0 and out.stderr.count("\n") == 1 and words in out.stderr, out.stderr
    assert not (tmp_path / "s").exists()
