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
    full = kit.make_backing_track(stems, keep=list(stems), sr=SR, limit=True)  # the limiter starts on
    assert np.allclose(mixer.render(), full, atol=1e-6)
    assert mixer.figure.value[:4] == b"\x89PNG"

    before = mixer.player.value
    mixer._on["vocals"].value = False
    mixer._gain["drums"].value = -3.0
    s = mixer.settings
    assert s == {"gains_db": {"drums": -3.0, "bass": 0.0, "other": 0.0}, "dropped": ["vocals"],
                 "semitones": 0.0, "limit": True}  # the limiter starts on
    expected = kit.make_backing_track(stems, drop=s["dropped"], gains_db=s["gains_db"])
    assert np.max(np.abs(expected)) < 0.79  # 2 dB under full scale: the limiter leaves it alone
    assert np.array_equal(mixer.render(), expected)
    assert mixer.player.value != before
    # the player holds the rendered mix (to 16-bit rounding)
    assert np.allclose(_wav(mixer.player), np.clip(expected, -1, 1), atol=1 / 16000)
    assert mixer.describe() == "no vocals, drums -3 dB"
    assert seen == ["no vocals", "no vocals, drums -3 dB"]
    assert "no vocals" in mixer._status.value


def test_mixer_set_stem_moves_the_controls(multitrack):
    _, stems = multitrack
    mixer = ui.stem_mixer(stems, SR, show_plots=False, key_shift=False)
    mixer.set_stem("vocals", on=False)
    mixer.set_stem("drums", gain_db=-6.0)
    assert mixer.describe() == "no vocals, drums -6 dB" and not mixer._on["vocals"].value
    mixer.set_stem("bass", solo=True)
    assert mixer.describe() == "only bass"
    with pytest.raises(kit.KitError, match="No stem 'vocal'"):
        mixer.set_stem("vocal", on=False)


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
    assert mixer._on["vocals"].description == "off" and mixer._solo["bass"].button_style == ""
    mixer._solo["drums"].value = True
    assert mixer._solo["drums"].button_style == "warning" and mixer.describe() == "only drums"


def test_mixer_clipping_note_and_limiter(multitrack):
    mix, stems = multitrack
    mixer = ui.stem_mixer(stems, SR, show_plots=False, key_shift=False, limit=False)
    assert "limiter off" in mixer._limit.description and "limiter off" in mixer._status.value
    mixer._gain["drums"].value = 12.0
    assert np.max(np.abs(mixer.render())) > 1.0
    assert "above full scale" in mixer._note.value and "limiter" in mixer._note.value
    mixer._limit.value = True
    limited = mixer.render()
    assert np.max(np.abs(limited)) < 1.0 and mixer._note.value == ""
    assert "limiter on" in mixer._limit.description and "limiter on" in mixer._status.value
    assert mixer.describe() == "full mix, drums +12 dB"  # a file name records the recipe, not the limiter
    s = mixer.settings
    assert np.allclose(limited, kit.make_backing_track(stems, keep=list(s["gains_db"]), gains_db=s["gains_db"],
                                                       sr=SR, limit=True), atol=1e-6)


