"""Class results in one place: one SQLite file that lessons, the listening test and the app write to.

Every row says who (the student's name: ``JUPYTERHUB_USER`` on a JupyterHub, else
the login name), which lesson, which item, what value and when. The exercise
checks record "pass" / "not yet" / "not done" (:func:`check_exercise`), the
listening test of lesson 07 records the ratings a student saved, and the
karaoke app's feedback goes to its own table (rating, comment, the song's
content hash, model and settings; never audio).

Where: ``$KIT_CLASS_DB``, else ``class.sqlite`` in kit's data folder
(``$XDG_DATA_HOME/kit``, else ``~/.local/share/kit``). A teacher points a whole
class at one file on a shared server by setting ``KIT_CLASS_DB`` for everyone;
the folder must be writable by all (SQLite puts its ``-wal`` and ``-shm``
files next to the database). The app's feedback goes to ``$KIT_FEEDBACK_DB``
where that is set.

Many kernels write at once: the database is in WAL mode (readers never block
writers), each write is one short transaction, and a write that finds the
file locked waits and tries again. Recording never stops a lesson: if the file
cannot be written, a :class:`~kit.errors.KitWarning` says so once and the
lesson goes on. ``kit class report`` reads it all back.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import random
import sqlite3
import time
import warnings
from pathlib import Path

from .errors import InputFileError, KitWarning

__all__ = [
    "check_exercise",
    "class_db_path",
    "feedback_db_path",
    "read_feedback",
    "read_results",
    "record",
    "record_feedback",
    "student_name",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL, lesson TEXT NOT NULL, item TEXT NOT NULL, value TEXT, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT, song_sha256 TEXT, model TEXT,
    settings TEXT, time TEXT NOT NULL);
"""
_RETRIES = 20  # on top of SQLite's own 5 s busy wait: a class of 30 saving at once must not lose a row
_warned: set[str] = set()


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "kit"


def class_db_path(db=None) -> Path:
    """The class database: ``db``, else ``$KIT_CLASS_DB``, else ``class.sqlite`` in kit's data folder.

    Examples
    --------
    >>> class_db_path("results.sqlite").name
    'results.sqlite'
    """
    return Path(db or os.environ.get("KIT_CLASS_DB") or _data_dir() / "class.sqlite").expanduser()


def feedback_db_path(db=None) -> Path:
    """Where the app's feedback goes: ``db``, else ``$KIT_FEEDBACK_DB``, else the class database."""
    return Path(db or os.environ.get("KIT_FEEDBACK_DB") or class_db_path()).expanduser()


def student_name() -> str:
    """Who is working: ``$JUPYTERHUB_USER`` on a JupyterHub, else the login name.

    Examples
    --------
    >>> isinstance(student_name(), str)
    True
    """
    name = os.environ.get("JUPYTERHUB_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=5.0, isolation_level=None)  # autocommit; BEGIN where needed
    con.execute("PRAGMA busy_timeout = 5000")
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        con.execute("PRAGMA journal_mode = WAL")
    con.executescript(_SCHEMA)
    return con


def _write(path: Path, sql: str, params: tuple) -> None:
    """One INSERT in its own transaction, tried again while another kernel holds the lock."""
    for attempt in range(_RETRIES):
        try:
            con = _connect(path)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute(sql, params)
                con.execute("COMMIT")
                return
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1) * (0.5 + random.random()))  # jittered: writers do not retry in step


def _warn_once(path: Path, exc: Exception) -> None:
    if str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(f"Could not record class results in {path} ({exc}); the lesson goes on. Set KIT_CLASS_DB "
                      "to a file in a writable folder to keep them.", KitWarning, stacklevel=3)


def record(lesson: str, item: str, value, *, db=None, student: str | None = None) -> bool:
    """Add one row to the class database: who, which lesson and item, what value, when.

    Parameters
    ----------
    lesson : str
        The lesson, e.g. ``"05"``.
    item : str
        What is recorded, e.g. the exercise ``"my_l1_loss"`` or ``"listening test"``.
    value : str, number or dict
        ``"pass"``, a rating, ...; a dict is stored as JSON.
    db : str or Path, optional
        The database file (default :func:`class_db_path`).
    student : str, optional
        Default :func:`student_name`.

    Returns
    -------
    recorded : bool
        False (with a warning, once) when the file cannot be written; nothing is raised.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "class.sqlite")
    >>> record("05", "my_l1_loss", "pass", db=path, student="ada")
    True
    >>> [(r["student"], r["item"], r["value"]) for r in read_results(db=path)]
    [('ada', 'my_l1_loss', 'pass')]
    """
    path = class_db_path(db)
    text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    try:
        _write(path, "INSERT INTO results (student, lesson, item, value, time) VALUES (?, ?, ?, ?, ?)",
               (student or student_name(), str(lesson), str(item), text, _now()))
    except (sqlite3.Error, OSError) as exc:
        _warn_once(path, exc)
        return False
    return True


