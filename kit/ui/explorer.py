"""Spectrogram explorer: change the STFT window, hop, window shape and frequency scale and see what moves.

The figure is :func:`kit.plot.plot_spectrogram`; the text under the controls says
the time and frequency resolution the settings give, in milliseconds and Hz.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .player import FIGURE_DPI, label_row, make_figure, make_image, make_player, render_figure, replay_player

__all__ = ["spectrogram_explorer", "describe_resolution"]

_WINDOW_SIZES = (256, 512, 1024, 2048, 4096, 8192)
_HOP_FRACTIONS = (("1/2 window", 2), ("1/4 window", 4), ("1/8 window", 8))
_WINDOWS = (("Hann", "hann"), ("Hamming", "hamming"), ("Blackman", "blackman"), ("rectangular", "boxcar"))


def describe_resolution(sr: int, *, n_fft: int, hop_length: int) -> str:
    """The time/frequency trade-off of STFT sizes, in words.

    Examples
    --------
    >>> describe_resolution(44100, n_fft=2048, hop_length=512)
    'window 46 ms (2048 samples), frames every 11.6 ms, bins 21.5 Hz apart'
    """
    return (f"window {1000 * n_fft / sr:.0f} ms ({n_fft} samples), frames every {1000 * hop_length / sr:.1f} ms, "
            f"bins {sr / n_fft:.1f} Hz apart")


def spectrogram_explorer(y, sr: int, *, max_duration_s: float = 20.0, title: str | None = None):
    """A spectrogram whose window length, hop, window type and frequency scale you can change.

    Each change redraws the spectrogram, replays the sound and says the
    resolution in words ("window 46 ms, bins 21.5 Hz apart"): a long window
    separates close pitches but smears drum hits; a short one does the opposite.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
        The sound to look at.
    sr : int
        Sample rate in Hz.
    max_duration_s : float
        Only the first this many seconds are shown (each change recomputes the STFT).
    title : str, optional

    Returns
    -------
    widget : ipywidgets.VBox
        Its controls are ``widget.controls`` (a dict), the figure ``widget.figure``
        (an ``ipywidgets.Image``) and the player ``widget.player``.

    Examples
    --------
    >>> import kit
    >>> from kit.ui import spectrogram_explorer
    >>> y, sr = kit.examples.load_song(duration_s=2.0)
    >>> explorer = spectrogram_explorer(y, sr)
    >>> explorer.controls["n_fft"].value = 512
    >>> explorer.resolution.value.startswith("<b>window 12 ms")
    True

    See also
    --------
    kit.plot.plot_spectrogram, notebooks/01_sound_and_the_stft.ipynb
    """
    from ..audio import check_audio
    from ..plot import plot_spectrogram

    y = check_audio(np.asarray(y, dtype=np.float32), what="The audio to explore")
    sr = int(sr)
    n_max = int(max_duration_s * sr)
    note = ""
    if y.shape[1] > n_max:
        note = f" (the first {max_duration_s:g} s of {y.shape[1] / sr:.0f} s)"
        y = y[:, :n_max]

    style = {"description_width": "110px"}
    n_fft = widgets.Dropdown(options=[(f"{n} samples ({1000 * n / sr:.0f} ms)", n) for n in _WINDOW_SIZES],
                             value=2048, description="window length", style=style)
    hop = widgets.Dropdown(options=list(_HOP_FRACTIONS), value=4, description="hop", style=style)
    window = widgets.Dropdown(options=list(_WINDOWS), value="hann", description="window shape", style=style)
    y_axis = widgets.ToggleButtons(options=[("linear Hz", "linear"), ("log Hz", "log")], value="linear",
                                   style={"button_width": "90px"})
    resolution = widgets.HTML()
    figure = make_image()
    player = make_player(y, sr)

    def redraw(change=None) -> None:
        hop_length = max(1, n_fft.value // hop.value)
        resolution.value = f"<b>{describe_resolution(sr, n_fft=n_fft.value, hop_length=hop_length)}</b>"
        fig = make_figure((9.0, 3.6))
        ax = fig.subplots()
        plot_spectrogram(y, sr, n_fft=n_fft.value, hop_length=hop_length, window=window.value,
                         y_axis=y_axis.value, ax=ax,
                         title=f"{title or 'Spectrogram'}{note}: {window.label} window, "
                               f"{describe_resolution(sr, n_fft=n_fft.value, hop_length=hop_length)}")
        figure.value = render_figure(fig, dpi=FIGURE_DPI)
        if change is not None:
            replay_player(player)  # play it again so eyes and ears meet on the same sound

    controls = {"n_fft": n_fft, "hop": hop, "window": window, "y_axis": y_axis}
    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([n_fft, hop]),
                        widgets.HBox([window, label_row("frequency scale", y_axis, width="120px")]),
                        resolution, player, figure])
    box.controls, box.figure, box.player, box.resolution = controls, figure, player, resolution
    return box
