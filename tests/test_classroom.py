"""The class database: names, where it lives, parallel writers losing no row, exercise checks recording."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from kit import classroom
from kit.errors import InputFileError, KitWarning, OptionError


def test_student_is_the_hub_user_else_the_login_name(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    assert classroom.student_name() == "ada"
    monkeypatch.delenv("JUPYTERHUB_USER")
    monkeypatch.setattr(classroom.getpass, "getuser", lambda: "grace")
    assert classroom.student_name() == "grace"


def test_path_from_kit_class_db_else_kits_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_CLASS_DB", str(tmp_path / "shared.sqlite"))
    assert classroom.class_db_path() == tmp_path / "shared.sqlite"
    assert classroom.feedback_db_path() == tmp_path / "shared.sqlite"  # same file unless KIT_FEEDBACK_DB says
    monkeypatch.setenv("KIT_FEEDBACK_DB", str(tmp_path / "app.sqlite"))
    assert classroom.feedback_db_path() == tmp_path / "app.sqlite"
    monkeypatch.delenv("KIT_CLASS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert classroom.class_db_path() == tmp_path / "data" / "kit" / "class.sqlite"


def test_rows_say_who_what_and_when_and_the_file_is_in_wal_mode(tmp_path):
    db = tmp_path / "class.sqlite"
    assert classroom.record("07", "listening test", {"ratings": {"A": 80}}, db=db, student="ada")
    (row,) = classroom.read_results(db=db)
    assert (row["student"], row["lesson"], row["item"]) == ("ada", "07", "listening test")
    assert row["value"] == '{"ratings": {"A": 80}}' and row["time"].endswith("+00:00")
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_parallel_writers_lose_no_row(tmp_path):
    """Eight kernels of a class save at the same moment, 40 rows each: all 320 rows are there."""
    db = tmp_path / "class.sqlite"
    code = textwrap.dedent(f"""
        import sys
        from kit import classroom
        name = sys.argv[1]
        sys.stdin.readline()  # start together
        for i in range(40):
            assert classroom.record("05", f"item{{i}}", i, db={str(db)!r}, student=name)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"student{k}"], stdin=subprocess.PIPE, text=True)
             for k in range(8)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = classroom.read_results(db=db)
    assert len(rows) == 320
    assert {(r["student"], r["item"]) for r in rows} == {(f"student{k}", f"item{i}") for k in range(8)
                                                         for i in range(40)}


def test_a_locked_database_is_waited_for_not_lost(tmp_path, monkeypatch):
    db = tmp_path / "class.sqlite"
    classroom.record("01", "warm up", 1, db=db, student="ada")
    calls = {"n": 0}
    real = classroom._connect

    def flaky(path):  # the first two tries find the file locked, as a busy class would
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("database is locked")
        return real(path)

    monkeypatch.setattr(classroom, "_connect", flaky)
    assert classroom.record("01", "after a wait", 2, db=db, student="ada")
    assert [r["item"] for r in classroom.read_results(db=db)] == ["warm up", "after a wait"]


def test_an_unwritable_database_warns_once_and_the_lesson_goes_on(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.warns(KitWarning, match="Could not record class results.*KIT_CLASS_DB"):
        assert classroom.record("01", "x", 1, db=blocker / "class.sqlite") is False


def test_reading_a_missing_or_foreign_file_is_one_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="No class results at .* run a lesson first"):
        classroom.read_results(db=tmp_path / "none.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_text("hello, not sqlite" * 100)
    with pytest.raises(InputFileError, match="is not a class results database"):
        classroom.read_results(db=bad)


def test_check_exercise_says_not_done_pass_or_what_differs_and_records_it(tmp_path, capsys):
    db = tmp_path / "class.sqlite"

    def stub(x):
        raise NotImplementedError()

    classroom.check_exercise("02", "my_ratio_mask", lambda: stub(1), db=db)
    assert capsys.readouterr().out.startswith("not done yet: write my_ratio_mask in the cell above")
    classroom.check_exercise("02", "my_ratio_mask", lambda: ["at bin (0, 1) you give 0.2, kit 0.5"], db=db)
    assert capsys.readouterr().out == "NOT YET: at bin (0, 1) you give 0.2, kit 0.5\n"
    classroom.check_exercise("02", "my_ratio_mask", lambda: 1 / 0, db=db)  # a bug is a hint, not a crash
    assert "NOT YET: my_ratio_mask raised ZeroDivisionError" in capsys.readouterr().out
    classroom.check_exercise("02", "my_ratio_mask", lambda: [], passed="matches kit", db=db)
    assert capsys.readouterr().out == "PASS: matches kit\n"
    assert [r["value"] for r in classroom.read_results(db=db)] == ["not done", "not yet", "not yet", "pass"]


def test_feedback_keeps_rating_comment_hash_model_settings_never_audio(tmp_path):
    db = tmp_path / "fb.sqlite"
    assert classroom.record_feedback(4, " clear vocals gone ", song_sha256="ab" * 32, model="unet",
                                     settings={"semitones": -1}, db=db, student="ada")
    (row,) = classroom.read_feedback(db=db)
    assert row["rating"] == 4 and row["comment"] == "clear vocals gone" and row["model"] == "unet"
    assert row["settings"] == {"semitones": -1} and row["song_sha256"] == "ab" * 32
    columns = [c[1] for c in sqlite3.connect(db).execute("PRAGMA table_info(feedback)")]
    assert not any("audio" in c or "wav" in c for c in columns)
    with pytest.raises(OptionError, match="from 1 .* to 5"):
        classroom.record_feedback(6, db=db)
