"""A download is made from what the page showed at the click, not from what the kernel has heard so far.

The page tells the kernel of a mixer gain 400 ms later, and ipywidgets holds a
change back while the kernel is busy with the previous one (a key shift takes
seconds), so a click can reach the kernel before the change it follows. The
browser found it: vocals off, key +2, download 2.5 s later -> the file had the
vocals. A click now carries the page's values of the widgets the file is made from.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

import kit
from kit.ui import karaoke_maker, stem_mixer
from kit.ui.download import PageValues

SR = 22050


def _song():
    return kit.examples.make_multitrack(6.0, SR, seed=3)


def test_a_click_downloads_the_mix_the_page_showed_and_leaves_the_kernel_to_the_page(tmp_path):
    mix, _ = _song()
    app = karaoke_maker(song=(mix, SR), model="center", device="cpu", workdir=tmp_path)
    app.whole_button.click()
    web, key, fmt = app.mixer.web, app.mixer._semitones, app.format
    assert app.mixer.settings["dropped"] == ["vocals"] and key.value == 0 and fmt.value == "mp3"
    # the page: vocals back on, key +2, WAV; the kernel has heard none of it yet
    page = {web.model_id: {"on": {**web.on, "vocals": True}, "solo": web.solo, "gains_db": web.gains_db},
            key.model_id: {"value": 2}, fmt.model_id: {"value": "wav"}}
    assert [i for i, _ in app.download_button.reads] == [fmt.model_id, web.model_id, key.model_id,
                                                         app.mixer._limit.model_id]
    name, data = app.download_button.click(page)
    assert name.endswith("(full mix, +2 st).wav"), name
    y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == SR
    # the kernel's own state is the page's to change: untouched by the click
    assert app.mixer.settings["dropped"] == ["vocals"] and key.value == 0 and fmt.value == "mp3"
    # ...and when the page's messages arrive, the kernel's mix is the file's (16-bit WAV)
    app.mixer.set_stem("vocals", on=True)
    app.mixer.set_key(2)
    expected = app.mixer.render()
    assert np.max(np.abs(y.T - np.clip(expected, -1, 1))) < 2e-4
    # the backing track in +2 differs from it by the vocals: the click did not make that
    app.mixer.set_stem("vocals", on=False)
    assert np.sqrt(np.mean((app.mixer.render() - expected) ** 2)) > 0.01


def test_a_script_click_uses_the_kernel_values(tmp_path):
    mix, _ = _song()
    app = karaoke_maker(song=(mix, SR), model="center", device="cpu", workdir=tmp_path)
    app.whole_button.click()
    app.mixer.set_key(-1)
    name, data = app.download_button.click()
    assert name.endswith("(no vocals, -1 st).mp3"), name
    assert data[:3] == b"ID3" or data[0] == 0xFF


def test_a_kernel_player_mixer_reads_its_own_switches_from_the_page():
    _, stems = _song()
    mixer = stem_mixer(stems, SR, show_plots=False, player="kernel")
    controls = dict((w.model_id, keys) for w, keys in mixer.page_controls())
    on = mixer._on["drums"]
    assert controls[on.model_id] == ["value"]
    seen = mixer.settings_on_page(PageValues({on.model_id: {"value": False}}))
    assert "drums" in seen["dropped"] and "drums" not in mixer.settings["dropped"]
    assert mixer.describe(seen).startswith("no drums")
