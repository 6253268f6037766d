"""Lesson 05 (spectrogram U-Net) runs top to bottom with small sizes and shows what it promises.

In CI the network trains for a few steps (train_steps=15), which the lesson says after estimating the
time; the lesson still prints the three figures (tiny U-Net, REPET-SIM, pretrained U-Net on unseen songs).
"""

import re

from notebook_runner import count_outputs, output_text


def test_lesson_05_trains_live_and_prints_the_three_figures(class_run):
    nb = class_run.run("05_spectrogram_unet")
    counts = count_outputs(nb)
    assert counts["figures"] >= 3 and counts["audio"] >= 3 and counts["widgets"] >= 2, counts
    text = output_text(nb)
    assert "PASS" in text
    assert "a short run (CI)" in text
    assert re.search(r"^15 training steps on \d+ CPU thread\(s\): about [0-9.]+ min on this machine", text, re.M), text
    assert re.search(r"^15 steps on \d+ made-up songs in [0-9.]+ min \(estimated [0-9.]+\)", text, flags=re.M), text
    figures = dict(re.findall(r"^(tiny U-Net \(ours\)|REPET-SIM|pretrained U-Net)\s+vocals SDR\s+([-0-9.]+) dB",
                              text, flags=re.M))
    assert set(figures) == {"tiny U-Net (ours)", "REPET-SIM", "pretrained U-Net"}, text
    assert float(figures["pretrained U-Net"]) > float(figures["REPET-SIM"])  # real training data shows
    # songs made differently (other voices, tempi outside training's): five scored, one computed sentence
    assert len(re.findall(r"^(harmony singers|six instruments), \d+ BPM .* gap [-+][0-9.]+ dB$", text, re.M)) == 5
    assert re.search(r"^songs made differently: the tiny U-Net is [-+][0-9.]+ dB from REPET-SIM on average "
                     r"\([-+][0-9.]+ dB with other voices, [-+][0-9.]+ dB with other instruments and tempi; "
                     r"[-+][0-9.]+ dB on songs made like its training songs\)$", text, re.M), text
    assert "same vocals: True" in text
    assert (class_run.folder / "my_tiny_unet.safetensors").is_file()
