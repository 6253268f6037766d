"""A/B player: named versions of the same excerpt side by side, each with its level.

Louder sounds better to everyone, so a fair comparison needs the levels in view
and, when wanted, matched: levels are measured with :func:`kit.loudness.measure_loudness`
(LUFS, ITU-R BS.1770) and matched with :func:`kit.mix.match_loudness`.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from .player import make_player, update_player

__all__ = ["ab_player"]


def _level_text(y: np.ndarray, sr: int) -> str:
    from ..loudness import MIN_LOUDNESS_S, measure_loudness

    peak = float(np.max(np.abs(y))) if y.size else 0.0
    peak_text = f"peak {20 * math.log10(peak):+.1f} dBFS" if peak > 0 else "silent"
    if y.shape[-1] < MIN_LOUDNESS_S * sr:
        return f"{peak_text} (too short for LUFS)"
    lufs = measure_loudness(y, sr)
    level = f"{lufs:.1f} LUFS" if math.isfinite(lufs) else "silent"
    return f"{level}, {peak_text}"


def ab_player(versions: dict, sr: int, *, title: str | None = None):
    """Players for several versions of one excerpt, side by side, each labelled with its loudness.

    Parameters
    ----------
    versions : dict of str to np.ndarray, shape (channels, samples) or (samples,)
        Name -> waveform, e.g. ``{"mixture": mix, "IRM": est, "REPET-SIM": est2}``.
    sr : int
        Sample rate in Hz.
    title : str, optional

    Returns
    -------
    widget : ipywidgets.VBox
        A row of cards (name, player, level in LUFS and peak dBFS) and a
        "match loudness" switch that brings every version to the level of the
        quietest one (:func:`kit.mix.match_loudness`), so the comparison is
        about the sound, not the volume. ``widget.players`` and
        ``widget.levels`` are dicts by name; ``widget.controls["match"]`` is the switch.

    Examples
    --------
    >>> import kit
    >>> from kit.ui import ab_player
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> ab = ab_player({"mixture": mix, "vocals": stems["vocals"]}, 44100)
    >>> "LUFS" in ab.levels["vocals"].value
    True

    See also
    --------
    kit.loudness.measure_loudness, notebooks/02_masks_and_oracles.ipynb
    """
    from ..audio import check_audio
    from ..errors import OptionError
    from ..loudness import MIN_LOUDNESS_S, measure_loudness
    from ..mix import match_loudness

    if not versions:
        raise OptionError("ab_player needs versions to compare, e.g. {'before': y1, 'after': y2}.")
    sr = int(sr)
    originals = {str(k): check_audio(np.asarray(v, dtype=np.float32), what=f"Version '{k}'")
                 for k, v in versions.items()}
    players = {name: make_player(y, sr) for name, y in originals.items()}
    levels = {name: widgets.HTML(_level_text(y, sr)) for name, y in originals.items()}
    match = widgets.Checkbox(value=False, indent=False, description="match loudness",
                             layout=widgets.Layout(width="150px"))
    why = widgets.HTML("<span style='color:#555'>brings every version to the level of the quietest: louder "
                       "sounds better, so compare at equal loudness</span>")
    note = widgets.HTML()

    def target_lufs() -> float | None:
        measured = [measure_loudness(y, sr) for y in originals.values() if y.shape[1] >= MIN_LOUDNESS_S * sr]
        measured = [v for v in measured if math.isfinite(v)]
        return max(-40.0, min(measured)) if measured else None

    def update(change=None) -> None:
        target = target_lufs() if match.value else None
        note.value = ""
        if match.value and target is None:
            note.value = "<i>No version is long enough (0.4 s) and audible to measure; levels left as they are.</i>"
        for name, y in originals.items():
            if target is not None and y.shape[1] >= MIN_LOUDNESS_S * sr and math.isfinite(measure_loudness(y, sr)):
                y, _ = match_loudness(y, sr, target_lufs=target)
            update_player(players[name], y, sr)
            levels[name].value = _level_text(y, sr)

    match.observe(update, names="value")
    cards = [
        widgets.VBox([widgets.HTML(f"<b>{name}</b>"), players[name], levels[name]],
                     layout=widgets.Layout(width="280px", margin="0 12px 8px 0", padding="4px",
                                           border="1px solid #ddd"))
        for name in originals
    ]
    children = [widgets.HTML(f"<h3 style='margin:4px 0'>{title}</h3>")] if title else []
    children += [widgets.HBox(cards, layout=widgets.Layout(flex_flow="row wrap")),
                 widgets.HBox([match, why], layout=widgets.Layout(align_items="center")), note]
    box = widgets.VBox(children)
    box.players, box.levels, box.controls = players, levels, {"match": match}
    return box
