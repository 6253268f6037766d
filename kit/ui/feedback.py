"""How was it? A 1-5 rating and a few words after a result, kept in the class database.

The karaoke app shows this panel once a separation is done. Sending stores the
rating and the words with what made the result (the song's content hash, the
model, the settings) and the time, never the audio: :func:`kit.classroom.record_feedback`
(``$KIT_FEEDBACK_DB``, else the class database). ``kit feedback`` prints the
average rating per model and the latest comments.
"""

from __future__ import annotations

import ipywidgets as widgets

__all__ = ["feedback_panel"]


def feedback_panel(context, *, db=None):
    """A rating (1-5), a comment box and a Send button, hidden until :meth:`show` is called.

    Parameters
    ----------
    context : callable
        Called when the listener presses Send; returns what made the result:
        ``{"song_sha256": ..., "model": ..., "settings": {...}}``.
    db : str or Path, optional
        Where to keep it (default :func:`kit.classroom.feedback_db_path`).

    Returns
    -------
    panel : ipywidgets.VBox
        ``panel.rating`` (ToggleButtons 1-5), ``panel.comment`` (Text), ``panel.send`` (Button),
        ``panel.note`` (HTML), ``panel.show()`` (for a new result: shows the panel, clears it).

    Examples
    --------
    >>> import os, tempfile
    >>> db = os.path.join(tempfile.mkdtemp(), "feedback.sqlite")
    >>> panel = feedback_panel(lambda: {"song_sha256": "00", "model": "unet", "settings": {}}, db=db)
    >>> panel.show(); panel.rating.value = 4; panel.send.click()
    >>> from kit.classroom import read_feedback
    >>> [(r["rating"], r["model"]) for r in read_feedback(db=db)]
    [(4, 'unet')]
    """
    from ..classroom import record_feedback

    rating = widgets.ToggleButtons(options=[("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5)], value=None,
                                   tooltips=["poor", "", "", "", "great"], style={"button_width": "40px"})
    comment = widgets.Text(placeholder="a few words (optional)", layout=widgets.Layout(width="100%",
                                                                                         max_width="420px"))
    send = widgets.Button(description="Send", icon="paper-plane", disabled=True)
    note = widgets.HTML()
    panel = widgets.VBox([widgets.HTML("<b>How does it sound?</b> Rate it, 1 (poor) to 5 (great); only the rating, "
                                       "your words, the model and its settings are kept, never the song."),
                          widgets.HBox([rating, send], layout=widgets.Layout(flex_flow="row wrap")), comment, note],
                         layout=widgets.Layout(display="none"))
    panel.add_class("kit-feedback")

    def on_rating(_change) -> None:
        send.disabled = rating.value is None

    def on_send(_button=None) -> None:
        if rating.value is None:
            note.value = "Choose a rating from 1 to 5 first."
            return
        found = dict(context() or {})
        saved = record_feedback(rating.value, comment.value, song_sha256=found.get("song_sha256"),
                                model=found.get("model"), settings=found.get("settings"), db=db)
        if saved:
            note.value = "<span style='color:#2e7d32'>Thank you: your rating is kept.</span>"
            send.disabled = True
        else:
            note.value = ("<span style='color:#b26a00'>Could not keep your rating (the feedback file cannot be "
                          "written); the result itself is fine.</span>")

    def show() -> None:
        rating.value, comment.value, note.value = None, "", ""
        send.disabled = True
        panel.layout.display = "flex"

    rating.observe(on_rating, names="value")
    send.on_click(on_send)
    panel.rating, panel.comment, panel.send, panel.note, panel.show = rating, comment, send, note, show
    return panel