def record_feedback(rating: int, comment: str = "", *, song_sha256: str | None = None, model: str | None = None,
                    settings: dict | None = None, db=None, student: str | None = None) -> bool:
    """Keep one rating (1-5) and comment about a result of the app, with what made it; never the audio.

    Returns False (with a warning, once) when the file cannot be written.
    """
    from .errors import OptionError

    if int(rating) != rating or not 1 <= int(rating) <= 5:
        raise OptionError(f"rating={rating!r}: give a whole number from 1 (poor) to 5 (great).")
    path = feedback_db_path(db)
    try:
        _write(path, "INSERT INTO feedback (student, rating, comment, song_sha256, model, settings, time) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
               (student or student_name(), int(rating), str(comment or "").strip(), song_sha256, model,
                json.dumps(settings or {}, sort_keys=True, default=str), _now()))
    except (sqlite3.Error, OSError) as exc:
        _warn_once(path, exc)
        return False
    return True


def _read(path: Path, table: str) -> list[dict]:
    if not path.is_file():
        if table == "feedback":
            raise InputFileError(f"No feedback at '{path}' yet; rate a result in the app first, or give --db FILE "
                                 "(the file KIT_FEEDBACK_DB or KIT_CLASS_DB names).")
        raise InputFileError(f"No class results at '{path}' yet; run a lesson first, or give --db FILE "
                             "(the file KIT_CLASS_DB names on the class's server).")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY id")]  # noqa: S608 (fixed names)
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise InputFileError(f"'{path}' is not a class results database ({exc}); give the file KIT_CLASS_DB "
                             "names.") from None
    except sqlite3.DatabaseError as exc:
        raise InputFileError(f"'{path}' is not a class results database ({exc}); give the file KIT_CLASS_DB "
                             "names.") from None


def read_results(db=None) -> list[dict]:
    """Every row of the class database, oldest first: ``{"id", "student", "lesson", "item", "value", "time"}``."""
    return _read(class_db_path(db), "results")


def read_feedback(db=None) -> list[dict]:
    """Every feedback row, oldest first.

    Each is ``{"student", "rating", "comment", "song_sha256", "model", "settings", "time"}``.
    """
    rows = _read(feedback_db_path(db), "feedback")
    for r in rows:
        r["settings"] = json.loads(r["settings"] or "{}")
    return rows


def check_exercise(lesson: str, item: str, check, *, passed: str = "", db=None) -> None:
    """Run an exercise's check, say PASS, "not done yet" or what differs, and record which in the class database.

    Parameters
    ----------
    lesson : str
        The lesson, e.g. ``"05"``.
    item : str
        The function the student writes, e.g. ``"my_l1_loss"``: named in the messages.
    check : callable
        Calls the student's code and compares it with kit's; returns the problems
        (a list of strings, or one string; empty when it matches). A
        ``NotImplementedError`` from the student's stub means "not done yet".
    passed : str
        What a pass means, printed after "PASS: ".
    db : str or Path, optional
        The class database (default :func:`class_db_path`).

    Never raises for a mistake in the student's code: the message names it, and
    *Run All* goes on. Returns nothing, so a notebook shows only the message.

    Examples
    --------
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "class.sqlite")
    >>> def my_double(x):
    ...     raise NotImplementedError()
    >>> check_exercise("00", "my_double", lambda: [] if my_double(2) == 4 else ["my_double(2) is not 4"], db=db)
    not done yet: write my_double in the cell above (it still raises NotImplementedError), then run this cell again
    >>> def my_double(x):
    ...     return x + x
    >>> check_exercise("00", "my_double", lambda: [] if my_double(2) == 4 else ["my_double(2) is not 4"], db=db)
    PASS
    >>> [r["value"] for r in read_results(db=db)]
    ['not done', 'pass']
    """
    try:
        problems = check()
    except NotImplementedError:
        print(f"not done yet: write {item} in the cell above (it still raises NotImplementedError), "
              "then run this cell again")
        record(lesson, item, "not done", db=db)
        return
    except Exception as exc:  # the student's code failed: say how, and let Run All go on
        problems = [f"{item} raised {type(exc).__name__}: {exc}"]
    if isinstance(problems, str):
        problems = [problems]
    problems = [p for p in (problems or []) if p]
    if problems:
        print("NOT YET: " + problems[0] + "".join(f"\n  {p}" for p in problems[1:]))
        record(lesson, item, "not yet", db=db)
        return
    print("PASS" + (f": {passed}" if passed else ""))
    record(lesson, item, "pass", db=db)


