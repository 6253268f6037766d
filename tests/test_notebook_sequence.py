"""Every lesson, in order, in one folder, as a class runs them; the teacher's versions pass every exercise.

Each lesson's own test checks what it shows (tests/test_notebook_NN.py, test_notebooks_part1.py); they
all read the same sequential run (the ``class_run`` fixture), so each lesson runs once per session.
"""

from __future__ import annotations

import json

from notebook_runner import CLASS_PARAMETERS, lessons_with_answers, output_text

from kit import classroom


def test_every_lesson_runs_in_sequence_and_the_teachers_answers_all_pass(class_run):
    for name in CLASS_PARAMETERS:  # an error in any lesson fails here, naming it
        nb = class_run.run(name)
        if name in lessons_with_answers():
            text = output_text(nb)
            assert "PASS" in text and "NOT YET" not in text and "not done yet" not in text, f"{name}:\n{text[-1500:]}"
    rows = classroom.read_results(db=class_run.folder / "class.sqlite")
    checked = {r["lesson"] for r in rows}
    assert checked == {name[:2] for name in lessons_with_answers()}, checked  # every check recorded itself
    assert {r["value"] for r in rows} == {"pass"}
    assert not any(r["item"] == "listening test" for r in rows)  # Run All saves no ratings nobody gave
    # what one lesson leaves behind is there for the next, as in a class
    assert (class_run.folder / "my_tiny_unet.safetensors").is_file()
    assert json.loads(json.dumps(CLASS_PARAMETERS))  # the sizes are plain values (the test injects them)
