"""Notebook front ends. The only package that imports ipywidgets / IPython.display.

Widgets hold no DSP: they call kit's pure functions and show the results.
Each widget function returns one ipywidgets widget; players are ``ipywidgets.Audio``
(see :mod:`kit.ui.player`) and figures are ``ipywidgets.Image``, so they look and
work the same in Jupyter, Voila and Colab.
"""

from .ab_player import ab_player
from .download import make_download
from .explorer import describe_resolution, spectrogram_explorer
from .karaoke import KaraokeMaker, karaoke_maker
from .listening_test import listening_test
from .mask_playground import mask_playground
from .mixer import StemMixer, stem_mixer
from .player import make_player
from .progress import make_progress_bar
from .upload import load_uploaded, read_upload
from .voice import add_my_voice

__all__ = [
    "make_progress_bar",
    "make_player",
    "spectrogram_explorer",
    "describe_resolution",
    "mask_playground",
    "stem_mixer",
    "ab_player",
    "listening_test",
    "StemMixer",
    "add_my_voice",
    "karaoke_maker",
    "KaraokeMaker",
    "make_download",
    "read_upload",
    "load_uploaded",
]
