"""Mask playground: build an oracle mask from the true stems, see it, hear what it lets through, read its SDR.

Masks come from :mod:`kit.masks`, the STFT from :mod:`kit.spectral`, the score
from :func:`kit.evaluate.compute_sdr`; the figures from :mod:`kit.plot`.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .player import FIGURE_DPI, label_row, make_figure, make_image, make_player, render_figure, update_player

__all__ = ["mask_playground"]

_N_FFT, _HOP = 2048, 512
_KINDS = (("binary", "binary"), ("ratio", "ratio"), ("Wiener", "wiener"))


def mask_playground(mix, stems: dict, sr: int, *, title: str | None = None):
    """Try binary, ratio and Wiener masks for one stem of a mix whose true stems you have.

    Controls: mask type; the binary mask's threshold in dB (how much louder the
    stem must be to keep a bin); the ratio mask's exponent (1: magnitude ratio,
    2: power ratio, larger: closer to binary); which stem. Each change redraws
    the mask and the masked mixture, plays the result and prints its SDR against
    the true stem, next to the SDR of the unprocessed mixture.

    Parameters
    ----------
    mix : np.ndarray, shape (channels, samples)
        The mixture, e.g. from :func:`kit.examples.make_multitrack`.
    stems : dict of str to np.ndarray
        Its true stems, same shape.
    sr : int
        Sample rate in Hz.
    title : str, optional

    Returns
    -------
    widget : ipywidgets.VBox
        ``widget.controls`` (dict of the controls), ``widget.figure`` (Image),
        ``widget.player`` (the masked result), ``widget.score`` (HTML), and
        ``widget.result`` (the masked waveform now playing).

    Examples
    --------
    >>> import kit
    >>> from kit.ui import mask_playground
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> playground = mask_playground(mix, stems, 44100)
    >>> playground.controls["kind"].value = "binary"
    >>> "SDR" in playground.score.value
    True

    See also
    --------
    kit.masks, notebooks/02_masks_and_oracles.ipynb
    """
    from ..audio import check_audio
    from ..errors import OptionError
    from ..evaluate import compute_sdr
    from ..masks import apply_mask, compute_binary_mask, compute_ratio_mask, compute_wiener_mask
    from ..plot import plot_mask, plot_spectrogram
    from ..spectral import compute_istft, compute_stft

    mix = check_audio(mix, what="The mixture")
    if not stems:
        raise OptionError("mask_playground needs the true stems, e.g. mix, stems = kit.examples.make_multitrack().")
    stems = {str(k): check_audio(v, what=f"Stem '{k}'") for k, v in stems.items()}
    bad = [k for k, v in stems.items() if v.shape != mix.shape]
    if bad:
        raise OptionError(f"Stem(s) {', '.join(bad)} differ in shape from the mixture {mix.shape}; "
                          "pass the true stems of this mix.")
    sr = int(sr)
    names = list(stems)
    stft = {"n_fft": _N_FFT, "hop_length": _HOP}
    mix_spec = compute_stft(mix, **stft)
    cache: dict = {}

    def parts(name: str):
        """Target and interference magnitudes and the mixture's SDR for one stem, computed once."""
        if name not in cache:
            rest = np.sum([stems[k] for k in names if k != name], axis=0) if len(names) > 1 else np.zeros_like(mix)
            cache[name] = (np.abs(compute_stft(stems[name], **stft)), np.abs(compute_stft(rest, **stft)),
                           compute_sdr(stems[name], mix))
        return cache[name]

    style = {"description_width": "110px"}
    kind = widgets.ToggleButtons(options=list(_KINDS), value="ratio", style={"button_width": "80px"})
    threshold = widgets.FloatSlider(value=0.0, min=-20.0, max=20.0, step=1.0, description="threshold (dB)",
                                    continuous_update=False, readout_format="+.0f", style=style)
    exponent = widgets.FloatSlider(value=1.0, min=0.25, max=4.0, step=0.25, description="exponent",
                                   continuous_update=False, style=style)
    stem = widgets.Dropdown(options=names, value="vocals" if "vocals" in names else names[0],
                            description="stem", style=style)
    score = widgets.HTML()
    figure = make_image()
    player = make_player()
    truth = make_player()
    box = widgets.VBox()

    def update(change=None) -> None:
        threshold.layout.display = None if kind.value == "binary" else "none"
        exponent.layout.display = None if kind.value == "ratio" else "none"
        target, interference, mix_sdr = parts(stem.value)
        if kind.value == "binary":
            mask = compute_binary_mask(target, interference, threshold_db=threshold.value)
            what = f"binary mask, threshold {threshold.value:+.0f} dB"
        elif kind.value == "ratio":
            mask = compute_ratio_mask(target, interference, power=exponent.value)
            what = f"ratio mask, exponent {exponent.value:g}"
        else:
            mask = compute_wiener_mask(target, interference)
            what = "Wiener mask (power ratio)"
        masked = apply_mask(mix_spec, mask)
        result = compute_istft(masked, length=mix.shape[1], **stft)
        sdr = compute_sdr(stems[stem.value], result)

        fig = make_figure((9.0, 5.6))
        ax_mask, ax_spec = fig.subplots(2, 1, sharex=True)
        plot_mask(mask, sr, hop_length=_HOP, ax=ax_mask, y_axis="log", title=f"{stem.value}: {what}")
        ax_mask.set_xlabel("")
        plot_spectrogram(None, sr, spec=masked, hop_length=_HOP, ax=ax_spec, y_axis="log",
                         title="The mixture through the mask (what you hear)")
        figure.value = render_figure(fig, dpi=FIGURE_DPI)
        update_player(player, result, sr)
        if change is None or change["owner"] is stem:
            update_player(truth, stems[stem.value], sr)
        score.value = (f"<b>SDR against the true {stem.value}: {sdr:+.1f} dB</b> "
                       f"<span style='color:#555'>(the unprocessed mixture: {mix_sdr:+.1f} dB; higher is better; "
                       f"whole clip)</span>")
        box.result = result

    controls = {"kind": kind, "threshold_db": threshold, "exponent": exponent, "stem": stem}
    for control in controls.values():
        control.observe(update, names="value")
    update()

    def labelled(text, w):
        return widgets.VBox([widgets.HTML(f"<b>{text}</b>"), w], layout=widgets.Layout(width="50%"))

    children = [widgets.HTML(f"<h3 style='margin:4px 0'>{title}</h3>")] if title else []
    children += [widgets.HBox([label_row("mask", kind), stem]), widgets.HBox([threshold, exponent]), score,
                 widgets.HBox([labelled("masked mixture", player), labelled("true stem", truth)]), figure]
    box.children = children
    box.controls, box.figure, box.player, box.truth_player, box.score = controls, figure, player, truth, score
    return box
