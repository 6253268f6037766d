"""Lesson 07 (evaluation and listening) after lessons 01-06 in the same folder, as a class runs it.

Lesson 05 left ``my_tiny_unet.safetensors`` behind, so lesson 07 takes its load branch. The
scoreboard compares like with like (its mean is over the stems every method gives), and
nothing is saved for a listening test nobody rated.
"""

import re

from notebook_runner import count_outputs, output_text


def test_lesson_07_loads_lesson_05s_model_scores_and_saves_no_unrated_ratings(class_run):
    assert (class_run.folder / "my_tiny_unet.safetensors").is_file()  # lesson 05 ran first
    nb = class_run.run("07_evaluation_and_listening")
    counts = count_outputs(nb)
    assert counts["figures"] >= 1 and counts["audio"] >= 6 and counts["widgets"] >= 2, counts
    text = output_text(nb)
    assert "tiny U-Net loaded from my_tiny_unet.safetensors" in text
    assert "PASS" in text and "museval BSSEval v4" in text
    half = re.search(r"^half as loud\s+([-0-9.]+)\s+([-0-9.]+)", text, flags=re.M)
    assert half and abs(float(half.group(1)) - 6.0) < 0.1 and float(half.group(2)) > 100  # SDR vs SI-SDR on a gain
    board = text.split("ranked by vocals SDR", 1)[1].split("measure:", 1)[0]
    ranked = re.findall(r"^\s*\d+ (\S+(?: \S+)*?)\s{2,}", board, flags=re.M)
    assert ranked[-1] == "mixture" and ranked[0].startswith(("oracle", "unet")), ranked
    assert "tiny U-Net (ours)" in ranked
    # like with like: the four-stem oracles get a summed accompaniment; the mean is over the shared stems
    assert "mean: of vocals, accompaniment only, the stems every method gives" in text
    assert "oracle_irm: accompaniment = its drums + bass + other, summed" in text
    assert re.search(r"best real method on the vocals: .+ dB (above|below) the ideal ratio mask", text)
    # Run All rates nothing: no ratings file until someone presses Save
    assert not list(class_run.folder.glob("*ratings*.json"))
    assert "no ratings saved here yet" in text