def test_mixer_key_shift_moves_each_kept_track_and_minus_keeps_the_rest(multitrack):
    mix, stems = multitrack
    short = {k: v[:, : SR // 2] for k, v in stems.items() if k in ("vocals", "bass")}
    residue = 0.01 * np.ones_like(short["bass"])  # something the "model" put in no stem
    song = short["vocals"] + short["bass"] + residue
    mixer = ui.stem_mixer(short, SR, mixture=song, show_plots=False, limit=False)
    mixer._on["vocals"].value = False
    assert np.allclose(mixer.render(), short["bass"] + residue, atol=1e-6)  # method "minus"
    before = mixer.player.value
    mixer.set_key(-2.0)
    assert mixer.describe() == "no vocals, -2 st"
    assert mixer.player.value != before
    # the kept stem and the residue, each shifted on its own and added: nothing is subtracted after a
    # shift (the song and the vocal shifted apart and subtracted would bring the vocal back)
    rest = (song - np.sum(list(short.values()), axis=0, dtype=np.float64)).astype(np.float32)  # ~ residue
    shifted = {k: kit.shift_pitch(v, SR, semitones=-2.0) for k, v in (("bass", short["bass"]), ("rest", rest))}
    np.testing.assert_allclose(mixer.render(), shifted["bass"] + shifted["rest"], atol=1e-6)
    tracks = mixer._shifted[1]
    # switching the limiter reuses the shifted mix instead of shifting again
    marker = mixer._unlimited[1]
    marker *= 0.5  # recomputation would undo it
    mixer._limit.value = True
    assert np.array_equal(mixer.render(), marker)  # (quiet: the limiter leaves it alone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kit.KitWarning)
        mixer._gain["bass"].value = -6.0  # a new mix: a sum of the same shifted tracks, no new shift
    assert mixer._shifted[1] is tracks
    again = 10 ** (-6 / 20) * shifted["bass"] + shifted["rest"]
    np.testing.assert_allclose(mixer._unlimited[1], again, atol=1e-5)  # float32 sums


def test_a_key_change_shows_its_progress_while_the_tracks_shift():
    # one Rubber Band call per track, all at once: a bar counting finished tracks alone sat at 0 for
    # the whole wait (27-30 s on a 4-minute song) and then jumped; it moves by the time expected now
    _, stems = kit.examples.make_multitrack(40.0, SR, seed=5)
    mixer = ui.stem_mixer({k: stems[k] for k in ("vocals", "bass")}, SR, show_plots=False, limit=False)
    seen = []

    def on_busy(change):
        for bar in change["new"]:
            seen.append(bar.value)
            bar.observe(lambda c: seen.append(c["new"]), names="value")

    mixer._busy.observe(on_busy, names="children")
    mixer.set_key(2.0)
    assert seen and seen[-1] == 100.0, seen
    assert len({v for v in seen if 0 < v < 100}) >= 3, seen  # moving, not 0 -> 50 -> 100
    assert mixer._busy.children == ()  # gone when done


def test_mixer_bad_input(multitrack):
    mix, stems = multitrack
    with pytest.raises(OptionError, match="needs stems"):
        ui.stem_mixer({}, SR)
    with pytest.raises(OptionError, match="differ in shape"):
        ui.stem_mixer({"a": stems["bass"], "b": stems["bass"][:, :100]}, SR)


# --- spectrogram explorer ----------------------------------------------------------------


@pytest.fixture(scope="module")
def song_clip():
    return kit.examples.load_song(duration_s=3.0)


def test_explorer_every_control_redraws_and_replays(song_clip):
    y, sr = song_clip
    explorer = ui.spectrogram_explorer(y, sr, title="Song")
    assert isinstance(explorer, widgets.VBox)
    assert explorer.resolution.value == "<b>window 46 ms (2048 samples), frames every 11.6 ms, bins 21.5 Hz apart</b>"
    assert np.allclose(_wav(explorer.player), np.clip(y, -1, 1), atol=1 / 16000)
    plays = []
    explorer.player.observe(lambda c: plays.append(len(c["new"])), names="value")
    figures = {explorer.figure.value}
    for name, value in [("n_fft", 512), ("hop", 8), ("window", "boxcar"), ("y_axis", "log")]:
        explorer.controls[name].value = value
        assert explorer.figure.value not in figures, name  # a new picture
        figures.add(explorer.figure.value)
    assert explorer.resolution.value == "<b>window 12 ms (512 samples), frames every 1.5 ms, bins 86.1 Hz apart</b>"
    # each change sends the sound again (emptied, then refilled), with autoplay on
    assert plays.count(0) == 4 and len(plays) == 8 and explorer.player.autoplay


def test_explorer_keeps_long_audio_short(song_clip):
    y, sr = song_clip
    explorer = ui.spectrogram_explorer(y, sr, max_duration_s=1.0)
    assert _wav(explorer.player).shape == (2, sr)


def test_resolution_words():
    assert ui.describe_resolution(22050, n_fft=1024, hop_length=256) == \
        "window 46 ms (1024 samples), frames every 11.6 ms, bins 21.5 Hz apart"


# --- mask playground -----------------------------------------------------------------------


def test_mask_playground_every_control_changes_mask_sound_and_score(multitrack):
    from kit.evaluate import compute_sdr

    mix, stems = multitrack
    playground = ui.mask_playground(mix, stems, SR, title="Masks")
    assert isinstance(playground, widgets.VBox)
    assert playground.controls["stem"].value == "vocals"
    # the player holds the ratio-mask estimate, and the score is its SDR against the true vocals
    est = playground.result
    assert np.allclose(_wav(playground.player), np.clip(est, -1, 1), atol=1 / 16000)
    sdr = compute_sdr(stems["vocals"], est)
    assert f"{sdr:+.1f} dB" in playground.score.value and sdr > 10.0
    assert f"{compute_sdr(stems['vocals'], mix):+.1f} dB" in playground.score.value  # the mixture, for scale
    assert playground.controls["threshold_db"].layout.display == "none"

    for name, value in [("exponent", 3.0), ("kind", "binary"), ("threshold_db", 6.0), ("kind", "wiener"),
                        ("stem", "bass")]:
        before = bytes(playground.figure.value), bytes(playground.player.value), bytes(playground.truth_player.value)
        playground.controls[name].value = value
        assert bytes(playground.figure.value) != before[0], name  # a new picture
        assert bytes(playground.player.value) != before[1], name  # a new sound
        assert (bytes(playground.truth_player.value) != before[2]) == (name == "stem")
        if name == "threshold_db":  # what plays is kit's binary mask applied to the mixture
            spec = kit.spectral.compute_stft(mix)
            target = kit.spectral.compute_stft(stems["vocals"])
            rest = kit.spectral.compute_stft(stems["drums"] + stems["bass"] + stems["other"])
            mask = kit.masks.compute_binary_mask(target, rest, threshold_db=6.0)
            expected = kit.spectral.compute_istft(kit.masks.apply_mask(spec, mask), length=mix.shape[1])
            assert np.allclose(playground.result, expected, atol=1e-5)
            assert playground.controls["exponent"].layout.display == "none"
    assert "true bass" in playground.score.value


def test_mask_playground_bad_input(multitrack):
    mix, stems = multitrack
    with pytest.raises(OptionError, match="differ in shape"):
        ui.mask_playground(mix[:, :1000], stems, SR)
    with pytest.raises(OptionError, match="true stems"):
        ui.mask_playground(mix, {}, SR)


# --- A/B player ----------------------------------------------------------------------------


def test_ab_player_levels_and_loudness_matching(multitrack):
    from kit.loudness import measure_loudness

    mix, stems = multitrack
    versions = {"mixture": mix, "vocals": stems["vocals"], "quiet drums": 0.1 * stems["drums"],
                "blip": mix[:, :1000]}
    ab = ui.ab_player(versions, SR, title="Compare")
    assert isinstance(ab, widgets.VBox) and list(ab.players) == list(versions)
    for name in ("mixture", "vocals", "quiet drums"):
        assert f"{measure_loudness(versions[name], SR):.1f} LUFS" in ab.levels[name].value
        assert np.allclose(_wav(ab.players[name]), np.clip(versions[name], -1, 1), atol=1 / 16000)
    assert "too short for LUFS" in ab.levels["blip"].value
    quietest = measure_loudness(versions["quiet drums"], SR)

    before = {n: bytes(p.value) for n, p in ab.players.items()}
    ab.controls["match"].value = True
    for name in ("mixture", "vocals"):
        assert bytes(ab.players[name].value) != before[name]  # new, quieter sound
        assert f"{quietest:.1f} LUFS" in ab.levels[name].value
        played = _wav(ab.players[name])
        assert measure_loudness(played, SR) == pytest.approx(quietest, abs=0.1)
    assert bytes(ab.players["blip"].value) == before["blip"]  # too short to measure: left alone
    ab.controls["match"].value = False
    assert bytes(ab.players["mixture"].value) == before["mixture"]


def test_ab_player_bad_input():
    with pytest.raises(OptionError, match="versions to compare"):
        ui.ab_player({}, SR)


def test_long_audio_goes_to_the_player_as_mp3(tmp_path):
    from kit.ui.player import PLAYER_WAV_MAX_S, encode_for_player

    sr = SR
    t = np.arange(int((PLAYER_WAV_MAX_S + 1) * sr)) / sr
    y = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    data, fmt = encode_for_player(y, sr)
    wav_bytes = y.size * 2
    assert fmt == "mp3" and len(data) < wav_bytes / 6  # a song stays a few MB over the websocket
    path = tmp_path / "player.mp3"
    path.write_bytes(data)
    decoded, _ = kit.load(path, sr=sr)
    assert abs(decoded.shape[1] - y.shape[1]) < 0.1 * sr  # the whole song, not a truncated one
    assert np.max(np.abs(decoded)) == pytest.approx(0.5, abs=0.05)  # level kept: not normalised
    short, fmt = encode_for_player(y[:, :sr], sr)
    assert fmt == "wav" and short[:4] == b"RIFF"
