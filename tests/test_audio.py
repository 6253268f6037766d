"""kit.audio: one decoder, sample-exact, aligned MP3, clear errors, atomic writes."""

import subprocess
import warnings

import numpy as np
import pytest
import soundfile as sf

import kit
from kit.errors import AudioContentError, InputFileError, KitWarning, OptionError
from kit.ffmpeg import ffmpeg_input, find_ffmpeg

SR = 44100


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((2, SR * 2)) * 0.2).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"),
                                         ("flac", "PCM_16"), ("flac", "PCM_24")])
def test_lossless_decoding_is_sample_exact(tmp_path, noise, fmt, subtype):
    path = tmp_path / f"x.{fmt}"
    sf.write(path, noise.T, SR, subtype=subtype)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    y, sr = kit.load(path)
    assert sr == SR and y.dtype == np.float32 and y.shape == (2, noise.shape[1])
    np.testing.assert_array_equal(y, ref.T)


def _xcorr_lag(a, b, max_lag=3000):
    """Lag (samples) by which `a` trails `b`."""
    seg = slice(max_lag, len(b) - max_lag)
    scores = [np.dot(a[seg.start + k:seg.stop + k], b[seg]) for k in range(-max_lag, max_lag + 1)]
    return int(np.argmax(scores)) - max_lag


def test_mp3_is_aligned_with_the_original_and_with_ffmpeg(tmp_path):
    t = np.arange(SR * 3) / SR
    rng = np.random.default_rng(2)
    # noisy bursts: a signal whose lag is unambiguous
    sig = (rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.3) * 0.3).astype(np.float32)
    src = tmp_path / "src.wav"
    sf.write(src, np.stack([sig, sig]).T, SR, subtype="FLOAT")
    mp3 = tmp_path / "song.mp3"
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-i", ffmpeg_input(src), "-c:a", "libmp3lame",
                    "-b:a", "192k", str(mp3)], check=True)
    y, sr = kit.load(mp3)
    assert sr == SR and y.shape == (2, sig.size)  # encoder delay and padding trimmed
    assert _xcorr_lag(y[0], sig) == 0
    raw = subprocess.run([find_ffmpeg(), "-v", "error", "-i", ffmpeg_input(mp3), "-f", "f32le", "-c:a", "pcm_f32le",
                          "pipe:1"], capture_output=True, check=True).stdout
    ref = np.frombuffer(raw, dtype="<f4").reshape(-1, 2).T
    assert _xcorr_lag(y[0], ref[0]) == 0
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_bundled_mp3_agrees_with_soundfile():
    path = kit.examples.song_path()
    y, sr = kit.load(path)
    ref, sr_ref = sf.read(path, dtype="float32", always_2d=True)
    assert sr == sr_ref
    n = min(y.shape[1], ref.shape[0])
    assert abs(y.shape[1] - ref.shape[0]) < sr * 0.05
    assert _xcorr_lag(y[0, :n], ref[:n, 0]) == 0


