"""Lesson 06 (Demucs) runs its no-weights branch in CI: it says so plainly, shows the random-weight
architecture and the segment weights, and separates with the offline model instead."""

import re

from notebook_runner import CLASS_PARAMETERS, count_outputs, output_text


def test_lesson_06_without_real_weights_says_so_and_still_teaches(class_run):
    assert not (class_run.folder / CLASS_PARAMETERS["06_demucs"]["model_dir"]).exists()
    nb = class_run.run("06_demucs")
    counts = count_outputs(nb)
    assert counts["figures"] >= 2 and counts["audio"] >= 2 and counts["widgets"] >= 2, counts
    text = output_text(nb)
    assert "no real weights on this machine" in text and "RANDOM weights" in text
    total = float(re.search(r"all\s+([0-9.]+) M parameters \(random, NOT the trained ones\)", text).group(1))
    assert 40 < total < 44  # the real htdemucs architecture's size
    assert "weights add up to 1 everywhere: True" in text
    assert "separated with unet (no real Demucs weights here" in text
    assert "htdemucs_6s  -> drums, bass, other, vocals, guitar, piano" in text
