"""Lesson 11 (lead and backing vocals) runs top to bottom with small sizes.

It must show every cue, pass its exercise, and find that dropping only the lead
(with the real pretrained unet) keeps the harmonies that `--drop vocals` loses.
"""

import re

from notebook_runner import count_outputs, output_text


def test_lesson_11_splits_lead_and_backing_vocals(class_run):
    nb = class_run.run("11_lead_and_backing_vocals")
    counts = count_outputs(nb)
    assert counts["figures"] >= 3 and counts["audio"] >= 9 and counts["widgets"] >= 1, counts
    text = output_text(nb)
    assert "PASS: your centre weight matches kit's" in text
    auto = re.search(r"auto  wide  : lead +([-0-9.]+) dB, backing +([-0-9.]+) dB", text)
    assert float(auto.group(1)) > 13 and float(auto.group(2)) > 9
    keep = float(re.search(r"--drop lead_vocals *: +([-0-9.]+) dB", text).group(1))
    plain = float(re.search(r"--drop vocals *: +([-0-9.]+) dB", text).group(1))
    assert keep > plain + 4
    assert "doubled lead: lead" in text
