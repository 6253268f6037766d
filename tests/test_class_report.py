"""`kit class report`: two simulated students write to one class database at once; the report counts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

STUDENT = textwrap.dedent("""
    import sys
    from kit import classroom
    done = sys.argv[1] == "done"
    sys.stdin.readline()  # both start together
    classroom.check_exercise("01", "my_bin_frequencies", lambda: [])
    if done:
        classroom.check_exercise("02", "my_ratio_mask", lambda: [])
    else:
        def stub():
            raise NotImplementedError()
        classroom.check_exercise("02", "my_ratio_mask", stub)
    ratings = {"hidden reference": 100, "tiny U-Net": 80 if done else 60, "low anchor (3.5 kHz low-pass)": 20}
    classroom.record("07", "listening test", {"ratings": {**ratings, "tiny U-Net": 10}, "sdr_db": {}})  # changed mind:
    classroom.record("07", "listening test", {"ratings": ratings,  # only the last save counts
                                              "sdr_db": {"hidden reference": None, "tiny U-Net": 6.5,
                                                         "low anchor (3.5 kHz low-pass)": 14.0}})
""")


def _students_write(db):
    procs = []
    for name, state in (("ada", "done"), ("bo", "stuck")):
        env = {**os.environ, "KIT_CLASS_DB": str(db), "JUPYTERHUB_USER": name}
        procs.append(subprocess.Popen([sys.executable, "-c", STUDENT, state], stdin=subprocess.PIPE, env=env,
                                      text=True, stdout=subprocess.DEVNULL))
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]


def test_two_students_at_once_then_the_report_counts_reached_passed_and_pools_the_ratings(tmp_path):
    db = tmp_path / "class.sqlite"
    _students_write(db)
    out = subprocess.run([sys.executable, "-m", "kit", "class", "report", "--db", str(db), "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["students"] == ["ada", "bo"]
    assert report["exercises"] == [{"lesson": "01", "item": "my_bin_frequencies", "reached": 2, "passed": 2},
                                   {"lesson": "02", "item": "my_ratio_mask", "reached": 2, "passed": 1}]
    listening = report["listening"]
    assert listening["listeners"] == 2
    tiny = next(v for v in listening["versions"] if v["version"] == "tiny U-Net")
    assert tiny["n"] == 2 and tiny["mean"] == 70.0 and tiny["sdr_db"] == 6.5
    # 95% interval of two ratings 80 and 60: 70 +- t(0.975, 1) * 14.14 / sqrt(2) = 70 +- 127.06
    assert abs(tiny["low"] - (70 - 127.06)) < 0.05 and abs(tiny["high"] - (70 + 127.06)) < 0.05
    html = tmp_path / "report.html"
    text = subprocess.run([sys.executable, "-m", "kit", "class", "report", "--db", str(db), "--html", str(html)],
                          capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "02      my_ratio_mask" in text.stdout and "2 listener(s)" in text.stdout
    page = html.read_text()
    assert "<img alt='ratings against SDR' src='data:image/png;base64," in page and "my_ratio_mask" in page
    assert text.stderr.strip() == f"kit: wrote {html}"


def test_report_mistakes_are_one_line(tmp_path):
    for args, words in ((["--db", str(tmp_path / "none.sqlite")], "No class results at"),
                        (["--db", str(tmp_path / "x.sqlite"), "--html", str(tmp_path / "r.txt")], "ending in .html")):
        out = subprocess.run([sys.executable, "-m", "kit", "class", "report", *args], capture_output=True, text=True)
        assert out.returncode != 0 and out.stderr.count("\n") == 1 and words in out.stderr, out.stderr
