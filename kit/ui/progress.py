"""A widget progress bar that speaks kit's progress protocol (a callback taking 0..1)."""

from __future__ import annotations

__all__ = ["make_progress_bar"]


def make_progress_bar(description: str = "Working"):
    """Make a progress bar widget and the callback that drives it.

    Call the work in the same cell or click handler (no background threads:
    widget updates from threads broke with ipykernel 7).

    Parameters
    ----------
    description : str
        Label shown left of the bar.

    Returns
    -------
    bar : ipywidgets.FloatProgress
        Display it (it is the last value of a cell, or ``display(bar)``).
    progress : callable
        Pass as ``progress=`` to :func:`kit.separate` and friends.

    Examples
    --------
    >>> import kit
    >>> from kit.ui import make_progress_bar
    >>> bar, progress = make_progress_bar("Separating")
    >>> progress(0.5); bar.value
    50.0

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb
    """
    import ipywidgets as widgets

    bar = widgets.FloatProgress(value=0.0, min=0.0, max=100.0, description=description,
                                bar_style="info", layout=widgets.Layout(width="60%"))

    def progress(fraction: float) -> None:
        bar.value = round(100.0 * min(1.0, max(0.0, float(fraction))), 1)
        if bar.value >= 100.0:
            bar.bar_style = "success"

    return bar, progress
