"""Voila's settings for the karaoke maker when Voila is run by hand, from the repository root:

    JUPYTER_CONFIG_PATH=jupyter-config voila notebooks/09_karaoke_maker.ipynb

`kit app` applies the same settings itself (kit/app_server.py), from any folder. This file
is not at the repository root: Python would import a voila.py there instead of Voila.
"""

from kit.app_server import configure_voila

configure_voila(get_config())  # noqa: F821  (Voila provides get_config when it reads this file)
