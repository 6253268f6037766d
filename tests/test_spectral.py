"""STFT helpers: shapes, physical units, and agreement with librosa."""

import librosa
import numpy as np
import pytest

import kit
from kit.errors import OptionError
from kit.spectral import (
    bin_to_hz,
    compute_istft,
    compute_magphase,
    compute_stft,
    frames_to_seconds,
    get_frequencies,
    get_times,
    hz_to_bin,
    resolve_frame_sizes,
    seconds_to_frames,
)


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=2.0)


def test_stft_shape_is_channels_freqs_frames(song):
    y, sr = song
    spec = compute_stft(y)
    assert spec.shape == (2, 1025, 1 + y.shape[1] // 512)
    assert spec.dtype == np.complex64
    assert compute_stft(y[0]).shape == (1, 1025, spec.shape[-1])  # 1-D is one channel


def test_stft_matches_librosa_channel_by_channel(song):
    y, _ = song
    spec = compute_stft(y, n_fft=1024, hop_length=256)
    for c in range(2):
        np.testing.assert_array_equal(spec[c], librosa.stft(y[c], n_fft=1024, hop_length=256))


def test_sizes_in_seconds_give_the_same_frames_as_samples(song):
    y, sr = song
    assert resolve_frame_sizes(sr, window_s=2048 / sr, hop_s=512 / sr) == (2048, 512)
    np.testing.assert_array_equal(
        compute_stft(y, sr, window_s=0.04644, hop_s=0.01161), compute_stft(y, n_fft=2048, hop_length=512)
    )


def test_giving_a_size_twice_is_refused():
    with pytest.raises(OptionError, match="not both"):
        resolve_frame_sizes(44100, n_fft=2048, window_s=0.05)
    with pytest.raises(OptionError, match="sr="):
        resolve_frame_sizes(None, window_s=0.05)
    with pytest.raises(OptionError, match="hop_length"):
        resolve_frame_sizes(44100, n_fft=512, hop_length=1024)


def test_istft_inverts_stft(song):
    y, _ = song
    back = compute_istft(compute_stft(y), length=y.shape[1])
    assert back.shape == y.shape and back.dtype == np.float32
    assert np.max(np.abs(back - y)) < 1e-5


def test_istft_refuses_a_mismatched_n_fft(song):
    y, _ = song
    with pytest.raises(OptionError, match="n_fft"):
        compute_istft(compute_stft(y, n_fft=1024), n_fft=2048)


def test_magphase_recombines(song):
    y, _ = song
    spec = compute_stft(y)
    mag, phase = compute_magphase(spec)
    assert mag.dtype == np.float32 and np.all(mag >= 0)
    np.testing.assert_allclose(mag * phase, spec, atol=1e-5)
    np.testing.assert_allclose(np.abs(phase[mag > 0]), 1.0, atol=1e-5)


def test_unit_conversions_agree_with_librosa():
    sr, hop = 22050, 512
    assert seconds_to_frames(2.0, sr=sr, hop_length=hop) == int(librosa.time_to_frames(2.0, sr=sr, hop_length=hop))
    assert frames_to_seconds(86, sr=sr, hop_length=hop) == pytest.approx(86 * 512 / 22050)
    assert hz_to_bin(bin_to_hz(100, sr=44100, n_fft=2048), sr=44100, n_fft=2048) == 100
    np.testing.assert_allclose(get_frequencies(sr=sr, n_fft=2048), librosa.fft_frequencies(sr=sr, n_fft=2048))
    np.testing.assert_allclose(get_times(10, sr=sr, hop_length=hop), librosa.frames_to_time(np.arange(10), sr=sr))
    assert hz_to_bin(1e9, sr=44100, n_fft=2048) == 1024  # clipped to Nyquist


@pytest.mark.parametrize("n_fft,hop,chunk", [(2048, 512, 7), (1024, 300, 64), (4096, 1024, 3)])
def test_chunked_magnitude_and_masked_waveform_equal_the_whole_signal_versions(song, n_fft, hop, chunk):
    from kit.spectral import compute_masked_waveform, compute_stft_magnitude

    y, _ = song
    spec = compute_stft(y, n_fft=n_fft, hop_length=hop)
    np.testing.assert_array_equal(compute_stft_magnitude(y, n_fft=n_fft, hop_length=hop, chunk_frames=chunk),
                                  np.abs(spec))
    mask = np.random.default_rng(0).random(spec.shape[1:]).astype(np.float32)
    whole = compute_istft(spec * mask, n_fft=n_fft, hop_length=hop, length=y.shape[1])
    chunked = compute_masked_waveform(y, mask, n_fft=n_fft, hop_length=hop, chunk_frames=chunk)
    assert chunked.shape == y.shape
    assert np.max(np.abs(chunked - whole)) < 1e-6
    with pytest.raises(OptionError, match="Mask shape"):
        compute_masked_waveform(y, mask[:, :-1], n_fft=n_fft, hop_length=hop)
