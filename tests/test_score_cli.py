"""`kit score` through the real command line: a 48 kHz MP3 take, 250 ms late, against a 44.1 kHz vocal stem."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import ok, one_line_error, run_kit

import kit

DELAY_S = 0.25
FLAT, SHARP, MISSED = 3, 9, 12


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    notes = kit.examples.multitrack_melody(12.0)
    reference, _ = kit.examples.make_sung_melody(notes, 44100)
    kit.save(folder / "vocals.wav", np.repeat(reference, 2, axis=0), 44100)
    take = kit.examples.make_sung_take(notes, 48000, cents_off={FLAT: -90, SHARP: 80}, missed=[MISSED],
                                       delay_s=DELAY_S)
    kit.save(folder / "my take.mp3", take, 48000)
    return folder, notes


def test_score_prints_the_summary_and_writes_the_json(files):
    folder, notes = files
    proc = run_kit("score", "my take.mp3", "--reference-vocal", "vocals.wav", "--json", "score.json", cwd=folder)
    assert ok(proc) == folder / "score.json" or ok(proc).name == "score.json"
    data = json.loads((folder / "score.json").read_text())
    assert data["delay_s"] == pytest.approx(DELAY_S, abs=0.02)
    assert 0 <= data["score"] <= 100 and isinstance(data["score"], int)
    assert len(data["notes"]) == len(notes)
    assert set(data["notes"][0]) == {"onset_s", "offset_s", "midi", "cents_error", "verdict"}
    verdicts = [n["verdict"] for n in data["notes"]]
    assert (verdicts[FLAT], verdicts[SHARP], verdicts[MISSED]) == ("flat", "sharp", "missed")
    assert verdicts.count("in tune") == len(notes) - 3
    assert data["notes"][MISSED]["cents_error"] is None
    assert f"{len(notes) - 3} of {len(notes)} notes in tune" in proc.stdout
    assert "ms late" in proc.stdout and "flat (-" in proc.stdout


def test_score_tolerance_and_a_second_run_replaces_the_json(files):
    folder, notes = files
    proc = run_kit("score", "my take.mp3", "--reference-vocal", "vocals.wav", "--json", "score2.json",
                   "--tolerance-cents", "100", "--quiet", cwd=folder)
    ok(proc)
    assert proc.stdout.strip() == "score2.json"  # --quiet: only the path
    data = json.loads((folder / "score2.json").read_text())
    assert data["tolerance_cents"] == 100 and data["notes"][SHARP]["verdict"] == "in tune"
    again = run_kit("score", "my take.mp3", "--reference-vocal", "vocals.wav", "--json", "score2.json", "-q",
                    cwd=folder)
    ok(again)
    assert "kit: replaced score2.json" in again.stderr


@pytest.mark.parametrize(("args", "fragment"), [
    (["--tolerance-cents", "500"], "--tolerance-cents 500 is out of range"),
    (["--tolerance-cents", "lots"], "--tolerance-cents lots is not a number"),
    (["--json", "score.txt"], "should end in .json"),
    (["--json", "vocals.wav"], "should end in .json"),
    (["--json", "nowhere/score.json"], "does not exist"),
])
def test_score_mistakes_are_one_line(files, args, fragment):
    folder, _ = files
    proc = run_kit("score", "my take.mp3", "--reference-vocal", "vocals.wav", *args, cwd=folder)
    assert fragment in one_line_error(proc)


def test_score_silent_take_and_missing_files_are_one_line(files):
    folder, _ = files
    kit.save(folder / "silence.wav", np.zeros((1, 48000 * 4), np.float32), 48000)
    proc = run_kit("score", "silence.wav", "--reference-vocal", "vocals.wav", "--json", "s.json", cwd=folder)
    assert "The take is silent" in one_line_error(proc)
    assert not (folder / "s.json").exists()
    assert "No such file" in one_line_error(run_kit("score", "nope.wav", "--reference-vocal", "vocals.wav",
                                                    cwd=folder))
    assert "--reference-vocal" in one_line_error(run_kit("score", "my take.mp3", cwd=folder))
