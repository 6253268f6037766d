"""Lesson 06 (Demucs) runs its no-weights branch in CI: it says so plainly, shows the random-weight
architecture and the segment weights, separates with the offline model instead, and trains a small
real HT Demucs for a few steps (time estimated first), which it then scores on an unseen song."""

import re

from notebook_runner import CLASS_PARAMETERS, count_outputs, output_text


def test_lesson_06_without_real_weights_says_so_and_still_teaches(class_run):
    params = CLASS_PARAMETERS["06_demucs"]
    assert not (class_run.folder / params["model_dir"]).exists()
    nb = class_run.run("06_demucs")
    counts = count_outputs(nb)
    assert counts["figures"] >= 3 and counts["audio"] >= 4 and counts["widgets"] >= 4, counts
    text = output_text(nb)
    assert "no real weights on this machine" in text and "RANDOM weights" in text
    total = float(re.search(r"all\s+([0-9.]+) M parameters \(random, NOT the trained ones\)", text).group(1))
    assert 40 < total < 44  # the real htdemucs architecture's size
    assert "weights add up to 1 everywhere: True" in text
    assert "separated with unet (no real Demucs weights here" in text
    assert "htdemucs_6s  -> drums, bass, other, vocals, guitar, piano" in text
    assert "PASS: your segments start where Demucs's apply_model starts them" in text


def test_lesson_06_trains_a_small_demucs_after_saying_how_long_it_will_take(class_run):
    steps = CLASS_PARAMETERS["06_demucs"]["train_steps"]
    text = output_text(class_run.run("06_demucs"))
    estimate = re.search(rf"^{steps} training steps on \d+ CPU thread\(s\): about (\d+) s on this machine", text, re.M)
    done = re.search(rf"^{steps} steps in (\d+) s \(estimated (\d+) s\); ([0-9,]+) weights, (\d+)x fewer than htdemucs",
                     text, re.M)
    assert estimate and done, text
    assert estimate.group(1) == done.group(2)
    assert 100 <= int(done.group(4)) <= 200  # a small HT Demucs, not the 42 M one
    scored = re.search(rf"^small HT Demucs after {steps} steps: vocals SDR ([-0-9.]+) dB, accompaniment ([-0-9.]+) dB",
                       text, re.M)
    assert scored, text
    unet = re.search(r"^pretrained U-Net: vocals SDR ([-0-9.]+) dB, so the small Demucs is ([0-9.]+) dB (below|above)",
                     text, re.M)
    assert unet, text
    # the sentence agrees with the figures it prints
    gap = float(unet.group(1)) - float(scored.group(1))
    assert abs(abs(gap) - float(unet.group(2))) < 0.11 and (unet.group(3) == "below") == (gap > 0)
