"""kit.ui lesson widgets, built on real audio: every control changes what is shown or played."""

import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kit  # noqa: E402
from kit import ui  # noqa: E402
from kit.errors import OptionError  # noqa: E402

SR = 44100


@pytest.fixture(scope="module")
def multitrack():
    mix, stems = kit.examples.make_multitrack(1.5, SR)
    return mix, stems


def _wav(player) -> np.ndarray:
    """Decode what a player would play (16-bit WAV bytes) back to (channels, samples)."""
    import io

    import soundfile as sf

    assert player.format == "wav"
    data, sr = sf.read(io.BytesIO(player.value), dtype="float32", always_2d=True)
    assert sr == SR
    return data.T


# --- stem mixer ---------------------------------------------------------------------


def test_mixer_renders_what_make_backing_track_makes(multitrack):
    mix, stems = multitrack
    seen = []
    mixer = ui.stem_mixer(stems, SR, title="Mixer", key_shift=False)
    assert isinstance(mixer, widgets.VBox) and isinstance(mixer, ui.StemMixer)
    mixer.observe_mix(lambda m: seen.append(m.describe()))
    assert mixer.sr == SR and mixer.describe() == "full mix"
    assert np.allclose(mixer.render(), mix, atol=1e-6)
    assert mixer.figure.value[:4] == b"\x89PNG"

    before = mixer.player.value
    mixer._on["vocals"].value = False
    mixer._gain["drums"].value = -3.0
    s = mixer.settings
    assert s == {"gains_db": {"drums": -3.0, "bass": 0.0, "other": 0.0}, "dropped": ["vocals"],
                 "semitones": 0.0, "limit": False}
    expected = kit.make_backing_track(stems, drop=s["dropped"], gains_db=s["gains_db"])
    assert np.array_equal(mixer.render(), expected)
    assert mixer.player.value != before
    # the player holds the rendered mix (to 16-bit rounding)
    assert np.allclose(_wav(mixer.player), np.clip(expected, -1, 1), atol=1 / 16000)
    assert mixer.describe() == "no vocals, drums -3 dB"
    assert seen == ["no vocals", "no vocals, drums -3 dB"]
    assert "no vocals" in mixer._status.value


def test_mixer_solo_and_silence(multitrack):
    mix, stems = multitrack
    mixer = ui.stem_mixer(stems, SR, show_plots=False, key_shift=False)
    assert mixer.figure is None
    mixer._solo["bass"].value = True
    assert mixer.settings["dropped"] == ["drums", "other", "vocals"]
    assert np.allclose(mixer.render(), stems["bass"], atol=1e-7)
    assert mixer.describe() == "only bass"
    mixer._solo["vocals"].value = True
    assert np.allclose(mixer.render(), stems["bass"] + stems["vocals"], atol=1e-6)
    mixer._solo["bass"].value = mixer._solo["vocals"].value = False
    for name in stems:
        mixer._on[name].value = False
    assert mixer.describe() == "silence" and not np.any(mixer.render())


def test_mixer_clipping_note_and_limiter(multitrack):
    mix, stems = multitrack
    mixer = ui.stem_mixer(stems, SR, show_plots=False, key_shift=False)
    mixer._gain["drums"].value = 12.0
    assert np.max(np.abs(mixer.render())) > 1.0
    assert "above full scale" in mixer._note.value and "limiter" in mixer._note.value
    mixer._limit.value = True
    limited = mixer.render()
    assert np.max(np.abs(limited)) < 1.0 and mixer._note.value == ""
    assert mixer.describe() == "full mix, drums +12 dB, limited"
    s = mixer.settings
    assert np.allclose(limited, kit.make_backing_track(stems, keep=list(s["gains_db"]), gains_db=s["gains_db"],
                                                       sr=SR, limit=True), atol=1e-6)


def test_mixer_key_shift_is_cached_and_minus_keeps_the_rest(multitrack):
    mix, stems = multitrack
    short = {k: v[:, : SR // 2] for k, v in stems.items() if k in ("vocals", "bass")}
    residue = 0.01 * np.ones_like(short["bass"])  # something the "model" put in no stem
    song = short["vocals"] + short["bass"] + residue
    mixer = ui.stem_mixer(short, SR, mixture=song, show_plots=False)
    mixer._on["vocals"].value = False
    assert np.allclose(mixer.render(), short["bass"] + residue, atol=1e-6)  # method "minus"
    before = mixer.player.value
    mixer._semitones.value = -2.0
    assert mixer.describe() == "no vocals, -2 st"
    assert mixer.player.value != before
    shifted = mixer._shifted[-2.0]
    expected = kit.make_backing_track(shifted[0], drop=["vocals"], method="minus", mixture=shifted[1])
    assert np.array_equal(mixer.render(), expected)
    assert np.allclose(shifted[0]["bass"], kit.shift_pitch(short["bass"], SR, semitones=-2.0), atol=1e-6)
    # a gain change reuses the shifted stems instead of shifting again
    mixer._shifted[-2.0][0]["bass"] = shifted[0]["bass"] * 0  # a marker: recomputation would undo it
    mixer._gain["bass"].value = -6.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kit.KitWarning)  # "keeps only 0% of the song": the marker, on purpose
        again = kit.make_backing_track(shifted[0], drop=["vocals"], gains_db={"bass": -6.0}, method="minus",
                                       mixture=shifted[1])
    assert np.array_equal(mixer.render(), again)


def test_mixer_bad_input(multitrack):
    mix, stems = multitrack
    with pytest.raises(OptionError, match="needs stems"):
        ui.stem_mixer({}, SR)
    with pytest.raises(OptionError, match="differ in shape"):
        ui.stem_mixer({"a": stems["bass"], "b": stems["bass"][:, :100]}, SR)
