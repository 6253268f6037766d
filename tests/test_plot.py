"""kit.plot on real audio: each function returns its artist, labels carry units, both scales work."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kit  # noqa: E402
from kit import plot  # noqa: E402
from kit.errors import OptionError  # noqa: E402


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=3.0)


@pytest.fixture(scope="module")
def multitrack():
    mix, stems = kit.examples.make_multitrack(3.0)
    return mix, stems, 44100


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png_bytes(fig) -> int:
    from io import BytesIO

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return len(buf.getvalue())


def test_waveform_plots_song_in_seconds(song):
    y, sr = song
    line = plot.plot_waveform(y, sr, title="Song", label="mix")
    ax = line.axes
    assert isinstance(line, matplotlib.lines.Line2D)
    assert ax.get_title() == "Song" and ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Amplitude"
    assert ax.get_legend() is not None
    x, v = line.get_xdata(), line.get_ydata()
    # the envelope spans the song's real extremes over both channels and its real duration
    assert np.isclose(v.max(), y.max()) and np.isclose(v.min(), y.min())
    assert 0.0 <= x.min() and x.max() <= y.shape[1] / sr
    assert ax.get_xlim() == pytest.approx((0.0, y.shape[1] / sr))
    assert _png_bytes(ax.figure) > 1000


def test_waveform_short_mono_draws_every_sample_with_offset():
    sr = 8000
    y = np.sin(2 * np.pi * 440 * np.arange(800) / sr).astype(np.float32)
    line = plot.plot_waveform(y, sr, offset_s=2.0, color="red", alpha=0.5)
    assert np.array_equal(line.get_ydata(), y)
    assert line.get_xdata()[0] == pytest.approx(2.0) and line.get_xdata()[-1] == pytest.approx(2.0 + 799 / sr)
    assert line.get_alpha() == 0.5


def test_long_signal_is_reduced_for_drawing(song):
    y, sr = song
    long = np.tile(y, (1, 100))  # 5 minutes
    line = plot.plot_waveform(long, sr)
    assert len(line.get_xdata()) <= plot._MAX_WAVE_POINTS
    assert np.isclose(line.get_ydata().max(), long.max())  # peaks survive the reduction
    mesh = plot.plot_spectrogram(long[0, : 20 * sr], sr, n_fft=512, hop_length=128)
    n_frames = 1 + 20 * sr // 128
    assert mesh.get_array().shape[1] <= plot._MAX_FRAMES < n_frames
    assert mesh.axes.get_xlim()[1] == pytest.approx(20.0, abs=0.05)


@pytest.mark.parametrize("y_axis", ["linear", "log"])
def test_spectrogram_axes_units_and_scale(song, y_axis):
    y, sr = song
    mesh = plot.plot_spectrogram(y, sr, y_axis=y_axis, title=f"Song ({y_axis})")
    ax = mesh.axes
    assert isinstance(mesh, matplotlib.collections.QuadMesh)
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Frequency (Hz)"
    assert ax.get_yscale() == y_axis
    lo, hi = ax.get_ylim()
    assert hi == pytest.approx(sr / 2)
    if y_axis == "log":
        # starts at the first bin above 0 Hz: no empty band at the bottom
        assert 10.0 <= lo <= 25.0
    else:
        assert lo == 0.0
    colorbars = [a for a in ax.figure.axes if a is not ax]
    assert len(colorbars) == 1 and "dB" in colorbars[0].get_ylabel()
    vmin, vmax = mesh.get_clim()
    assert vmax - vmin == pytest.approx(80.0)
    assert _png_bytes(ax.figure) > 1000


def test_spectrogram_from_spec_and_given_ax(song):
    y, sr = song
    spec = kit.spectral.compute_stft(y, n_fft=1024, hop_length=256)
    fig, (a1, a2) = plt.subplots(2, 1)
    m1 = plot.plot_spectrogram(None, sr, spec=spec, hop_length=256, ax=a1, colorbar=False)
    m2 = plot.plot_spectrogram(y, sr, n_fft=1024, hop_length=256, ax=a2, colorbar=False)
    assert m1.axes is a1 and m2.axes is a2 and len(fig.axes) == 2
    # the same STFT drawn from the waveform or from the given spectrogram
    assert np.allclose(m1.get_array(), m2.get_array(), atol=1e-3)
    assert m1.get_array().shape == (513, spec.shape[-1])


def test_spectrogram_window_changes_picture(song):
    y, sr = song
    a = plot.plot_spectrogram(y, sr, window="hann").get_array()
    b = plot.plot_spectrogram(y, sr, window="boxcar").get_array()
    assert a.shape == b.shape and not np.allclose(a, b)


def test_bad_input_says_what_to_do(song):
    y, sr = song
    with pytest.raises(OptionError, match="'linear' or 'log'"):
        plot.plot_spectrogram(y, sr, y_axis="mel")
    with pytest.raises(OptionError, match="waveform y or a spectrogram"):
        plot.plot_spectrogram(None, sr)
    with pytest.raises(OptionError, match="sample rate"):
        plot.plot_waveform(y, None)
    with pytest.raises(OptionError, match="'waveform' or 'spectrogram'"):
        plot.plot_stems({"a": y}, sr, kind="bars")


@pytest.mark.parametrize("y_axis", ["linear", "log"])
def test_mask_plot_is_zero_to_one(multitrack, y_axis):
    mix, stems, sr = multitrack
    target = kit.spectral.compute_stft(stems["vocals"])
    rest = kit.spectral.compute_stft(mix - stems["vocals"])
    mask = kit.masks.compute_ratio_mask(target, rest)
    mesh = plot.plot_mask(mask, sr, title="Ideal ratio mask", y_axis=y_axis)
    ax = mesh.axes
    assert mesh.get_clim() == (0.0, 1.0)
    assert ax.get_title() == "Ideal ratio mask" and ax.get_yscale() == y_axis
    assert ax.get_ylabel() == "Frequency (Hz)" and ax.get_xlabel() == "Time (s)"
    assert "mask value" in ax.figure.axes[-1].get_ylabel()
    arr = mesh.get_array()
    assert 0.0 <= arr.min() and arr.max() <= 1.0 and arr.std() > 0.1


@pytest.mark.parametrize("kind", ["waveform", "spectrogram"])
def test_stems_one_row_each_sharing_time(multitrack, kind):
    mix, stems, sr = multitrack
    artists = plot.plot_stems(stems, sr, kind=kind, title="True stems")
    assert len(artists) == len(stems)
    axes = [a.axes for a in artists]
    assert [ax.get_title(loc="left") for ax in axes] == list(stems)
    assert axes[0].figure._suptitle.get_text() == "True stems"
    assert axes[-1].get_xlabel() == "Time (s)"
    assert all(ax.get_xlim() == axes[0].get_xlim() for ax in axes)
    if kind == "waveform":
        assert len({ax.get_ylim() for ax in axes}) == 1  # one level scale for every stem
    else:
        assert len({a.get_clim() for a in artists}) == 1


def test_stems_on_given_axes(multitrack):
    mix, stems, sr = multitrack
    fig, axes = plt.subplots(2, 2)
    artists = plot.plot_stems(stems, sr, axes=axes)
    assert [a.axes for a in artists] == list(axes.ravel())
    with pytest.raises(OptionError, match="one axes per stem"):
        plot.plot_stems(stems, sr, axes=axes[0])


def test_scoreboard_bars_mark_oracles_and_mixture():
    mix, stems = kit.examples.make_multitrack(1.5)
    sr = 44100
    board = kit.make_scoreboard(mix, stems, sr, separators={"center": "center"}, window_s=None)
    bars = plot.plot_scoreboard(board, title="Who wins")
    ax = bars[0].axes
    assert isinstance(bars, matplotlib.container.BarContainer)
    assert len(bars) == len(board.rows)
    widths = sorted(b.get_width() for b in bars)
    assert widths == pytest.approx(sorted(r["sdr_db"] for r in board.rows))
    assert ax.get_title() == "Who wins" and "SDR" in ax.get_xlabel() and "dB" in ax.get_xlabel()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert any("oracle" in t and "upper bound" in t for t in ticks)
    assert any(t.startswith("mixture") and "lower bound" in t for t in ticks)
    assert {b.get_hatch() for b in bars} >= {"//", ".."}
    si = plot.plot_scoreboard(board, metric="si_sdr")
    assert "SI-SDR" in si[0].axes.get_xlabel()


def test_scoreboard_from_one_evaluation(multitrack):
    mix, stems, sr = multitrack
    table = kit.evaluate(stems, {"vocals": mix, "drums": stems["drums"] * 0.5}, sr)
    fig, ax = plt.subplots()
    bars = plot.plot_scoreboard(table, ax=ax)
    assert bars[0].axes is ax and len(bars) == 2
    with pytest.raises(OptionError, match="metric"):
        plot.plot_scoreboard(table, metric="pesq")
