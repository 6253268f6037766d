"""Notebook front ends. The only package that imports ipywidgets / IPython.display.

Widgets hold no DSP: they call kit's pure functions and show the results.
"""

from .progress import make_progress_bar

__all__ = ["make_progress_bar"]
