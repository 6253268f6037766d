"""Notebook 09 (the karaoke maker) runs top to bottom as a lesson, small, and ends with the app."""

from notebook_runner import count_outputs, output_text, run_notebook


def test_notebook_09_runs_as_a_lesson_and_shows_the_app(tmp_path):
    nb = run_notebook("09_karaoke_maker", {"clip_s": 3.0, "preview_s": 10.0}, tmp_path=tmp_path, timeout_s=300)
    counts = count_outputs(nb)
    assert counts["figures"] >= 1 and counts["audio"] >= 2 and counts["widgets"] >= 2, counts
    text = output_text(nb)
    assert "using CPU" in text or "using CUDA" in text or "using MPS" in text
    assert "✓ unet - vocals, accompaniment - ready offline" in text
    assert "stems: vocals, accompaniment" in text
    assert "PASS" in text
    # the last cell is the app, built by one call
    last = nb.cells[-1]
    assert "karaoke_maker(" in last.source
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in last.outputs)
    # the limiter is on in the lesson, as in the app (issue 17): a first backing track must not clip
    step3 = next(c.source for c in nb.cells if "make_backing_track(" in c.source)
    assert "limit=True" in step3
