"""kit.ui: the widget progress bar follows a real separation."""

import kit
from kit.ui import make_progress_bar


def test_widget_progress_bar_follows_a_separation():
    bar, progress = make_progress_bar("Separating")
    seen = []

    def spy(fraction):
        seen.append(fraction)
        progress(fraction)

    y, sr = kit.examples.load_song(duration_s=3.0)
    kit.separate(y, sr, model="hpss", progress=spy, cache=False)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert bar.value == 100.0 and bar.bar_style == "success"
    progress(-3)
    assert bar.value == 0.0