def test_start_and_duration_cut_at_exact_samples(tmp_path, noise):
    path = tmp_path / "x.flac"
    sf.write(path, noise.T, SR, subtype="PCM_24")
    full, _ = kit.load(path)
    part, _ = kit.load(path, start_s=0.5, duration_s=0.25)
    np.testing.assert_array_equal(part, full[:, SR // 2:SR // 2 + SR // 4])


def test_mono_and_resampling_are_explicit(tmp_path, noise):
    path = tmp_path / "x.wav"
    sf.write(path, noise.T, SR, subtype="FLOAT")
    y, sr = kit.load(path, mono=True, sr=22050)
    assert sr == 22050 and y.shape == (1, noise.shape[1] // 2)
    np.testing.assert_allclose(kit.load(path, mono=True)[0][0], noise.mean(axis=0), atol=1e-6)
    stereo = kit.audio.to_stereo(y)
    assert stereo.shape == (2, y.shape[1]) and np.array_equal(stereo[0], stereo[1])


def test_more_than_two_channels_are_downmixed_with_a_note(tmp_path):
    rng = np.random.default_rng(3)
    y6 = (rng.standard_normal((SR // 2, 6)) * 0.1).astype(np.float32)
    path = tmp_path / "surround.wav"
    sf.write(path, y6, SR, subtype="FLOAT")
    with pytest.warns(KitWarning, match="6 channels"):
        y, _ = kit.load(path)
    assert y.shape == (2, SR // 2)
    # the 5.1 downmix law (ITU-R BS.775, FFmpeg's default matrix): centre and each surround at -3 dB
    # into their side, the LFE left out; FL FR FC LFE SL SR is the WAV channel order
    fl, fr, fc, _lfe, sl, sr = y6.T.astype(np.float64)
    g = 1 / np.sqrt(2)
    np.testing.assert_allclose(y, [fl + g * fc + g * sl, fr + g * fc + g * sr], atol=1e-5)


# --- bad input -------------------------------------------------------------

def make_bad_inputs(folder):
    """Files covering every user mistake; returns {case: (path, message fragment)}."""
    rng = np.random.default_rng(4)
    good = (rng.standard_normal((2, SR)) * 0.1).astype(np.float32)
    cases = {}
    cases["missing"] = (folder / "nope.mp3", "No such file")
    (folder / "empty.wav").write_bytes(b"")
    cases["empty"] = (folder / "empty.wav", "empty")
    (folder / "notes.mp3").write_text("these are my lyrics, not audio\n" * 50)
    cases["not audio"] = (folder / "notes.mp3", "not an audio file")
    sf.write(folder / "whole.wav", good.T, SR)
    data = (folder / "whole.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: 44 + 4 * 5000])  # cut at a frame boundary
    cases["truncated wav"] = (folder / "cut.wav", "truncated or corrupt")
    kit.save(folder / "whole.mp3", good, SR)
    data = (folder / "whole.mp3").read_bytes()
    (folder / "cut.mp3").write_bytes(data[: len(data) // 2])
    cases["truncated mp3"] = (folder / "cut.mp3", "truncated or corrupt")
    sf.write(folder / "whole.flac", good.T, SR)
    data = (folder / "whole.flac").read_bytes()
    (folder / "cut.flac").write_bytes(data[: len(data) // 2] + b"\x00" * 100)
    cases["corrupt flac"] = (folder / "cut.flac", "truncated or corrupt")
    sf.write(folder / "silent0.wav", np.zeros((0, 2), np.float32), SR)
    cases["zero samples"] = (folder / "silent0.wav", "no audio samples")
    bad = good.copy()
    bad[0, 100] = np.nan
    bad[1, 200] = np.inf
    sf.write(folder / "nan.wav", bad.T, SR, subtype="FLOAT")
    cases["nan"] = (folder / "nan.wav", "NaN or infinite")
    (folder / "adir.wav").mkdir()
    cases["folder"] = (folder / "adir.wav", "is a folder")
    return cases


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", ["missing", "empty", "not audio", "truncated wav", "truncated mp3",
                                  "corrupt flac", "zero samples", "nan", "folder"])
def test_bad_input_raises_one_clear_line(bad_inputs, case):
    path, fragment = bad_inputs[case]
    with pytest.raises(kit.KitError) as info:
        kit.load(path)
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg
    assert path.name in msg


def test_bad_arrays_and_options():
    with pytest.raises(AudioContentError, match="NaN"):
        kit.audio.check_audio(np.array([[0.0, np.nan]]))
    with pytest.raises(AudioContentError, match="no audio samples"):
        kit.audio.check_audio(np.zeros((2, 0)))
    with pytest.raises(AudioContentError, match="too short"):
        kit.audio.check_audio(np.zeros((2, 10)), min_samples=100)
    with pytest.raises(OptionError, match=r"\.ogg"):
        kit.save("song.ogg", np.zeros((2, 10)), SR)
    with pytest.raises(OptionError, match="negative"):
        kit.load(kit.examples.song_path(), start_s=-1)


def test_input_file_error_is_a_kit_error():
    assert issubclass(InputFileError, kit.KitError)


# --- saving ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_save_round_trip(tmp_path, noise, fmt):
    if fmt == "mp3":  # MP3 codes tones well and white noise badly: test with music-like tones
        t = np.arange(noise.shape[1]) / SR
        noise = (0.3 * np.sin(2 * np.pi * np.array([[220.0], [330.0]]) * t)).astype(np.float32)
    out = kit.save(tmp_path / f"out.{fmt}", noise, SR)
    y, sr = kit.load(out)
    assert sr == SR and y.shape == noise.shape
    tol = {"wav": 0.0, "flac": 1e-6, "mp3": 0.2}[fmt]
    if fmt == "mp3":
        # lossy: judge by SNR, not samples
        snr = 10 * np.log10(np.sum(noise**2) / np.sum((y - noise) ** 2))
        assert snr > 25
    else:
        np.testing.assert_allclose(y, noise, atol=tol)
    assert [p.name for p in tmp_path.iterdir()] == [f"out.{fmt}"]


def test_save_warns_when_lossy_output_clips(tmp_path):
    loud = np.full((2, 1000), 1.5, np.float32)
    with pytest.warns(KitWarning, match="clip"):
        kit.save(tmp_path / "loud.flac", loud, SR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kit.save(tmp_path / "loud.wav", loud, SR)  # float wav keeps the overs: no note
    assert kit.load(tmp_path / "loud.wav")[0].max() == pytest.approx(1.5)


def test_failed_save_keeps_the_old_file_and_leaves_no_partial(tmp_path, noise, monkeypatch):
    out = tmp_path / "keep.wav"
    kit.save(out, noise, SR)
    before = out.read_bytes()

    def broken_write(path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"RIFF half")
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(OSError):
        kit.save(out, noise * 0.5, SR)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_output_may_not_be_the_input(tmp_path, noise):
    src = tmp_path / "song.wav"
    kit.save(src, noise, SR)
    with pytest.raises(OptionError, match="overwrite the input"):
        kit.audio.check_output_path(src, inputs=[src])
