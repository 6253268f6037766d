"""The app's feedback: rate a result 1-5 with a few words; kept without audio; `kit feedback` sums it up."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from kit import classroom
from kit.cache import hash_audio
from kit.ui import karaoke_maker


def test_after_a_result_the_singer_rates_it_and_it_is_kept_without_audio(tmp_path, monkeypatch):
    db = tmp_path / "feedback.sqlite"
    monkeypatch.setenv("KIT_FEEDBACK_DB", str(db))
    app = karaoke_maker(model="center", device="cpu", workdir=tmp_path)
    assert app.feedback.layout.display == "none"  # nothing to rate before a result
    app.preview_button.click()
    assert app.feedback.layout.display == "flex" and app.feedback.send.disabled
    app.feedback.rating.value = 4
    app.feedback.comment.value = "vocals gone, a bit hollow"
    app.feedback.send.click()
    assert "kept" in app.feedback.note.value and app.feedback.send.disabled
    (row,) = classroom.read_feedback()
    assert row["rating"] == 4 and row["comment"] == "vocals gone, a bit hollow" and row["model"] == "center"
    assert row["song_sha256"] == hash_audio(app.y, app.sr) and len(row["song_sha256"]) == 64
    assert row["settings"]["mix"] == "no vocals" and row["settings"]["range_s"] == [0.0, app.duration_s]
    # nothing of the audio: no blob, and the file stays tiny
    con = sqlite3.connect(db)
    assert all(t != "blob" for (t,) in con.execute("SELECT DISTINCT typeof(settings) FROM feedback"))
    assert db.stat().st_size < 64_000
    app.whole_button.click()  # a new result: a fresh panel
    assert app.feedback.rating.value is None and app.feedback.note.value == ""


def test_kit_feedback_prints_the_average_per_model_and_the_latest_comments(tmp_path):
    db = tmp_path / "feedback.sqlite"
    for rating, model, comment in ((5, "unet", "clean"), (3, "unet", ""), (2, "center", "hollow"),
                                   (4, "unet", "great on the chorus")):
        classroom.record_feedback(rating, comment, song_sha256="0" * 64, model=model, db=db, student="ada")
    out = subprocess.run([sys.executable, "-m", "kit", "feedback", "--db", str(db), "--latest", "2"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["unet", "4.0", "(3", "ratings)"] and lines[2].split()[:2] == ["center", "2.0"]
    assert "great on the chorus" in lines[4] and "hollow" in lines[5] and "clean" not in out.stdout
    missing = subprocess.run([sys.executable, "-m", "kit", "feedback", "--db", str(tmp_path / "none.sqlite")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1
    assert "kit: error: No feedback at" in missing.stderr
