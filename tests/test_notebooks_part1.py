"""Lessons 01-04 run top to bottom, as committed, with small sizes, and show what they promise.

Each lesson is executed in a fresh kernel, in order, in the class folder (see
notebook_runner.ClassRun); errors fail the test. Beyond running, each must show at least one figure, one audio player
and one live widget, and its exercise check must print PASS for the reference
answer that is left in place. The numbers a lesson prints are checked where the
lesson's claim depends on them (exact inverse STFT, oracle above the mixture,
REPET-SIM masks identical to librosa's recipe).
"""

from __future__ import annotations

import re

import pytest
from notebook_runner import count_outputs, output_text

LESSONS = ["01_sound_and_the_stft", "02_masks_and_oracles", "03_centre_and_hpss", "04_repet_sim"]


def _number(pattern: str, text: str) -> float:
    """The number printed where ``pattern`` (a regex with one group) matches first."""
    found = re.search(pattern, text)
    assert found, f"the lesson did not print anything matching {pattern!r}"
    return float(found.group(1))


NUM = r"([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_and_shows_figure_audio_widget_and_passing_exercise(name, class_run):
    nb = class_run.run(name)
    counts = count_outputs(nb)
    assert counts["figures"] >= 1, f"{name}: no figure shown ({counts})"
    assert counts["audio"] >= 1, f"{name}: no audio player shown ({counts})"
    assert counts["widgets"] >= 1, f"{name}: no live widget shown ({counts})"
    text = output_text(nb)
    assert "PASS" in text and "NOT YET" not in text, f"{name}: the exercise check did not pass:\n{text[-2000:]}"
    if name == "01_sound_and_the_stft":
        err = _number(r"largest difference after STFT -> inverse STFT: " + NUM, text)
        assert err < 1e-5, f"the inverse STFT should give the signal back, largest error {err}"
    if name == "02_masks_and_oracles":
        ideal = [_number(label + r"\s+vocals SDR\s+" + NUM, text)
                 for label in (r"ideal binary \(IBM\)", r"ideal ratio \(IRM\)", "Wiener")]
        mix_sdr = _number(r"the mix itself\s+vocals SDR\s+" + NUM, text)
        assert min(ideal) > mix_sdr + 10, f"ideal masks {ideal} should beat the untouched mix ({mix_sdr}) by far"
        assert "oracle_wiener" in text and "mixture" in text  # the scoreboard is printed
    if name == "03_centre_and_hpss":
        assert "Centre-channel cancellation needs a stereo mix" in text  # the mono failure is shown
        wide = _number(r"wide \(vocals, pad, guitar\)\s+vocals SDR\s+" + NUM, text)
        centred = _number(r"centred rhythm \(vocals, drums, bass\)\s+vocals SDR\s+" + NUM, text)
        assert wide > centred + 5, f"cancellation should work on the wide mix ({wide}) and not the centred ({centred})"
    if name == "04_repet_sim":
        background = _number(r"largest difference from the recipe: background " + NUM, text)
        foreground = _number(r"largest difference from the recipe: .*foreground " + NUM, text)
        assert background == 0.0 and foreground == 0.0, "kit's masks should equal the librosa recipe's"
        # the growth is measured (imports not counted): step 1, all pairs, grows faster than the song
        power = _number(r"step 1 peak memory\s*: x[0-9.]+ for x2\.0 the length \(L\^" + NUM + r"\)", text)
        assert 1.1 < power <= 2.05, f"step 1 should grow faster than the song, at most as its square: L^{power}"
        assert re.search(r"recipe time\s*: x[0-9.]+ for x2\.0 the length", text)
        assert "its distance matrix alone is 1,335 MB (8 bytes x frames², computed, not measured)" in text
        assert "about 631 MB" not in text and "2.3 GB" not in text
