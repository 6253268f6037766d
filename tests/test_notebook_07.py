"""Lesson 07 (evaluation and listening) runs with small sizes: scores, scoreboard bounds, listening test saved."""

import json
import re

from notebook_runner import count_outputs, output_text, run_notebook

SMALL = {"clip_s": 5.0, "train_minutes": 0.1}


def test_lesson_07_scores_scoreboard_and_listening_test(tmp_path):
    nb = run_notebook("07_evaluation_and_listening", SMALL, tmp_path=tmp_path, timeout_s=120)
    counts = count_outputs(nb)
    assert counts["figures"] >= 1 and counts["audio"] >= 6 and counts["widgets"] >= 2, counts
    text = output_text(nb)
    assert "PASS" in text and "museval BSSEval v4" in text
    half = re.search(r"^half as loud\s+([-0-9.]+)\s+([-0-9.]+)", text, flags=re.M)
    assert half and abs(float(half.group(1)) - 6.0) < 0.1 and float(half.group(2)) > 100  # SDR vs SI-SDR on a gain
    board = text.split("ranked by vocals SDR", 1)[1].split("measure:", 1)[0]
    ranked = re.findall(r"^\s*\d+ (\S+(?: \S+)*?)\s{2,}", board, flags=re.M)
    assert ranked[-1] == "mixture" and ranked[0].startswith(("oracle", "unet")), ranked
    assert "tiny U-Net (ours)" in ranked
    saved = json.loads((tmp_path / "my_ratings.json").read_text())
    assert "hidden reference" in saved["ratings"] and "low anchor (3.5 kHz low-pass)" in saved["ratings"]
    assert "1 listener(s)" in text
