"""A blind listening test, MUSHRA-style: rate each version 0-100, then see which was which.

The open reference plays at the top. Below it, in random order and under
letters only, come the versions to judge: the estimates, a *hidden* copy of
the reference (a careful listener gives it 100) and a *low anchor* (the
reference low-passed at 3.5 kHz, :func:`kit.evaluate.make_low_anchor`; it
should score low). "Reveal" shows the names, each version's SDR against the
reference (:func:`kit.evaluate.compute_sdr`) and a plot of ratings against SDR.
"Save" writes the ratings as JSON (:func:`kit.evaluate.pool_ratings` pools a
class's files) and, when the test names its lesson, adds them to the class
database (:mod:`kit.classroom`; ``kit class report`` pools the whole class).
Nothing is saved until the listener presses Save.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..plot import plot_ratings
from .player import FIGURE_DPI, make_figure, make_image, make_player, render_figure

__all__ = ["listening_test", "HIDDEN_REFERENCE", "LOW_ANCHOR"]

HIDDEN_REFERENCE = "hidden reference"
LOW_ANCHOR = "low anchor (3.5 kHz low-pass)"


def listening_test(versions: dict, sr: int, *, reference: str | None = None, anchor: bool = True,
                   seed: int | None = None, listener: str = "", path="ratings.json", title: str | None = None,
                   lesson: str | None = None):
    """A blind listening test of separated versions against a reference (MUSHRA-style).

    Parameters
    ----------
    versions : dict of str to np.ndarray, shape (channels, samples) or (samples,)
        The reference and the versions to judge, e.g.
        ``{"true vocals": ref, "tiny U-Net": est1, "REPET-SIM": est2}``; all the same length.
    sr : int
        Sample rate in Hz.
    reference : str, optional
        Which entry is the reference (default: the first).
    anchor : bool
        Add the low anchor (the reference low-passed at 3.5 kHz).
    seed : int, optional
        Fixes the random order (default: a new order each time).
    listener : str
        Name or nickname stored with the ratings.
    path : str or Path
        Where "Save" writes the ratings (JSON).
    title : str, optional
    lesson : str, optional
        The lesson this test belongs to (e.g. ``"07"``): "Save" then also records the
        ratings in the class database (:func:`kit.classroom.record`, item ``"listening test"``).

    Returns
    -------
    widget : ipywidgets.VBox
        ``widget.sliders`` (letter -> 0..100 slider), ``widget.players`` (letter -> player),
        ``widget.controls`` (``"reveal"``, ``"save"``, ``"path"``, ``"listener"``),
        ``widget.order`` (letter -> version name), ``widget.results`` (after reveal:
        rows of letter, name, rating, SDR), ``widget.reveal()`` and ``widget.save(path=None)``.

    Examples
    --------
    >>> import kit
    >>> from kit.ui import listening_test
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> test = listening_test({"vocals": stems["vocals"], "mixture": mix}, 44100, seed=0)
    >>> sorted(test.order.values())
    ['hidden reference', 'low anchor (3.5 kHz low-pass)', 'mixture']
    >>> test.sliders["A"].value = 80
    >>> test.reveal(); "SDR" in test.table.value
    True

    See also
    --------
    kit.evaluate.make_low_anchor, kit.evaluate.pool_ratings, notebooks/07_evaluation_and_listening.ipynb
    """
    from ..audio import check_audio
    from ..errors import OptionError
    from ..evaluate import MEASURES, compute_sdr, make_low_anchor

    if len(versions) < 2:
        raise OptionError("listening_test needs a reference and at least one version to judge, "
                          "e.g. {'true vocals': ref, 'estimate': est}.")
    sr = int(sr)
    audio = {str(k): check_audio(np.asarray(v, dtype=np.float32), what=f"Version '{k}'") for k, v in versions.items()}
    ref_name = str(reference) if reference is not None else next(iter(audio))
    if ref_name not in audio:
        raise OptionError(f"reference='{reference}' is not one of the versions: {', '.join(audio)}.")
    ref = audio[ref_name]
    for name, y in audio.items():
        if y.shape != ref.shape:
            raise OptionError(f"Version '{name}' has shape {y.shape}, the reference {ref.shape}; "
                              "give versions of the same excerpt (same channels and length).")
    judged = {name: y for name, y in audio.items() if name != ref_name}
    if HIDDEN_REFERENCE in judged or LOW_ANCHOR in judged:
        raise OptionError(f"'{HIDDEN_REFERENCE}' and '{LOW_ANCHOR}' are names the test uses; rename your versions.")
    judged[HIDDEN_REFERENCE] = ref
    if anchor:
        judged[LOW_ANCHOR] = make_low_anchor(ref, sr)
    # SDR of each version against the reference: computed now, shown only after the reveal
    sdr_db = {name: compute_sdr(ref, y, sr=sr, window_s=1.0 if ref.shape[1] >= sr else None)
              for name, y in judged.items()}

    names = list(judged)
    np.random.default_rng(seed).shuffle(names)
    letters = [chr(ord("A") + i) for i in range(len(names))]
    order = dict(zip(letters, names, strict=True))

    players = {letter: make_player(judged[name], sr) for letter, name in order.items()}
    sliders = {letter: widgets.IntSlider(value=50, min=0, max=100, step=1, description=f"rating {letter}",
                                         continuous_update=False, layout=widgets.Layout(width="360px"))
               for letter in order}
    listener_box = widgets.Text(value=listener, description="listener", placeholder="your name or a nickname")
    path_box = widgets.Text(value=str(path), description="save to")
    reveal_button = widgets.Button(description="Reveal", button_style="warning", icon="eye")
    save_button = widgets.Button(description="Save ratings", button_style="info", icon="save")
    table = widgets.HTML()
    figure = make_image()
    note = widgets.HTML()

    items = [
        widgets.HBox([widgets.HTML(f"<b style='font-size:1.2em'>{letter}</b>",
                                   layout=widgets.Layout(width="30px")), players[letter], sliders[letter]],
                     layout=widgets.Layout(align_items="center"))
        for letter in order
    ]
    head = [widgets.HTML(f"<h3 style='margin:4px 0'>{title}</h3>")] if title else []
    head += [
        widgets.HTML(f"<b>Reference</b> ({ref_name}): listen first. Then rate each letter against it, 0 (bad) "
                     "to 100 (same as the reference). One of the letters <i>is</i> the reference; one is a "
                     "muffled low anchor."),
        make_player(ref, sr),
    ]
    box = widgets.VBox(head + items + [widgets.HBox([listener_box]), widgets.HBox([reveal_button, save_button,
                                                                                   path_box]),
                                        note, table, figure])

    def ratings_by_name() -> dict:
        return {order[letter]: int(sliders[letter].value) for letter in order}

    def reveal(_button=None) -> None:
        rows = [{"letter": letter, "version": order[letter], "rating": int(sliders[letter].value),
                 "sdr_db": sdr_db[order[letter]]} for letter in order]
        box.results = rows
        shown = {r["letter"]: "infinite" if r["sdr_db"] >= 100 else f"{r['sdr_db']:.1f}" for r in rows}
        cells = "".join(
            f"<tr><td><b>{r['letter']}</b></td><td>{r['version']}</td><td align='right'>{r['rating']}</td>"
            f"<td align='right'>{shown[r['letter']]}</td></tr>"
            for r in rows)
        table.value = (f"<table><tr><th></th><th>version</th><th>your rating</th><th>SDR (dB)</th></tr>{cells}</table>"
                       f"<small>{MEASURES['sdr']}, median of 1 s windows, against the reference</small>")
        fig = make_figure((8.0, 4.0))
        plot_ratings(ratings_by_name(), sdr_db, ax=fig.add_subplot())
        figure.value = render_figure(fig, dpi=FIGURE_DPI)
        reveal_button.disabled = True

    def save(target=None) -> Path:
        out = Path(target or path_box.value or "ratings.json")
        data = {"listener": listener_box.value, "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "reference": ref_name, "order": order, "ratings": ratings_by_name(),
                "sdr_db": {k: (None if not math.isfinite(v) else v) for k, v in sdr_db.items()},
                "measure": MEASURES["sdr"], "revealed_before_saving": bool(reveal_button.disabled)}
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(out)  # whole file or nothing: a pooled folder never holds half a file
        also = ""
        if lesson is not None:
            from ..classroom import record

            keep = ("listener", "reference", "ratings", "sdr_db", "revealed_before_saving")
            if record(lesson, "listening test", {k: data[k] for k in keep}):
                also = " and to the class results"
        note.value = f"Saved {len(data['ratings'])} ratings to <code>{out}</code>{also}."
        return out

    def on_save(_button=None) -> None:
        try:
            save()
        except OSError as exc:
            note.value = f"<b>Could not save</b>: {exc.strerror or exc}; choose another file name."

    reveal_button.on_click(reveal)
    save_button.on_click(on_save)
    box.sliders, box.players, box.order, box.results = sliders, players, order, None
    box.table, box.figure, box.note = table, figure, note
    box.controls = {"reveal": reveal_button, "save": save_button, "path": path_box, "listener": listener_box}
    box.reveal, box.save = reveal, save
    return box
