"""Jupyter server settings for the karaoke maker under `jupyter lab` or Binder (binder/postBuild copies
this folder into Jupyter's configuration folder): uploads up to 256 MiB through the websocket,
kernels without a page end after a few idle minutes, and voila/render/notebooks/09_karaoke_maker.ipynb
shows the app alone, as `kit app` does. Locally: JUPYTER_CONFIG_PATH=jupyter-config jupyter lab
"""

from kit.app_server import configure_jupyter_server

configure_jupyter_server(get_config())  # noqa: F821  (Jupyter provides get_config when it reads this file)
