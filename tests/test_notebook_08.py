"""Lesson 08 (mixing your voice) runs top to bottom with small sizes and shows each step.

The take is the real pretrained U-Net's vocal stem of the bundled song, delayed
80 ms; the lesson must find that delay, pass its exercise, end at -1 dBTP, and run
the level-balance learning experiment (a memoriser loses to the constant guess).
"""

import re

from notebook_runner import count_outputs, output_text


def test_lesson_08_walks_every_mixing_step(class_run):
    nb = class_run.run("08_vocal_mixing")
    counts = count_outputs(nb)
    assert counts["figures"] >= 7 and counts["audio"] >= 8 and counts["widgets"] >= 1, counts
    text = output_text(nb)
    assert "PASS" in text
    assert "came in 80.0 ms late compared with the original vocal" in text
    for step in ("Noise gate:", "Level balance:", "Compression:", "EQ unmasking:", "Reverb:", "Output:"):
        assert step in text, step
    peak = float(re.search(r"automix: ([-+0-9.]+) dBTP", text).group(1))
    assert peak <= -1.0
    memoriser = re.search(r"memoriser .*training ([0-9.]+) dB, validation ([0-9.]+) dB", text)
    mean_guess = float(re.search(r"always the training mean:\s+validation ([0-9.]+) dB", text).group(1))
    assert float(memoriser.group(1)) < 0.01 and float(memoriser.group(2)) > mean_guess
