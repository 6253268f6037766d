"""The one red sentence a panel shows when something went wrong (the same box everywhere in the app)."""

from __future__ import annotations

import html

__all__ = ["show_problem"]


def show_problem(widget, message: str | None, *, margin_top: bool = False) -> None:
    """Show ``message`` in the HTML ``widget`` as a red box starting "Problem:"; None or "" hides it.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> box = widgets.HTML()
    >>> show_problem(box, "The file is empty.")
    >>> "Problem:" in box.value, box.layout.display
    (True, 'block')
    >>> show_problem(box, None)
    >>> box.layout.display
    'none'
    """
    if not message:
        widget.value, widget.layout.display = "", "none"
        return
    margin = "margin-top:4px;" if margin_top else ""
    widget.value = (f"<div style='box-sizing:border-box;border:1px solid #c62828;background:#ffebee;"
                    f"color:#b71c1c;padding:8px 12px;border-radius:4px;white-space:normal;{margin}'>"
                    f"<b>Problem:</b> {html.escape(message)}</div>")
    widget.layout.display = "block"