LISTENING_TEST = "listening test"


def summarize_class(rows: list[dict]) -> dict:
    """Per exercise, how many students reached it and passed; the listening test pooled over every student.

    Parameters
    ----------
    rows : list of dict
        From :func:`read_results`.

    Returns
    -------
    summary : dict
        ``{"students": [...], "exercises": [{"lesson", "item", "reached", "passed"}],
        "listening": {"listeners": n, "versions": [{"version", "n", "mean", "low", "high", "sdr_db"}]}}``.
        A student counts as having reached an exercise when its check ran at least once, and as
        having passed when it said PASS at least once. Each listener's last saved ratings count;
        ``low`` and ``high`` bound the 95 % interval of the mean (Student's t; None for one listener).

    Examples
    --------
    >>> rows = [{"student": "ada", "lesson": "01", "item": "f", "value": "not yet"},
    ...         {"student": "ada", "lesson": "01", "item": "f", "value": "pass"},
    ...         {"student": "bo", "lesson": "01", "item": "f", "value": "not done"}]
    >>> summarize_class(rows)["exercises"]
    [{'lesson': '01', 'item': 'f', 'reached': 2, 'passed': 1}]
    """
    import math

    import numpy as np
    from scipy import stats

    reached: dict[tuple, set] = {}
    passed: dict[tuple, set] = {}
    latest: dict[str, dict] = {}
    for r in rows:
        if r["item"] == LISTENING_TEST:
            try:
                latest[r["student"]] = json.loads(r["value"])
            except (TypeError, ValueError):
                continue
            continue
        key = (r["lesson"], r["item"])
        reached.setdefault(key, set()).add(r["student"])
        if r["value"] == "pass":
            passed.setdefault(key, set()).add(r["student"])
    exercises = [{"lesson": lesson, "item": item, "reached": len(who), "passed": len(passed.get((lesson, item), ()))}
                 for (lesson, item), who in sorted(reached.items())]
    ratings: dict[str, list[float]] = {}
    sdr: dict[str, list[float]] = {}
    for saved in latest.values():
        for name, value in (saved.get("ratings") or {}).items():
            ratings.setdefault(name, []).append(float(value))
        for name, value in (saved.get("sdr_db") or {}).items():
            sdr.setdefault(name, []).append(math.inf if value is None else float(value))
    versions = []
    for name, values in ratings.items():
        mean = float(np.mean(values))
        low = high = None
        if len(values) > 1:
            half = float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values)))
            low, high = mean - half, mean + half
        sdrs = sdr.get(name) or [math.nan]
        versions.append({"version": name, "n": len(values), "mean": mean, "low": low, "high": high,
                         "sdr_db": None if not math.isfinite(float(np.mean(sdrs))) else float(np.mean(sdrs))})
    versions.sort(key=lambda v: -v["mean"])
    students = sorted({r["student"] for r in rows})
    return {"students": students, "exercises": exercises,
            "listening": {"listeners": len(latest), "versions": versions}}


def summarize_feedback(rows: list[dict], *, latest: int = 5) -> dict:
    """The app's feedback: average rating per model, and the latest comments.

    Returns
    -------
    summary : dict
        ``{"models": [{"model", "ratings", "mean"}], "comments": [{"time", "model", "rating", "comment"}]}``,
        models best first, comments newest first (empty comments left out).

    Examples
    --------
    >>> rows = [{"model": "unet", "rating": 4, "comment": "", "time": "t1"},
    ...         {"model": "unet", "rating": 5, "comment": "clean", "time": "t2"}]
    >>> summarize_feedback(rows)["models"]
    [{'model': 'unet', 'ratings': 2, 'mean': 4.5}]
    """
    by_model: dict[str, list[int]] = {}
    for r in rows:
        by_model.setdefault(r.get("model") or "?", []).append(int(r["rating"]))
    models = sorted(({"model": m, "ratings": len(v), "mean": sum(v) / len(v)} for m, v in by_model.items()),
                    key=lambda m: -m["mean"])
    comments = [{"time": r["time"], "model": r.get("model") or "?", "rating": int(r["rating"]),
                 "comment": r["comment"]} for r in reversed(rows) if r.get("comment")][:latest]
    return {"models": models, "comments": comments}
