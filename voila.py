"""Voila settings for the karaoke maker, read when `voila notebooks/09_karaoke_maker.ipynb` runs from here.

`kit app` applies the same settings itself (kit/app_server.py), wherever it runs from.
"""

c = get_config()  # noqa: F821  (Voila provides get_config when it reads this file)

# Uploads travel over the kernel websocket: Tornado's default 10 MiB limit drops a song silently.
c.Voila.tornado_settings = {"websocket_max_message_size": 256 * 2**20}
# A visitor's kernel (and its temporary files) goes after two idle hours.
c.MappingKernelManager.cull_idle_timeout = 7200
c.MappingKernelManager.cull_interval = 300
try:
    from kit.app_server import strip_lesson_cells, use_page_template
except ImportError:  # kit not installed: the lesson cells run too, which is slower but works
    pass
else:
    # The app shows the karaoke maker only, not the lesson around it.
    c.VoilaConfiguration.prelaunch_hook = strip_lesson_cells
    # Voila's page without stylesheets from a CDN, which keep a page blank on Wi-Fi that reaches nothing
    c.VoilaConfiguration.template = use_page_template()
