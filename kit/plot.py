"""Figures for the lessons and the app: waveforms, spectrograms, masks, stems, scores.

The only module in kit that imports matplotlib, and it does so inside each
function, so ``import kit`` stays light. Every function takes ``ax=None`` (it
makes a figure when none is given) and returns the artist it drew, as librosa's
``specshow`` and libfmp do, so the figure can be restyled afterwards.

Axes are in physical units: seconds, Hz, dB. Long signals are reduced for
drawing only (a min/max envelope for waveforms, a max over neighbouring frames
for spectrograms), so a five-minute song draws in well under a second and still
shows every peak.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import OptionError

__all__ = ["plot_waveform", "plot_spectrogram", "plot_mask", "plot_stems", "plot_scoreboard", "plot_bands",
           "plot_loudness", "plot_ratings", "plot_note_lanes"]

# Points drawn across a waveform axis and frames across a spectrogram axis: more
# than a laptop screen has pixels, far fewer than a song has samples.
_MAX_WAVE_POINTS = 4000
_MAX_FRAMES = 2400
_Y_AXES = ("linear", "log")


def _new_ax(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _as_2d(y, what: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[np.newaxis]
    if y.ndim != 2 or y.shape[-1] == 0:
        raise OptionError(f"{what} has shape {y.shape}; pass a waveform shaped (channels, samples) or (samples,).")
    return y


def _check_y_axis(y_axis: str) -> str:
    if y_axis not in _Y_AXES:
        raise OptionError(f"y_axis='{y_axis}' is not known; use 'linear' or 'log'.")
    return y_axis


def _check_sr(sr) -> float:
    if sr is None or not np.isfinite(sr) or sr <= 0:
        raise OptionError(f"sr={sr} is not a sample rate; pass it in Hz, e.g. sr=44100.")
    return float(sr)


# --- waveforms ------------------------------------------------------------------------


def _envelope(y: np.ndarray, sr: float, offset_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Time and value points whose line traces every channel's min/max per bucket.

    A zig-zag between each bucket's lowest and highest sample over all channels
    draws as a filled band at screen resolution, like an audio editor's overview.
    """
    n = y.shape[-1]
    if y.shape[0] == 1 and n <= _MAX_WAVE_POINTS:
        return offset_s + np.arange(n) / sr, y[0]
    step = max(1, math.ceil(n / (_MAX_WAVE_POINTS // 2)))
    n_buckets = math.ceil(n / step)
    padded = np.pad(y, ((0, 0), (0, n_buckets * step - n)), mode="edge").reshape(y.shape[0], n_buckets, step)
    lo, hi = padded.min(axis=(0, 2)), padded.max(axis=(0, 2))
    t = offset_s + (np.arange(n_buckets) * step + step / 2) / sr
    return np.repeat(t, 2), np.column_stack([lo, hi]).ravel()


def plot_waveform(y, sr, *, ax=None, title=None, label=None, offset_s: float = 0.0, color=None, alpha=None):
    """Plot a waveform against time in seconds.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
        Waveform. With several channels (or more samples than the screen has
        pixels) the line traces the lowest and highest value of all channels in
        each short stretch, so every peak shows and a 5-minute song draws fast.
    sr : int
        Sample rate in Hz.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 10 x 3 inch figure when None.
    title, label : str, optional
        Axes title; legend label of the line.
    offset_s : float
        Time of the first sample, in seconds (to plot an excerpt at its place in the song).
    color, alpha
        Passed to matplotlib.

    Returns
    -------
    line : matplotlib.lines.Line2D

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from kit.plot import plot_waveform
    >>> line = plot_waveform(np.sin(np.linspace(0, 100, 22050)), 22050, title="A sine")
    >>> line.axes.get_xlabel()
    'Time (s)'

    See also
    --------
    plot_stems, notebooks/01_sound_and_the_stft.ipynb
    """
    y = _as_2d(y)
    sr = _check_sr(sr)
    ax = _new_ax(ax, (10, 3))
    t, values = _envelope(np.asarray(y, dtype=np.float32), sr, float(offset_s))
    kwargs = {"color": color, "alpha": alpha, "label": label}
    (line,) = ax.plot(t, values, linewidth=0.7, **{k: v for k, v in kwargs.items() if v is not None})
    ax.set_xlim(offset_s, offset_s + y.shape[-1] / sr)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude")
    ax.axhline(0.0, color="0.6", linewidth=0.5, zorder=0)
    if title:
        ax.set_title(title)
    if label:
        ax.legend(loc="upper right")
    return line


# --- spectrograms and masks ----------------------------------------------------------


def _pool_frames(values: np.ndarray, how: str) -> tuple[np.ndarray, int]:
    """Shrink the frame axis to at most _MAX_FRAMES by taking the max (or mean) of groups."""
    n = values.shape[-1]
    group = max(1, math.ceil(n / _MAX_FRAMES))
    if group == 1:
        return values, 1
    n_groups = math.ceil(n / group)
    padded = np.pad(values, ((0, 0), (0, n_groups * group - n)), mode="edge")
    shaped = padded.reshape(values.shape[0], n_groups, group)
    return (shaped.max(axis=2) if how == "max" else shaped.mean(axis=2)), group


def _freq_edges(n_bins: int, sr: float, n_fft: int) -> np.ndarray:
    """Bin edges in Hz: each bin spans half a bin spacing either side of its centre."""
    spacing = sr / n_fft
    return np.clip((np.arange(n_bins + 1) - 0.5) * spacing, 0.0, sr / 2)


def _set_freq_axis(ax, y_axis: str, sr: float, n_fft: int) -> None:
    from matplotlib.ticker import FuncFormatter, NullLocator

    ax.set_ylabel("Frequency (Hz)")
    if y_axis == "log":
        ax.set_yscale("log")
        # Start at the top edge of the 0 Hz bin: below it a log axis has nothing to show.
        bottom = max(0.5 * sr / n_fft, 20.0)
        ax.set_ylim(bottom, sr / 2)
        ticks = [t for t in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if bottom <= t <= sr / 2]
        ax.set_yticks(ticks)
        # labelled ticks at 1-2-5 steps say enough; log minor ticks (dozens) made each redraw slow
        ax.yaxis.set_minor_locator(NullLocator())
    else:
        ax.set_ylim(0, sr / 2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))


def _draw_tf(values, sr, *, n_fft, hop_length, ax, y_axis, cmap, vmin, vmax, pool, offset_s=0.0):
    """pcolormesh of a (freqs, frames) array at its true time and frequency positions."""
    values, group = _pool_frames(values, pool)
    n_bins, n_frames = values.shape
    # frame t is centred at t * hop / sr; its cell spans half a hop either side
    t_edges = offset_s + (np.arange(n_frames + 1) * group - 0.5) * hop_length / sr
    f_edges = _freq_edges(n_bins, sr, n_fft)
    if y_axis == "log":
        # the 0 Hz bin has no place on a log axis; start its cell at the next one's lower edge
        f_edges[0] = f_edges[1] / 2 if n_bins > 1 else 1.0
    mesh = ax.pcolormesh(t_edges, f_edges, values, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat",
                         rasterized=True)
    ax.set_xlim(max(offset_s, t_edges[0]), t_edges[-1])
    ax.set_xlabel("Time (s)")
    _set_freq_axis(ax, y_axis, sr, n_fft)
    return mesh


def _magnitude(y, spec, *, n_fft, hop_length, window) -> tuple[np.ndarray, int]:
    """Magnitude (freqs, frames) to draw, averaging channels; and the n_fft it came from."""
    if spec is None:
        from .spectral import compute_stft, compute_stft_magnitude

        y = _as_2d(y)
        if window == "hann":
            mag = compute_stft_magnitude(y, n_fft=n_fft, hop_length=hop_length)
        else:
            mag = np.abs(compute_stft(y, n_fft=n_fft, hop_length=hop_length, window=window))
    else:
        mag = np.abs(np.asarray(spec))
        if mag.ndim == 2:
            mag = mag[np.newaxis]
        if mag.ndim != 3 or mag.shape[-2] < 2:
            raise OptionError(f"spec has shape {np.shape(spec)}; pass a spectrogram shaped (freqs, frames) "
                              "or (channels, freqs, frames).")
        n_fft = 2 * (mag.shape[-2] - 1)
    # power-average the channels: what a listener hears of both speakers together
    return np.sqrt(np.mean(np.square(mag, dtype=np.float32), axis=0)), n_fft


def _to_db(mag: np.ndarray, ref: float, top_db: float | None) -> np.ndarray:
    from .spectral import convert_to_db

    return convert_to_db(mag, ref=ref if ref > 0 else 1.0, top_db=top_db)


def _add_colorbar(ax, mesh, label: str, *, fmt=None):
    cbar = ax.figure.colorbar(mesh, ax=ax, format=fmt, pad=0.01)
    cbar.set_label(label)
    return cbar


def _spectrogram_db(y, sr, *, n_fft, hop_length, window, spec, top_db, ref=None):
    mag, n_fft = _magnitude(y, spec, n_fft=n_fft, hop_length=hop_length, window=window)
    peak = float(mag.max()) if mag.size else 0.0
    return _to_db(mag, ref if ref is not None else peak, top_db), n_fft


def plot_spectrogram(y=None, sr=None, *, n_fft: int = 2048, hop_length: int = 512, window: str = "hann",
                     y_axis: str = "linear", ax=None, title=None, top_db: float = 80.0, spec=None,
                     colorbar: bool = True):
    """Plot a spectrogram in dB against time (s) and frequency (Hz).

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,), or None
        Waveform; channels are averaged in power. None when ``spec`` is given.
    sr : int
        Sample rate in Hz (always needed: it sets the axes).
    n_fft, hop_length : int
        STFT window and hop in samples (librosa's defaults).
    window : str
        Window function name.
    y_axis : {"linear", "log"}
        Frequency scale. ``log`` gives each octave the same height, as we hear;
        it starts at the first bin above 0 Hz (or 20 Hz), so no empty band.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    top_db : float
        Dynamic range shown below the loudest bin.
    spec : np.ndarray, shape (freqs, frames) or (channels, freqs, frames), optional
        A spectrogram to draw instead (complex or magnitude, from
        :func:`kit.spectral.compute_stft`); ``n_fft`` is taken from its shape.
    colorbar : bool
        Add a colour bar labelled in dB.

    Returns
    -------
    mesh : matplotlib.collections.QuadMesh

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from kit.plot import plot_spectrogram
    >>> mesh = plot_spectrogram(np.random.default_rng(0).standard_normal(22050), 22050, y_axis="log")
    >>> mesh.axes.get_ylabel()
    'Frequency (Hz)'

    See also
    --------
    kit.spectral.compute_stft, notebooks/01_sound_and_the_stft.ipynb
    """
    _check_y_axis(y_axis)
    sr = _check_sr(sr)
    if y is None and spec is None:
        raise OptionError("plot_spectrogram needs a waveform y or a spectrogram spec=.")
    db, n_fft = _spectrogram_db(y, sr, n_fft=n_fft, hop_length=hop_length, window=window, spec=spec,
                                top_db=top_db)
    ax = _new_ax(ax, (10, 4))
    vmax = float(db.max()) if db.size else 0.0
    mesh = _draw_tf(db, sr, n_fft=n_fft, hop_length=hop_length, ax=ax, y_axis=y_axis, cmap="magma",
                    vmin=vmax - (top_db or 80.0), vmax=vmax, pool="max")
    if title:
        ax.set_title(title)
    if colorbar:
        _add_colorbar(ax, mesh, "Level (dB re loudest bin)", fmt="%+.0f")
    return mesh


def plot_mask(mask, sr, *, hop_length: int = 512, n_fft: int | None = None, ax=None, title=None,
              y_axis: str = "linear"):
    """Plot a time-frequency mask (0..1) against time (s) and frequency (Hz).

    Parameters
    ----------
    mask : np.ndarray, shape (freqs, frames) or (channels, freqs, frames)
        Mask values; channels are averaged.
    sr : int
        Sample rate in Hz.
    hop_length : int
        Hop of the STFT the mask was made on, in samples.
    n_fft : int, optional
        Its window; default ``2 * (freqs - 1)``.
    ax, title, y_axis
        As in :func:`plot_spectrogram`.

    Returns
    -------
    mesh : matplotlib.collections.QuadMesh
        White lets the bin through (1), black removes it (0).

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from kit.plot import plot_mask
    >>> mesh = plot_mask(np.random.default_rng(0).random((1025, 40)), 44100)
    >>> mesh.get_clim()
    (0.0, 1.0)

    See also
    --------
    kit.masks, notebooks/02_masks_and_oracles.ipynb
    """
    _check_y_axis(y_axis)
    sr = _check_sr(sr)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim == 3:
        mask = mask.mean(axis=0)
    if mask.ndim != 2 or mask.shape[0] < 2:
        raise OptionError(f"mask has shape {mask.shape}; pass one shaped (freqs, frames) or (channels, freqs, frames).")
    n_fft = int(n_fft) if n_fft else 2 * (mask.shape[0] - 1)
    ax = _new_ax(ax, (10, 4))
    mesh = _draw_tf(mask, sr, n_fft=n_fft, hop_length=hop_length, ax=ax, y_axis=y_axis, cmap="gray",
                    vmin=0.0, vmax=1.0, pool="mean")
    if title:
        ax.set_title(title)
    _add_colorbar(ax, mesh, "mask value (1 = keep)")
    return mesh


# --- several stems ----------------------------------------------------------------------


def plot_stems(stems: dict, sr, *, kind: str = "waveform", axes=None, title=None):
    """Plot each stem on its own row, all sharing the time axis (and one level scale).

    The one plotting function that draws on several axes. Waveforms share their
    amplitude range and spectrograms share one dB scale (0 dB = the loudest bin
    of any stem), so a quiet stem looks quiet.

    Parameters
    ----------
    stems : dict of str to np.ndarray, shape (channels, samples)
        E.g. from :func:`kit.separate` or :func:`kit.examples.make_multitrack`.
    sr : int
        Sample rate in Hz.
    kind : {"waveform", "spectrogram"}
    axes : sequence of matplotlib.axes.Axes, optional
        One per stem; when None a figure with one row per stem is made.
    title : str, optional
        Figure title.

    Returns
    -------
    artists : list
        One Line2D (waveform) or QuadMesh (spectrogram) per stem, in order.

    Examples
    --------
    >>> import kit, matplotlib
    >>> matplotlib.use("Agg")
    >>> from kit.plot import plot_stems
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> len(plot_stems(stems, 44100))
    4

    See also
    --------
    kit.separate, notebooks/02_masks_and_oracles.ipynb
    """
    if kind not in ("waveform", "spectrogram"):
        raise OptionError(f"kind='{kind}' is not known; use 'waveform' or 'spectrogram'.")
    if not stems:
        raise OptionError("No stems to plot; pass a dict such as {'vocals': y1, 'drums': y2}.")
    sr = _check_sr(sr)
    names = list(stems)
    if axes is None:
        import matplotlib.pyplot as plt

        row_in = 1.3 if kind == "waveform" else 1.8
        fig, axes = plt.subplots(len(names), 1, sharex=True, squeeze=False, layout="constrained",
                                 figsize=(10, 0.6 + row_in * len(names)))
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(axes))
        if len(axes) != len(names):
            raise OptionError(f"Got {len(axes)} axes for {len(names)} stems; pass one axes per stem.")
    artists = []
    if kind == "waveform":
        peak = max(float(np.max(np.abs(stems[n]))) if np.size(stems[n]) else 0.0 for n in names) or 1.0
        for name, ax in zip(names, axes, strict=True):
            artists.append(plot_waveform(stems[name], sr, ax=ax))
            ax.set_ylim(-1.05 * peak, 1.05 * peak)
    else:
        mags = {n: _magnitude(stems[n], None, n_fft=2048, hop_length=512, window="hann")[0] for n in names}
        ref = max(float(m.max()) for m in mags.values()) or 1.0
        for name, ax in zip(names, axes, strict=True):
            db = _to_db(mags[name], ref, None)
            artists.append(_draw_tf(db, sr, n_fft=2048, hop_length=512, ax=ax, y_axis="log", cmap="magma",
                                    vmin=-80.0, vmax=0.0, pool="max"))
        ax.figure.colorbar(artists[-1], ax=axes, format="%+.0f", pad=0.01).set_label("Level (dB re loudest stem)")
    for name, ax in zip(names, axes, strict=True):
        ax.set_title(name, loc="left", fontsize="medium")
        if ax is not axes[-1]:
            ax.set_xlabel("")
    if title:
        axes[0].figure.suptitle(title)
    return artists


# --- scores -----------------------------------------------------------------------------


_METRIC_NAMES = {"sdr": "SDR", "si_sdr": "SI-SDR"}


def _score_rows(board) -> list[dict]:
    """Rows {"method", "stem", "<metric>_db"} from a Scoreboard, a ScoreTable or a list of rows."""
    rows = getattr(board, "rows", board)
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise OptionError("plot_scoreboard needs what kit.make_scoreboard or kit.evaluate returns.")
    return [{"method": r.get("method", "estimate"), **r} for r in rows]


def plot_scoreboard(board, *, ax=None, metric: str | None = None, title=None):
    """Horizontal bars of each method's score per stem, best method on top.

    Oracles (ideal masks at one STFT: the upper bound for masks of their kind) are hatched; the
    unprocessed mixture (the lower bound) is grey and marked "no separation".

    Parameters
    ----------
    board : kit.evaluate.Scoreboard or kit.evaluate.ScoreTable
        From :func:`kit.make_scoreboard` (several methods) or :func:`kit.evaluate` (one).
    ax : matplotlib.axes.Axes, optional
    metric : {"sdr", "si_sdr"}, optional
        Which score to draw; default SDR.
    title : str, optional

    Returns
    -------
    bars : matplotlib.container.BarContainer

    Examples
    --------
    >>> import kit, matplotlib
    >>> matplotlib.use("Agg")
    >>> from kit.plot import plot_scoreboard
    >>> mix, stems = kit.examples.make_multitrack(3.0)
    >>> board = kit.make_scoreboard(mix, stems, 44100, separators={"center": "center"})
    >>> bars = plot_scoreboard(board)
    >>> bars[0].axes.get_xlabel()
    'SDR (dB, higher is better)'

    See also
    --------
    kit.make_scoreboard, notebooks/07_evaluation_and_listening.ipynb
    """
    from matplotlib.patches import Patch

    metric = metric or "sdr"
    if metric not in _METRIC_NAMES:
        raise OptionError(f"metric='{metric}' is not known; use 'sdr' or 'si_sdr'.")
    rows = _score_rows(board)
    if not rows:
        raise OptionError("The scoreboard has no scores to plot.")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    stems = list(dict.fromkeys(r["stem"] for r in rows))
    colours = {s: f"C{i % 10}" for i, s in enumerate(stems)}
    n_bars = len(rows)
    ax = _new_ax(ax, (9, 1.2 + 0.28 * n_bars + 0.25 * len(methods)))

    # one bar per (method, stem) the method scored, packed; a gap between methods
    ys, widths, colors, hatches, labels, centres = [], [], [], [], [], []
    pos = 0.0
    for method in methods:
        own = [r for stem in stems for r in rows if r["method"] == method and r["stem"] == stem]
        first = pos
        for row in own:
            value = row.get(f"{metric}_db")
            value = float("nan") if value is None else float(value)
            ys.append(pos)
            widths.append(0.0 if math.isnan(value) else value)
            labels.append("n/a" if math.isnan(value) else f"{value:.1f}")
            colors.append(colours[row["stem"]])
            hatches.append("//" if str(method).startswith("oracle") else (".." if method == "mixture" else ""))
            pos += 1.0
        centres.append((first + pos - 1.0) / 2)
        pos += 0.7
    bars = ax.barh(ys, widths, height=0.85, color=colors, edgecolor="0.25", linewidth=0.4)
    for bar, hatch in zip(bars, hatches, strict=True):
        bar.set_hatch(hatch)
        if hatch == "..":  # the lower bound: faded, so it reads as a reference, not a contender
            bar.set_alpha(0.45)
    ax.bar_label(bars, labels=labels, padding=3, fontsize="small")

    def describe(m: str) -> str:
        if str(m).startswith("oracle"):
            return f"{m}\n(ideal mask, one STFT:\nupper bound for such masks)"
        if m == "mixture":
            return "mixture\n(no separation: lower bound)"
        return str(m)

    ax.set_yticks(centres, [describe(m) for m in methods])
    ax.set_ylim(pos - 0.7 + 0.1, -0.9)  # top method at the top
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    lo, hi = min(widths + [0.0]), max(widths + [0.0])
    span = hi - lo or 1.0
    # room for the value labels on both sides
    ax.set_xlim(lo - (0.12 * span if lo < 0 else 0.02 * span), hi + 0.12 * span)
    ax.set_xlabel(f"{_METRIC_NAMES[metric]} (dB, higher is better)")
    ax.grid(axis="x", alpha=0.3)
    if len(stems) > 1:
        handles = [Patch(facecolor=colours[s], edgecolor="0.25", label=s) for s in stems]
        ax.legend(handles=handles, title="stem", loc="best", fontsize="small")
    ax.set_title(title or f"{_METRIC_NAMES[metric]} per stem, best method on top")
    return bars


def plot_bands(levels_db: dict, centres_hz, *, ax=None, title=None, filters=None, ylabel="level (dB per Hz)"):
    """Grouped bars of octave-band levels (e.g. vocal vs backing), with EQ moves marked.

    Parameters
    ----------
    levels_db : dict of str to sequence of float
        One bar series per entry, one value per band.
    centres_hz : sequence of float
        Band centres, e.g. :data:`kit.eq.BAND_CENTRES_HZ`.
    filters : list of dict, optional
        EQ moves (``freq_hz``, ``gain_db``, ``action``) from :func:`kit.eq.plan_unmasking`;
        each is written above its band.

    Returns
    -------
    bars : list of matplotlib.container.BarContainer

    Examples
    --------
    >>> from kit.plot import plot_bands
    >>> bars = plot_bands({"vocal": [1, 2, 3], "backing": [3, 2, 1]}, [250, 500, 1000])
    >>> len(bars)
    2

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    centres = [float(c) for c in centres_hz]
    ax = _new_ax(ax, (9, 3.6))
    x = np.arange(len(centres))
    width = 0.8 / max(1, len(levels_db))
    every = np.concatenate([np.asarray(v, dtype=float) for v in levels_db.values()])
    # levels in dB are all negative: grow the bars up from a floor, not down from 0 dB
    bottom = 10.0 * math.floor(every.min() / 10.0) if every.max() <= 0 else 0.0
    bars = []
    for i, (label, values) in enumerate(levels_db.items()):
        heights = np.asarray(values, dtype=float) - bottom
        bars.append(ax.bar(x + (i - (len(levels_db) - 1) / 2) * width, heights, width, bottom=bottom, label=label))
    ax.set_xticks(x, [f"{c / 1000:g}k" if c >= 1000 else f"{c:g}" for c in centres])
    ax.set_xlabel("octave band centre (Hz)")
    ax.set_ylabel(ylabel)
    if bottom == 0.0:
        ax.axhline(0.0, color="0.3", linewidth=0.6)
    top = float(every.max())
    span = top - min(bottom, float(every.min()))
    for f in filters or ():
        i = int(np.argmin(np.abs(np.array(centres) - f["freq_hz"])))
        here = max(float(np.asarray(v, dtype=float)[i]) for v in levels_db.values())
        ax.annotate(f"{f['action']} {f['gain_db']:+.1f} dB", (x[i], here + 0.04 * span), ha="center",
                    va="bottom", fontsize="small", color="C3", fontweight="bold")
    ax.set_ylim(min(bottom, float(every.min())) - (0.05 * span if bottom == 0.0 else 0.0), top + 0.25 * span)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title or "Octave-band levels")
    return bars


def plot_loudness(curves: dict, *, ax=None, title=None, ylim_lufs=None):
    """Loudness over time (LUFS) of one or more signals, from :func:`kit.loudness.compute_loudness_curve`.

    Parameters
    ----------
    curves : dict of str to (times_s, loudness_lufs)
        One line per entry.
    ylim_lufs : (float, float), optional
        Vertical range; by default from 40 LU below the loudest point to above it.

    Returns
    -------
    lines : list of matplotlib.lines.Line2D

    Examples
    --------
    >>> import numpy as np
    >>> from kit.plot import plot_loudness
    >>> lines = plot_loudness({"voice": (np.arange(5.0), np.array([-20, -22, -18, -30, -25.0]))})
    >>> len(lines)
    1

    See also
    --------
    notebooks/08_vocal_mixing.ipynb
    """
    ax = _new_ax(ax, (9, 3.2))
    lines = []
    finite = [np.asarray(v)[np.isfinite(v)] for _, v in curves.values()]
    top = max((float(np.max(v)) for v in finite if v.size), default=0.0)
    for label, (times, values) in curves.items():
        values = np.where(np.isfinite(values), values, np.nan)
        lines.extend(ax.plot(times, values, label=label, linewidth=1.4))
    ax.set_ylim(*(ylim_lufs or (top - 40.0, top + 3.0)))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("loudness (LUFS)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title or "Loudness over time (3 s windows)")
    return lines


def plot_ratings(ratings: dict, sdr_db: dict, *, ax=None, title: str | None = "Do your ears agree with the SDR?",
                 intervals: dict | None = None, ylabel: str = "your rating (0-100)"):
    """Listening-test ratings (0-100) against SDR (dB), one labelled point per version.

    The hidden reference has an infinite SDR (``None``, ``inf`` or >= 100 dB): it is drawn
    as a star at the right edge.

    Parameters
    ----------
    ratings : dict of str to float
        Version name -> rating 0..100 (or a class's mean rating).
    sdr_db : dict of str to float or None
        Version name -> SDR against the reference in dB.
    ax : matplotlib.axes.Axes, optional
    intervals : dict of str to (low, high), optional
        Drawn as error bars, e.g. the 95 % interval of a class's mean rating (``kit class report``).
    ylabel : str

    Returns
    -------
    artists : list of matplotlib.collections.PathCollection

    See also
    --------
    kit.ui.listening_test, notebooks/07_evaluation_and_listening.ipynb
    """
    ax = _new_ax(ax, (7, 4.5))
    finite = [v for v in sdr_db.values() if v is not None and math.isfinite(v) and v < 100]
    right = (max(finite) if finite else 0.0) + 5.0
    artists = []
    for i, (name, rating) in enumerate(ratings.items()):
        x = sdr_db.get(name)
        is_ref = x is None or not math.isfinite(x) or x >= 100
        x = right if is_ref else x
        artists.append(ax.scatter([x], [rating], s=60, color=f"C{i % 10}", marker="*" if is_ref else "o", zorder=3))
        low, high = (intervals or {}).get(name) or (None, None)
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            ax.errorbar([x], [rating], yerr=[[rating - low], [high - rating]], color=f"C{i % 10}", capsize=4)
        ax.annotate(name + (" (SDR infinite)" if is_ref else ""), (x, rating), textcoords="offset points",
                    xytext=(6, 4), fontsize=9)
    ax.set_ylim(-5, 105)
    ax.set_xlim(min(finite + [0.0]) - 5.0, right + 10.0)
    ax.set_xlabel("SDR against the reference (dB, museval v4)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return artists


# --- singing ------------------------------------------------------------------------

_VERDICT_COLOURS = {"in tune": "tab:green", "flat": "tab:blue", "sharp": "tab:red", "missed": "0.65"}
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def plot_note_lanes(notes, *, times_s=None, f0_hz=None, tuning_cents: float = 0.0, label: str = "your pitch", ax=None,
                    title=None):
    """A melody as note lanes (time across, pitch up), with a singer's pitch drawn over it.

    Parameters
    ----------
    notes : list of dict or kit.melody.Note, or a report from :func:`kit.score_singing`
        Each with ``onset_s``, ``offset_s``, ``midi`` and, after scoring, a
        ``verdict`` (``in tune`` green, ``flat`` blue, ``sharp`` red, ``missed``
        grey). A scoring report brings the take's pitch and the tuning with it.
    times_s, f0_hz : np.ndarray, optional
        A pitch track to draw over the lanes (NaN = unvoiced).
    tuning_cents : float
        The melody's tuning against A440: lanes sit this far above their semitone.
    label : str
        The pitch line's name in the legend.

    Returns
    -------
    lanes : list of matplotlib.patches.Rectangle

    Examples
    --------
    >>> from kit.plot import plot_note_lanes
    >>> lanes = plot_note_lanes([{"onset_s": 0.0, "offset_s": 0.5, "midi": 69, "verdict": "flat"}])
    >>> len(lanes)
    1

    See also
    --------
    notebooks/10_pitch_and_singing.ipynb
    """
    from matplotlib.patches import Patch, Rectangle

    if isinstance(notes, dict) and "notes" in notes:  # a scoring report
        report = notes
        notes = report["notes"]
        tuning_cents = report.get("tuning_cents", tuning_cents)
        if times_s is None and hasattr(report, "take_times_s"):
            times_s, f0_hz = report.take_times_s, report.take_f0_hz
    rows = [n if isinstance(n, dict) else vars(n) for n in notes]
    if not rows:
        raise OptionError("No notes to draw; pass the notes of a melody (kit.extract_melody) or a scoring report.")
    ax = _new_ax(ax, (10, 3.8))
    offset = tuning_cents / 100.0
    lanes = []
    verdicts = []
    for row in rows:
        verdict = row.get("verdict")
        colour = _VERDICT_COLOURS.get(verdict, "tab:purple")
        rect = Rectangle((row["onset_s"], row["midi"] + offset - 0.4), row["offset_s"] - row["onset_s"], 0.8,
                         facecolor=colour, alpha=0.55, edgecolor=colour, linewidth=0.8)
        ax.add_patch(rect)
        lanes.append(rect)
        if verdict is not None and verdict not in verdicts:
            verdicts.append(verdict)
    low = min(r["midi"] for r in rows) - 2
    high = max(r["midi"] for r in rows) + 3  # room for the legend
    if times_s is not None and f0_hz is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            midi = 69.0 + 12.0 * np.log2(np.asarray(f0_hz, dtype=float) / 440.0)
        ax.plot(times_s, midi, color="black", linewidth=1.0, label=label)
    end = max(r["offset_s"] for r in rows)
    start = min(r["onset_s"] for r in rows)
    ax.set_xlim(start - 0.02 * (end - start), end + 0.02 * (end - start))
    ax.set_ylim(low, high)
    step = 1 if high - low <= 24 else 2
    ticks = list(range(int(math.ceil(low)), int(high) + 1, step))
    ax.set_yticks(ticks, [f"{_NOTE_NAMES[t % 12]}{t // 12 - 1}" for t in ticks])
    ax.grid(axis="y", alpha=0.25)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("note")
    handles = [Patch(color=_VERDICT_COLOURS[v], alpha=0.55, label=v) for v in _VERDICT_COLOURS if v in verdicts]
    if times_s is not None and f0_hz is not None:
        handles += ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", ncols=len(handles))
    ax.set_title(title or ("How each note went" if verdicts else "Melody (note lanes)"))
    return lanes
