"""The karaoke maker's "keep the backing vocals" switch, on a song with true lead and backing stems.

``kit.examples.make_harmony_song`` (harmonies panned wide) separated by the real
``unet``: with the switch on, the vocal stem is split (``kit.split_vocals``) and only
the lead is taken out, so the downloaded backing track keeps the harmonies. It is
scored against what it should be, the mixture minus the true lead, and must beat the
plain backing track (all the vocals out) by several dB.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

import kit
from kit.evaluate import evaluate
from kit.ui import karaoke_maker

SR = 44100


def _download(app) -> tuple[str, np.ndarray]:
    name, data = app.download_button.click()
    y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == SR
    return name, y.T


def _sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    return evaluate({"b": reference}, {"b": estimate}, SR)["b"]["sdr_db"]


@pytest.fixture(scope="module")
def wide_song():
    return kit.examples.make_harmony_song(8.0, SR, harmony="wide")


def test_keep_backing_vocals_keeps_the_harmonies_in_the_download(wide_song, tmp_path, monkeypatch):
    mix, true = wide_song
    reference = mix - true["lead_vocals"]  # the backing track a choir singer wants
    app = karaoke_maker(song=(mix, SR), model="unet", device="cpu", workdir=tmp_path)
    assert app.keep_backing.layout.display == "none"  # nothing to split yet
    app.format.value = "wav"
    app.whole_button.click()
    assert app.error.layout.display == "none", app.error.value
    assert app.keep_backing.layout.display != "none" and not app.keep_backing.value
    assert app.mixer.stems == ["vocals", "accompaniment"] and app.mixer.describe() == "no vocals"
    name, plain = _download(app)
    assert name == "Song (no vocals).wav"

    app.mixer.set_stem("accompaniment", gain_db=-1.0)  # carried over to the new rows
    app.keep_backing.value = True
    assert app.error.layout.display == "none", app.error.value
    assert app.mixer.stems == ["lead_vocals", "backing_vocals", "accompaniment"]
    assert app.mixer.web.on == {"lead_vocals": False, "backing_vocals": True, "accompaniment": True}
    assert app.mixer.describe() == "no lead_vocals, accompaniment -1 dB"
    app.mixer.set_stem("accompaniment", gain_db=0.0)
    name, keep = _download(app)
    assert name == "Song (no lead_vocals).wav"
    keep_db, plain_db = _sdr(reference, keep), _sdr(reference, plain)
    print(f"against mixture - true lead: keep backing {keep_db:.1f} dB, vocals off {plain_db:.1f} dB")
    assert keep_db - plain_db >= 4.0, (keep_db, plain_db)
    assert "vocals" in app.stems  # the singer's reference (section 7) is still the whole vocal

    # off again: the plain rows; on again: the split is not made twice
    app.keep_backing.value = False
    assert app.mixer.stems == ["vocals", "accompaniment"] and app.mixer.describe() == "no vocals"
    np.testing.assert_allclose(_download(app)[1], plain, atol=1e-4)
    monkeypatch.setattr("kit.vocal_split.split_vocals", lambda *a, **k: pytest.fail("split again"))
    app.keep_backing.value = True
    assert app.mixer.stems == ["lead_vocals", "backing_vocals", "accompaniment"]

    # another visitor (a new kernel) with the same song and model: the split comes from the stem cache
    other = karaoke_maker(song=(mix, SR), model="unet", device="cpu", workdir=tmp_path / "other")
    other.format.value = "wav"
    other.keep_backing.value = True  # switched on before separating: the mixer comes split
    other.whole_button.click()
    assert other.error.layout.display == "none", other.error.value
    assert other.mixer.stems == ["lead_vocals", "backing_vocals", "accompaniment"]
    np.testing.assert_allclose(_download(other)[1], _download(app)[1], atol=1e-4)


def test_a_failed_split_is_said_in_a_sentence_and_the_switch_goes_back(tmp_path, monkeypatch):
    y, sr = kit.examples.load_song(duration_s=4.0)
    app = karaoke_maker(song=(y, sr), model="center", device="cpu", cache=False, workdir=tmp_path)
    app.whole_button.click()

    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("kit.vocal_split.split_vocals", fail)
    app.keep_backing.value = True
    assert "Out of memory while splitting the vocals" in app.error.value
    assert not app.keep_backing.value and app.mixer.stems == ["vocals", "accompaniment"]
    assert not app.keep_backing.disabled and not app.download_button.disabled


def test_a_model_without_vocals_offers_no_switch(tmp_path):
    y, sr = kit.examples.load_song(duration_s=4.0)
    app = karaoke_maker(song=(y, sr), model="hpss", device="cpu", workdir=tmp_path)
    app.whole_button.click()
    assert app.error.layout.display == "none", app.error.value
    assert "vocals" not in app.mixer.stems and app.keep_backing.layout.display == "none"
