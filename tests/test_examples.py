"""kit.examples: the bundled song and the synthetic multitrack with true stems."""

import numpy as np
import pytest

import kit
from kit.errors import OptionError


def test_bundled_song_is_a_real_stereo_clip():
    path = kit.examples.song_path()
    assert path.exists() and path.suffix == ".mp3"
    y, sr = kit.examples.load_song()
    assert sr == 44100 and y.shape[0] == 2
    assert 10.5 < y.shape[1] / sr < 11.2
    # a loud master decodes slightly above full scale (inter-sample overs): kept, not clipped
    assert 0.05 < np.abs(y).max() < 1.2
    assert not np.allclose(y[0], y[1])  # a real stereo mix, not dual mono


def test_multitrack_is_deterministic_and_sums_to_the_mix():
    mix, stems = kit.examples.make_multitrack(3.0, stems=kit.examples.STEMS_6)
    mix2, stems2 = kit.examples.make_multitrack(3.0, stems=kit.examples.STEMS_6)
    assert np.array_equal(mix, mix2)
    assert list(stems) == list(kit.examples.STEMS_6)
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-5)
    assert mix.shape == (2, 3 * 44100) and mix.dtype == np.float32
    assert np.abs(mix).max() <= 0.9 + 1e-6
    other_seed, _ = kit.examples.make_multitrack(3.0, seed=1)
    assert not np.allclose(other_seed, kit.examples.make_multitrack(3.0)[0])


def test_multitrack_panning_matches_a_real_mix():
    _, stems = kit.examples.make_multitrack(2.0, stems=kit.examples.STEMS_6)
    for centred in ("vocals", "bass"):
        np.testing.assert_allclose(stems[centred][0], stems[centred][1], atol=1e-6)
    for sided in ("other", "guitar", "piano"):
        left, right = np.sqrt(np.mean(stems[sided] ** 2, axis=1))
        assert abs(20 * np.log10(left / right)) > 3


def test_synthetic_voice_is_a_sung_pitch_with_vibrato():
    _, stems = kit.examples.make_multitrack(2.0, stems=("vocals",))
    v = stems["vocals"][0]
    sr = 44100
    # first note is A4 (440 Hz): its spectrum peaks near 440 Hz or a harmonic of it
    seg = v[int(0.2 * sr):int(0.5 * sr)] * np.hanning(int(0.3 * sr))
    spec = np.abs(np.fft.rfft(seg, 1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1 / sr)
    low = (freqs > 300) & (freqs < 600)
    f0 = freqs[low][np.argmax(spec[low])]
    assert abs(12 * np.log2(f0 / 440.0)) < 0.5


def test_bad_multitrack_options():
    with pytest.raises(OptionError, match="kazoo"):
        kit.examples.make_multitrack(1.0, stems=("kazoo",))
