"""Lesson 10 (pitch and singing) runs top to bottom with small sizes and gets its known answers.

YIN by hand must find the synthetic A3 (220 Hz) to a fraction of a hertz; the
scorer must flag exactly the mistakes the lesson sang into its synthetic take
and find its latency; the exercise must pass.
"""

import re

from notebook_runner import count_outputs, output_text


def test_lesson_10_tracks_pitch_and_scores_a_take(class_run):
    nb = class_run.run("10_pitch_and_singing")
    counts = count_outputs(nb)
    assert counts["figures"] >= 5 and counts["audio"] >= 3 and counts["widgets"] >= 1, counts
    text = output_text(nb)
    yin_hz = float(re.search(r"YIN by hand: .* f0 = ([0-9.]+) Hz", text).group(1))
    assert abs(yin_hz - 220.0) < 0.5
    accuracies = [float(a) for a in re.findall(r"accuracy ([0-9.]+) %", text)]
    assert len(accuracies) == 2 and min(accuracies) >= 90
    assert "flagged exactly the mistakes we made" in text
    found, true = map(float, re.search(r"latency: ([0-9.]+) ms found, ([0-9.]+) ms true", text).groups())
    assert abs(found - true) <= 20
    assert "PASS" in text
