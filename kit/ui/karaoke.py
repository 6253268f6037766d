"""The karaoke maker: choose a song, separate it (a preview first), mix the stems, download.

This is the widget behind ``notebooks/09_karaoke_maker.ipynb`` and ``kit app``.
It holds no DSP: :func:`kit.load` decodes, :func:`kit.separate` separates (and
caches), :func:`kit.ui.stem_mixer` mixes (the limiter on at first), and a
:class:`kit.ui.download.DownloadButton` encodes the mix and saves it in one click.
Work happens in the click handlers, with a progress bar and the buttons
disabled, and every failure is shown as one sentence in the error panel.
"""

from __future__ import annotations

import html
import time
import warnings
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .download import DownloadButton, encode_audio
from .engine_panel import describe_engine, estimate_seconds, format_duration, list_model_choices
from .feedback import feedback_panel
from .player import make_figure, make_image, render_figure
from .problem import show_problem
from .progress import make_progress_bar
from .sing import sing_panel
from .upload import UPLOAD_LIMIT_MB, load_uploaded, read_upload
from .upload_button import UploadButton
from .workdir import make_session_folder

__all__ = ["KaraokeMaker", "karaoke_maker", "describe_failure"]

_SOURCES = ("Bundled song", "Upload a file", "Link")
_KEEP_BACKING = "Keep the backing vocals (split the vocals: only the lead singer is taken out)"
# "Separate the whole song" on a song longer than this plus 30 s goes part by part: the first
# part (one of the model's segments) plays while the rest separates (kit/ui/separate_parts.py)
FIRST_PART_S = 512 * 1024 / 44100
_FULL = widgets.Layout(width="100%")
# Rows of controls wrap on a phone instead of squeezing sliders to nothing (looked at in
# Chromium at 390x844: the mixer's rows are wider than the screen).
_STYLE = """<style>
.kit-karaoke .widget-hbox { flex-wrap: wrap; row-gap: 2px; }
.kit-karaoke .widget-hbox > * { flex-shrink: 0; }
.kit-karaoke .widget-checkbox { max-width: 100%; height: auto; min-height: var(--jp-widgets-inline-height, 28px); }
.kit-karaoke .widget-checkbox label { white-space: normal; line-height: 1.35; padding: 4px 0; }
</style>"""


def describe_failure(exc: BaseException, *, doing: str = "separating") -> str:
    """One sentence for the error panel: what went wrong and what to do (never a traceback).

    Examples
    --------
    >>> describe_failure(MemoryError())[:14]
    'Out of memory '
    """
    from ..errors import KitError

    if isinstance(exc, KitError):
        return str(exc)
    text = str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in text.lower() or type(exc).__name__ == "OutOfMemoryError":
        return (f"Out of memory while {doing}. Try the preview (a short excerpt), a shorter song, "
                "or the 'unet' model, and close other programs.")
    first = text.strip().splitlines()[0][:200] if text.strip() else ""
    return f"Something went wrong while {doing} ({type(exc).__name__}{': ' + first if first else ''})."


def _section(title: str, *children, css: str | None = None):
    box = widgets.VBox([widgets.HTML(f"<h3 style='margin:10px 0 4px 0'>{title}</h3>"), *children],
                       layout=widgets.Layout(width="100%", padding="0 0 6px 0"))
    if css:
        box.add_class(css)
    return box


class KaraokeMaker(widgets.VBox):
    """The karaoke maker app (an ``ipywidgets.VBox``); make it with :func:`karaoke_maker`.

    For scripts and tests it carries its parts: ``source``, ``upload``, ``link``,
    ``upload_error``, ``start_slider``, ``model``, ``preview_button``, ``whole_button``,
    ``error``, ``status``, ``mixer`` (a :class:`kit.ui.StemMixer` once separated),
    ``format``, ``download_button`` (its ``click()`` returns ``(filename, data)``),
    ``cancel_button`` (shown while waiting for a turn on a busy server); and
    its state: ``song_name``, ``y``, ``sr``, ``stems_range`` (seconds the current stems cover).
    """

    def __init__(self, *, song=None, model: str = "auto", preview_s: float = 20.0, device: str = "auto",
                 model_dir=None, cache: bool = True, workdir=None, allow_link: bool = True):
        from ..devices import pick_device

        self.workdir = Path(workdir) if workdir else make_session_folder()
        self.preview_s = float(preview_s)
        self.model_dir = model_dir
        self.cache = bool(cache)
        self.device = pick_device(device)
        self.y, self.sr, self.song_name = None, None, None
        self.stems, self.stems_range = None, None
        self._whole = None  # stems of the whole song, once separated (previews slice them)
        self._speed = {}  # (model, device) -> seconds of song per second of work, measured here
        self.mixer, self.voice = None, None
        self._parts_mixer = None  # the mixer being extended while the song separates

        # 1. source
        self.source = widgets.ToggleButtons(options=_SOURCES if allow_link else _SOURCES[:2],
                                            value=_SOURCES[0], style={"button_width": "auto"})
        self.source.add_class("kit-source")
        # refuses a file over UPLOAD_LIMIT_MB in the browser, before sending it (a file over the
        # websocket limit would drop the connection); read_upload checks the size again
        self.upload = UploadButton(accept=".mp3,.wav,.flac,.m4a,.ogg,.oga,.opus,.aac,.aif,.aiff,audio/*",
                                   description="Choose a file", layout=widgets.Layout(width="auto"))
        self.upload.add_class("kit-upload")
        # a file that cannot be read is said here, beside the button that chose it
        self.upload_error = widgets.HTML(layout=widgets.Layout(display="none", width="auto"))
        self.upload_error.add_class("kit-upload-error")
        upload_note = widgets.HTML(f"<span style='color:#555'>MP3, WAV, FLAC, M4A, OGG... up to "
                                   f"<b>{UPLOAD_LIMIT_MB} MB</b>. The file stays on this computer.</span>")
        self.link = widgets.Text(placeholder="https://... (a page or a direct link to a song)",
                                 layout=widgets.Layout(width="100%", max_width="520px"))
        self.fetch_button = widgets.Button(description="Fetch", icon="download")
        link_note = widgets.HTML("<span style='color:#555'>Needs an internet connection (uses "
                                 "<code>kit fetch</code>). Only fetch songs you may use.</span>")
        self._source_panels = {
            _SOURCES[0]: widgets.HTML("<span style='color:#555'>A 10.9 s song clip that comes with the kit "
                                      "(from ccMixter), so the app works offline straight away.</span>"),
            _SOURCES[1]: widgets.VBox([self.upload, self.upload_error, upload_note]),
            _SOURCES[2]: widgets.VBox([widgets.HBox([self.link, self.fetch_button],
                                                    layout=widgets.Layout(flex_flow="row wrap")), link_note]),
        }
        self.source_panel = widgets.Box([self._source_panels[_SOURCES[0]]], layout=_FULL)
        self.song_info = widgets.HTML()
        self.song_info.add_class("kit-song")
        self.waveform = make_image()
        self.waveform.layout.max_width = "calc(100% - 8px)"  # inside the margins on a phone
        self.start_slider = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.5, description="Preview from",
                                                continuous_update=False, readout_format=".1f",
                                                style={"description_width": "initial"},
                                                layout=widgets.Layout(width="100%", max_width="520px"))
        self.start_slider.add_class("kit-start")

        # 2. engine
        choices, best, self._model_details = list_model_choices(model_dir=model_dir)
        names = [name for _, name in choices]
        chosen = best if model == "auto" else model
        if chosen not in names:
            choices.append((f"{chosen}", chosen))
        # no description: beside the menu it pushed a phone screen sideways; the label goes above
        self.model = widgets.Dropdown(options=choices, value=chosen,
                                      layout=widgets.Layout(width="calc(100% - 8px)", max_width="520px"))
        self.model.add_class("kit-model")
        self.engine = widgets.HTML(f"<b>Engine:</b> {html.escape(describe_engine(self.device))}")
        self.engine.add_class("kit-engine")
        self.estimate = widgets.HTML()
        self.model_note = widgets.HTML()

        # 3. separate
        self.preview_button = widgets.Button(description="Preview", icon="play", button_style="primary",
                                             tooltip="separate a short excerpt first, to hear the quality")
        self.preview_button.add_class("kit-preview")
        self.whole_button = widgets.Button(description="Separate the whole song", icon="music",
                                           button_style="success", layout=widgets.Layout(width="auto"))
        self.whole_button.add_class("kit-whole")
        self.busy = widgets.Box(layout=_FULL)
        self.status = widgets.HTML()
        self.status.add_class("kit-status")
        self.error = widgets.HTML(layout=widgets.Layout(display="none", width="auto"))  # auto: fits the margins
        self.error.add_class("kit-error")
        self.feedback = feedback_panel(self._feedback_context)  # shown after each result

        # 4. mix, 5. download, 6. voice
        self.mixer_box = widgets.VBox([widgets.HTML("<span style='color:#555'>Separate the song (or a "
                                                    "preview) to mix its stems here.</span>")], layout=_FULL)
        self.mixer_box.add_class("kit-mixer")
        # keep the harmonies: the vocal stem split into lead and backing (kit.split_vocals), and
        # only the lead taken out; split once per song and model, then kept (and in the stem cache)
        self.keep_backing = widgets.Checkbox(value=False, indent=False, description=_KEEP_BACKING,
                                             layout=widgets.Layout(display="none", width="auto"))
        self.keep_backing.add_class("kit-keep-backing")
        self._splits = {}  # (model, start_s, end_s) -> the stems with the vocals split
        self.format = widgets.ToggleButtons(options=[("MP3", "mp3"), ("WAV", "wav")], value="mp3",
                                            style={"button_width": "70px"})
        # one click: the button makes the file from the mix as it is now and the browser saves it
        self.download_button = DownloadButton(self._make_download_file, reads=[(self.format, ["value"])],
                                              description="Download the backing track",
                                              disabled=True)
        self.download_button.add_class("kit-download")
        self.download_note = widgets.HTML()
        self.voice_box = widgets.VBox([widgets.HTML("<span style='color:#555'>Make a backing track first.</span>")],
                                      layout=_FULL)
        # 7. sing: record, score and mix a take (kit.ui.sing); downloads in the format chosen in 5.
        self.sing = sing_panel(workdir=self.workdir, format=lambda: self.format.value)

        sections = [
            widgets.HTML(_STYLE + "<h2 style='margin:4px 0'>Karaoke maker</h2><span style='color:#444'>Take the vocals "
                         "(or any instrument) out of a song, change the key, and download a backing track."
                         "</span>"),
            _section("1. Choose a song", self.source, self.source_panel, self.song_info, self.waveform,
                     self.start_slider, css="kit-section-source"),
            _section("2. Engine", self.engine, widgets.HTML("<b>Model</b> (✓ runs offline now; stems listed)"),
                     self.model, self.model_note, self.estimate,
                     css="kit-section-engine"),
            _section("3. Separate", widgets.HBox([self.preview_button, self.whole_button],
                                                 layout=widgets.Layout(flex_flow="row wrap", width="100%")),
                     self.busy, self.status, self.error, self.feedback, css="kit-section-separate"),
            _section("4. Mix", self.keep_backing, self.mixer_box, css="kit-section-mix"),
            _section("5. Download the backing track",
                     widgets.HBox([self.format, self.download_button],
                                  layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
                     self.download_note, css="kit-section-download"),
        ]
        if _voice_widget() is not None:
            sections.append(_section("6. Add my voice", self.voice_box, css="kit-section-voice"))
        sections.append(_section("7. Sing", self.sing, css="kit-section-sing"))
        super().__init__(sections, layout=widgets.Layout(width="100%", max_width="900px"))
        self.add_class("kit-karaoke")

        self.source.observe(self._on_source, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.upload.observe(self._on_upload_refused, names="refused")
        self.fetch_button.on_click(self._on_fetch)
        self.start_slider.observe(self._on_start, names="value")
        self.model.observe(self._on_model, names="value")
        self.preview_button.on_click(self._on_preview)
        self.whole_button.on_click(self._on_whole)
        self.format.observe(self._on_format, names="value")
        self.keep_backing.observe(self._on_keep_backing, names="value")

        self._guard(self._load_song, song, doing="loading the song")
        self._on_model(None)

    # --- helpers ------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        return 0.0 if self.y is None else self.y.shape[1] / self.sr

    def show_error(self, message: str | None) -> None:
        """Show ``message`` in the error panel (None hides it)."""
        show_problem(self.error, message)

    def _guard(self, func, *args, doing: str):
        """Run ``func``; show any failure as a sentence in the error panel instead of a traceback."""
        self.show_error(None)
        try:
            return func(*args)
        except Exception as exc:  # the panel is the user's only view: say it in words
            self.show_error(describe_failure(exc, doing=doing))
            self.status.value = ""
            return None

    def _set_busy(self, busy: bool) -> None:
        for w in (self.preview_button, self.whole_button, self.source, self.upload, self.fetch_button,
                  self.model, self.keep_backing):
            w.disabled = busy
        self.download_button.disabled = busy or self.mixer is None
        if not busy:
            self.busy.children = ()

    # --- 1. the song ----------------------------------------------------------------

    def _on_source(self, change) -> None:
        self.source_panel.children = (self._source_panels[change["new"]],)
        if change["new"] == _SOURCES[0]:
            self._guard(self._load_song, None, doing="loading the bundled song")

    def _load_song(self, song) -> None:
        from ..audio import load
        from ..examples import song_path

        if song is None:
            path = song_path()
            self._set_song(*load(path), name="Bundled song (ccMixter clip)")
        elif isinstance(song, tuple):
            y, sr = song
            self._set_song(np.asarray(y, dtype=np.float32), int(sr), name="Song")
        else:
            from ..audio import check_song_length

            path = Path(song)
            check_song_length(path)  # a fetched 6-hour set is refused before it is decoded
            self._set_song(*load(path), name=path.stem)

    def _set_song(self, y, sr: int, *, name: str) -> None:
        if y.ndim == 1:
            y = y[np.newaxis]
        self.y, self.sr, self.song_name = y, int(sr), name
        self.stems, self.stems_range, self._whole = None, None, None
        self.mixer, self._splits = None, {}
        self.keep_backing.layout.display = "none"
        self.sing.set_song(None, None, None)
        self.mixer_box.children = (widgets.HTML("<span style='color:#555'>Separate the song (or a preview) to "
                                                "mix its stems here.</span>"),)
        self.download_note.value = ""
        self.download_button.disabled = True
        self._show_upload_error(None)
        channels = {1: "mono", 2: "stereo"}.get(y.shape[0], f"{y.shape[0]} channels")
        self.song_info.value = (f"<b>Song:</b> <span class='kit-song-name'>{html.escape(name)}</span> - "
                                f"<span class='kit-song-duration'>{_length(self.duration_s)}</span>"
                                f" ({channels}, {sr / 1000:g} kHz)")
        span = max(0.0, self.duration_s - self.preview_s)
        with self.start_slider.hold_trait_notifications():
            self.start_slider.value = 0.0
            self.start_slider.max = max(span, 0.5)
        self.start_slider.disabled = span <= 0.0
        # a clip shorter than the preview has nothing to choose: say so instead of a dead slider
        self.start_slider.layout.display = "flex" if span > 0 else "none"
        self.start_slider.description = "Preview from (s)"
        # a song no longer than a preview has one way to separate it: the whole song
        self.preview_button.layout.display = "none" if self._preview_is_whole() else ""
        self.status.value = ""
        self._draw_waveform()
        self._update_estimate()

    def _preview_is_whole(self) -> bool:
        return self.duration_s <= self.preview_s + 0.05

    def _clear_song(self) -> None:
        """No song chosen (a failed upload): nothing left on the page names the previous one."""
        self.y, self.sr, self.song_name = None, None, None
        self.stems, self.stems_range, self._whole = None, None, None
        self.mixer, self._splits = None, {}
        self.keep_backing.layout.display = "none"
        self.mixer_box.children = (widgets.HTML("<span style='color:#555'>Separate the song (or a preview) to "
                                                "mix its stems here.</span>"),)
        self.download_note.value = ""
        self.download_button.disabled = True
        self.song_info.value = "<b>Song:</b> <span class='kit-song-name' style='color:#555'>none yet</span>"
        self.waveform.layout.display = "none"
        self.start_slider.layout.display = "none"
        self.preview_button.layout.display = ""
        self.status.value = ""
        if self.voice is not None:
            self.voice = None
            self.voice_box.children = (widgets.HTML("<span style='color:#555'>Make a backing track first.</span>"),)
        self._update_estimate()

    def _show_upload_error(self, message: str | None) -> None:
        show_problem(self.upload_error, message, margin_top=True)

    def _on_upload_refused(self, change) -> None:
        # the button says why under itself; an older problem down in the error panel would mislead
        if change["new"]:
            self.show_error(None)
            self._show_upload_error(None)

    def _on_upload(self, change) -> None:
        if not change["new"]:
            return
        self._set_busy(True)
        self.show_error(None)
        self._show_upload_error(None)
        self.status.value = "Reading the uploaded file..."
        try:
            filename, data = read_upload(self.upload)
            y, sr = load_uploaded(filename, data, workdir=self.workdir)
            self._set_song(y, sr, name=Path(filename).stem)
        except Exception as exc:  # said beside the upload button; the previous song is gone from the page
            self._clear_song()
            self._show_upload_error(describe_failure(exc, doing="reading the uploaded file"))
        finally:
            # forget the bytes (the song is decoded); the same file may be chosen again
            self.upload.value = ()
            self._set_busy(False)

    def _on_fetch(self, _button) -> None:
        from ..fetch import fetch_audio

        self._set_busy(True)
        bar, progress = make_progress_bar("Fetching")
        self.busy.children = (bar,)
        self.status.value = "Fetching the song..."
        try:
            def fetch():
                path = fetch_audio(self.link.value.strip(), out_dir=self.workdir / "fetched", progress=progress)
                self._load_song(path)
            self._guard(fetch, doing="fetching the link")
        finally:
            self._set_busy(False)

    def _excerpt_range(self) -> tuple[float, float]:
        start = min(float(self.start_slider.value), max(0.0, self.duration_s - self.preview_s))
        return start, min(self.duration_s, start + self.preview_s)

    def _draw_waveform(self) -> None:
        from ..plot import plot_waveform

        fig = make_figure((9.0, 2.2))
        ax = fig.subplots()
        title = f"{self.song_name}: " + ("short enough to separate whole at once" if self._preview_is_whole()
                                         else "the preview excerpt is shaded; move it with the slider")
        plot_waveform(self.y, self.sr, ax=ax, title=title)
        start, end = self._excerpt_range()
        if not self._preview_is_whole():
            ax.axvspan(start, end, color="#ffa726", alpha=0.3, label="preview")
        ax.set_xlim(0.0, self.duration_s)
        self.waveform.value = render_figure(fig)
        self.waveform.layout.display = ""

    def _on_start(self, _change) -> None:
        if self.y is not None:
            self._draw_waveform()
            self._update_estimate()

    # --- 2. engine ----------------------------------------------------------------------

    def _on_model(self, _change) -> None:
        name = self.model.value
        ok_detail = self._model_details.get(name, "")
        ready = self.model.label.startswith("✓") if self.model.label else True
        self.model_note.value = "" if ready else (
            f"<span style='color:#b26a00'>{html.escape(name)} cannot run offline yet: "
            f"{html.escape(ok_detail)}</span>")
        self._update_estimate()

    def _update_estimate(self) -> None:
        if self.y is None:
            self.estimate.value = ""
            self.preview_button.description = "Preview"
            return
        name, dev = self.model.value, self.device
        measured = self._speed.get((name, dev))
        start, end = self._excerpt_range()
        preview = estimate_seconds(name, end - start, device=dev, measured_speed=measured)
        whole = estimate_seconds(name, self.duration_s, device=dev, measured_speed=measured)
        how = "measured here" if measured else "a rough guess until a first separation has run"
        what = ("" if self._preview_is_whole() else f"{_about(preview)} for the preview, ")
        self.estimate.value = (f"<b>Time on {dev.upper()}:</b> {what}{_about(whole)} for the whole song "
                               f"<span style='color:#555'>({how})</span>")
        self.preview_button.description = f"Preview {format_duration(end - start)}"

    # --- 3. separate --------------------------------------------------------------------

    def _separate(self, y) -> tuple[dict, float | str, list[str]]:
        from ..errors import KitWarning
        from ..separators.api import separate

        name = self.model.value
        bar, progress = make_progress_bar(f"{name}")
        bar.layout.width = "100%"
        bar.layout.max_width = "520px"
        self.busy.children = (bar,)
        seen = []

        def report(fraction):
            seen.append(fraction)
            progress(fraction)

        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KitWarning)
            opts = {"model_dir": self.model_dir} if self.model_dir else {}
            stems = separate(y, self.sr, model=name, device=self.device, progress=report,
                             cache=self.cache, **opts)
        elapsed = time.perf_counter() - t0
        if seen and seen[0] >= 1.0:
            return stems, "cache", []  # kit.separate jumps straight to 1 when the stem cache has the song
        if elapsed > 0.5:  # too short a run says little about speed
            self._speed[(name, self.device)] = (y.shape[1] / self.sr) / elapsed
        notes = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
        return stems, elapsed, notes

    def _separate_in_parts(self) -> tuple[dict, float | str, list[str]]:
        """Separate the whole song part by part; the mixer plays the first part while the rest separates.

        A song the stem cache has comes back at once, as from :meth:`_separate`.
        """
        from .. import cache as stem_cache
        from ..errors import KitWarning
        from ..separators.api import get_cached_separator, separate_with
        from .separate_parts import iter_separated_parts, plan_song_parts

        name = self.model.value
        opts = {"model_dir": self.model_dir} if self.model_dir else {}
        separator = get_cached_separator(name, device=self.device, **opts)
        key = None
        if self.cache:
            identity = stem_cache.separator_identity(separator, opts)
            if identity is not None:
                key = stem_cache.make_key(stem_cache.hash_audio(self.y, self.sr), identity)
                stems = stem_cache.load_stems(key)
                if stems is not None:
                    return stems, "cache", []
        bar, progress = make_progress_bar(f"{name}")
        bar.layout.width = "100%"
        bar.layout.max_width = "520px"
        self.busy.children = (bar,)
        total = _clock(self.duration_s)
        t0 = time.perf_counter()
        pieces = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KitWarning)
            # the first part is one of the model's segments: the soonest it can be heard
            parts = iter_separated_parts(self.y, lambda y: separate_with(separator, y, self.sr, cache=False),
                                         parts=plan_song_parts(separator, self.y.shape[1], self.sr),
                                         progress=progress)
            for a, b, part in parts:
                for k, v in part.items():
                    pieces.setdefault(k, []).append(v)
                done = _clock(b / self.sr)
                if a == 0:
                    self.stems_range = (0.0, b / self.sr)
                    self._show_mixer(part, self.y[:, a:b], whole=True, duration_s=self.duration_s)
                    self._parts_mixer = self.mixer
                    self.download_button.disabled = True  # the download waits for the whole song
                else:
                    self.mixer.extend(part, mixture=self.y[:, a:b])
                finished = b >= self.y.shape[1]
                later = (" The vocals are split into lead and backing once it is all in."
                         if self.keep_backing.value and "vocals" in part else "")
                self.mixer.web.note = "" if finished else f"Separated {done} of {total}; the rest follows.{later}"
                self.status.value = (f"Separating the whole song with {html.escape(name)}: {done} of {total} "
                                     f"ready to play (press play in the mixer)...")
        elapsed = time.perf_counter() - t0
        stems = {k: np.concatenate(v, axis=1) for k, v in pieces.items()}
        if self.keep_backing.value and "vocals" in stems:
            self._parts_mixer = None  # made again with the vocals split, now that they are all in
        if key is not None:
            stem_cache.store_stems(key, stems, info={"model": name, "sr": int(self.sr)})
        if elapsed > 0.5:
            self._speed[(name, self.device)] = self.duration_s / elapsed
        notes = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
        return stems, elapsed, notes

    def _run(self, *, whole: bool) -> None:
        if self.y is None:
            self.show_error("Choose a song first (section 1).")
            return
        self._set_busy(True)
        self.show_error(None)
        start, end = (0.0, self.duration_s) if whole else self._excerpt_range()
        what = "the whole song" if whole else f"the preview ({_clock(start)} to {_clock(end)})"
        self.status.value = f"Separating {what} with {html.escape(self.model.value)}..."
        if self._whole is not None and self._whole[0] == self.model.value:
            self._work(whole, start, end, what, slot=None)  # the preview is a slice of the whole song's stems
        else:
            # one of the machine's few separation slots, shared by every visitor's kernel
            self._queue_slot(what, lambda slot: self._work(whole, start, end, what, slot=slot))

    def _work(self, whole: bool, start: float, end: float, what: str, *, slot) -> None:
        """Separate (holding ``slot``, a :class:`kit.job_slots.SlotTicket`) and show the stems; free the slot."""
        try:
            def work():
                self._parts_mixer = None
                a, b = int(round(start * self.sr)), int(round(end * self.sr))
                if slot is None:  # the whole song is separated already: the preview is a slice of it
                    stems, elapsed, notes = {k: v[:, a:b] for k, v in self._whole[1].items()}, None, []
                elif whole and self.duration_s > FIRST_PART_S + 30.0:
                    stems, elapsed, notes = self._separate_in_parts()
                else:
                    stems, elapsed, notes = self._separate(self.y[:, a:b])
                if slot is not None:
                    slot.release()  # the next visitor's turn while this page draws the mixer
                if whole:
                    self._whole = (self.model.value, stems)
                self.stems, self.stems_range = stems, (start, end)
                built = self._parts_mixer is not None and self._parts_mixer is self.mixer
                self._parts_mixer = None
                if built:  # made part by part while separating: it has every stem already
                    self.download_button.disabled = False
                    self._on_mix(self.mixer)
                else:
                    self._show_mixer(stems, self.y[:, a:b], whole=whole)
                took = (("(already separated)" if whole else "(cut from the whole song's stems)") if elapsed is None
                        else "at once (the stem cache had it)" if elapsed == "cache" else f"in {elapsed:.1f} s")
                extra = "" if whole else " If you like it, separate the whole song."
                self.status.value = (f"<span style='color:#2e7d32'>Separated {what} {took}: "
                                     f"{', '.join(stems)}.{extra}</span>"
                                     + "".join(f"<br><span style='color:#b26a00'>{html.escape(n)}</span>"
                                               for n in notes))
                self._update_estimate()
                self.feedback.show()
            self._guard(work, doing=f"separating {what}")
        finally:
            if slot is not None:
                slot.release()
            self._set_busy(False)

    def _queue_slot(self, what: str, then) -> None:
        """Take a free separation slot (kit.job_slots) and call ``then(slot)``; if none is free, wait in
        turn, saying how many songs are ahead, with a Cancel button.

        On a class server every visitor has a kernel of their own; the slots keep the
        machine to a few separations at once (``KIT_MAX_JOBS``) and serve them in turn.
        In a kernel the wait runs on its event loop, so the click handler returns and the
        kernel goes on hearing clicks (Cancel among them); elsewhere (a script) it waits here.
        """
        import asyncio

        from ..job_slots import JobCancelled, SlotTicket, await_turn, wait_for_turn

        def fail(error: BaseException) -> None:
            self._set_busy(False)
            self.show_error(describe_failure(error, doing=f"separating {what}"))
            self.status.value = ""

        try:
            ticket = SlotTicket(device=str(self.device))
        except OSError as exc:  # the queue's folder cannot be written
            fail(exc)
            return
        try:
            free = ticket.try_take()
        except OSError as exc:
            ticket.release()
            fail(exc)
            return
        if free:
            then(ticket)
            return

        def waiting(ahead: int) -> None:
            songs = "1 song" if ahead == 1 else f"{ahead} songs"
            place = "you are next" if ahead == 0 else f"{songs} ahead of you"
            self.status.value = (f"Waiting for a free place to separate {what}: {place}. Many people are using "
                                 "this app; it starts by itself.")

        cancel = widgets.Button(description="Cancel", icon="times", tooltip="stop waiting; nothing is separated")
        cancel.add_class("kit-cancel")
        cancel.on_click(lambda _b: setattr(cancel, "disabled", True))
        self.cancel_button = cancel
        self.busy.children = (cancel,)
        options = {"on_wait": waiting, "cancelled": lambda: cancel.disabled}

        def finish(error: BaseException | None = None) -> None:
            if error is None:  # our turn
                self.busy.children = ()
                self.status.value = f"Separating {what} with {html.escape(self.model.value)}..."
                then(ticket)
                return
            ticket.release()
            if not isinstance(error, JobCancelled):
                fail(error)
                return
            self._set_busy(False)
            self.status.value = "Cancelled while waiting; nothing was separated."

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread (a script, a test): wait here
            try:
                wait_for_turn(ticket, **options)
            except Exception as exc:  # noqa: BLE001 - said in words by finish
                finish(exc)
                return
            finish()
            return

        async def wait_in_turn():
            try:
                await await_turn(ticket, **options)
            except Exception as exc:  # noqa: BLE001 - said in words by finish
                finish(exc)
                return
            finally:
                if ticket.slot is None:  # the task itself was stopped (the kernel shuts down)
                    ticket.release()
            finish()

        self._wait_task = loop.create_task(wait_in_turn())  # kept: the loop holds tasks only weakly

    def _feedback_context(self) -> dict:
        from ..cache import hash_audio

        return {"song_sha256": hash_audio(self.y, self.sr), "model": self.model.value,
                "settings": {"device": str(self.device), "range_s": list(self.stems_range or ()),
                             "mix": self.mixer.describe() if self.mixer is not None else None}}

    def _on_preview(self, _button) -> None:
        self._run(whole=False)

    def _on_whole(self, _button) -> None:
        self._run(whole=True)

    # --- 4. mix, 5. download, 6. voice ----------------------------------------------------

    def _show_mixer(self, stems: dict, mixture, *, whole: bool, duration_s: float | None = None,
                    carry=None) -> None:
        from .mixer import stem_mixer

        start, end = self.stems_range
        title = "The whole song" if whole else f"Preview {_clock(start)} to {_clock(end)}"
        self.keep_backing.layout.display = "" if "vocals" in stems else "none"
        if self.keep_backing.value and "vocals" in stems and duration_s is None:  # not on a first part
            stems = self._split_vocals(stems, mixture)
        # the mixture too: switching a stem off subtracts it, keeping what the model put in no stem
        # mixed in the page (kit.ui.web_mixer): switches and gains act at once on a whole song
        singer = [n for n in ("lead_vocals" if "lead_vocals" in stems else "vocals",) if n in stems]
        # a karaoke maker starts without the singer
        self.mixer = stem_mixer(stems, self.sr, mixture=mixture, title=title, player="browser",
                                duration_s=duration_s, drop=singer)
        self.mixer.observe_mix(self._on_mix)
        self.mixer_box.children = (self.mixer,)
        # a click brings the mix's and format's settings as the page shows them (they may be on their way)
        self.download_button.read_from([(self.format, ["value"]), *self.mixer.page_controls()])
        if carry is not None:
            _carry_settings(carry, self.mixer)
        self._on_mix(self.mixer)
        self.download_button.disabled = False

    def _split_vocals(self, stems: dict, mixture) -> dict:
        """``stems`` with ``vocals`` split into ``lead_vocals`` and ``backing_vocals``: once per song and model.

        The split is kept for the session and, with the stem cache on, stored beside the
        song's stems (as ``kit.separate(..., split_vocals="auto")`` stores it).
        """
        from ..vocal_split import STEMS, split_stems

        name = self.model.value
        key = (name, *self.stems_range)
        if key not in self._splits:
            bar, progress = make_progress_bar("Splitting the vocals")
            bar.layout.width = "100%"
            bar.layout.max_width = "520px"
            self.busy.children = (bar,)
            cache_key = self._split_cache_key(mixture)
            parts = None
            if cache_key is not None:
                from .. import cache as stem_cache

                parts = stem_cache.load_stems(cache_key)
            split = split_stems(stems, self.sr, method="auto", model=name, parts=parts, progress=progress)
            if cache_key is not None and parts is None:
                stem_cache.store_stems(cache_key, {k: split[k] for k in STEMS},
                                       info={"model": name, "sr": int(self.sr), "split_vocals": "auto"})
            self._splits[key] = split
            self.busy.children = ()
        return self._splits[key]

    def _split_cache_key(self, mixture) -> str | None:
        """Where the stem cache keeps the split of these stems (beside their own entry), or None."""
        if not self.cache:
            return None
        from .. import cache as stem_cache
        from ..separators.api import get_cached_separator

        opts = {"model_dir": self.model_dir} if self.model_dir else {}
        identity = stem_cache.separator_identity(get_cached_separator(self.model.value, device=self.device, **opts),
                                                 opts)
        if identity is None:
            return None
        return stem_cache.make_split_key(stem_cache.make_key(stem_cache.hash_audio(mixture, self.sr), identity),
                                         "auto")

    def _on_keep_backing(self, change) -> None:
        """The switch: the mixer again, with the vocals split (only the lead off) or whole (all off)."""
        if self.stems is None or "vocals" not in self.stems or self.mixer is None or change["new"] == (
                "lead_vocals" in self.mixer.stems):  # nothing to change (or the switch put back below)
            return
        self._set_busy(True)
        a, b = (int(round(t * self.sr)) for t in self.stems_range)
        whole = self.stems_range == (0.0, self.duration_s)
        try:
            self._guard(lambda: self._show_mixer(self.stems, self.y[:, a:b], whole=whole, carry=self.mixer),
                        doing="splitting the vocals")
        finally:
            self._set_busy(False)
            self.keep_backing.value = "lead_vocals" in self.mixer.stems  # as the mixer is, also after a failure

    def _track_name(self, settings: dict | None = None) -> str:
        extra = "" if self.stems_range == (0.0, self.duration_s) else ", preview"
        name = f"{self.song_name} ({self.mixer.describe(settings)}{extra})"
        return "".join(c for c in name if c not in '/\\:*?"<>|')

    def _on_mix(self, _mixer) -> None:
        self._say_download_name()
        # the mixer itself: Record plays (and the take is mixed over) the mix as the page shows it then
        self.sing.set_song(self.mixer, (self.stems or {}).get("vocals"), self.sr, song_name=self.song_name)
        self._update_voice()

    def _say_download_name(self) -> None:
        self.download_note.value = (f"<span style='color:#555'>Saves as "
                                    f"<b>{html.escape(self._track_name())}.{self.format.value}</b></span>")

    def _on_format(self, _change) -> None:
        if self.mixer is not None:
            self._say_download_name()
        if self.voice is not None:
            self.voice.format = self.format.value  # "Add my voice" saves in the same format

    def _make_download_file(self, page) -> tuple[str, bytes]:
        """The backing track as the page plays it at the click, in the format chosen there.

        ``page``: the :class:`kit.ui.download.PageValues` the download button passes.
        """
        from ..errors import OptionError

        if self.mixer is None:
            raise OptionError("Separate the song first (section 3); then the backing track can be saved.")
        fmt = str(page.get(self.format, "value"))
        settings = self.mixer.settings_on_page(page)
        return f"{self._track_name(settings)}.{fmt}", encode_audio(self.mixer.render(settings), self.sr,
                                                                   format=fmt, workdir=self.workdir)

    def _update_voice(self) -> None:
        add_my_voice = _voice_widget()
        if add_my_voice is None or self.mixer is None:
            return
        if self.stems_range != (0.0, self.duration_s):
            self.voice_box.children = (widgets.HTML("<span style='color:#555'>Separate the whole song to sing "
                                                    "over its backing track.</span>"),)
            return
        reference = self.stems.get("vocals") if self.stems else None
        self.voice = add_my_voice(self.mixer.render(), self.sr, reference_vocal=reference,
                                  reference_name="the song's vocal (as kit separated it)",
                                  song_name=self.song_name, workdir=self.workdir, format=self.format.value)
        self.voice_box.children = (self.voice,)


def _carry_settings(old, new) -> None:
    """Move ``new``'s controls to where ``old``'s were, for the stems both have, and its key and limiter."""
    for name in (n for n in old.stems if n in new.stems):
        new.set_stem(name, **old.controls(name))
    new.set_limiter(old.settings["limit"])
    if old.settings["semitones"]:
        new.set_key(old.settings["semitones"])


def _about(seconds: float) -> str:
    """An estimate in words: ``"about 12 s"``, ``"under a second"`` (never "about under a second")."""
    words = format_duration(seconds)
    return words if words.startswith("under") else f"about {words}"


def _length(seconds: float) -> str:
    """A song's length in one form: ``20.0 -> "20.0 s"``, ``300.0 -> "5:00"``."""
    return f"{seconds:.1f} s" if seconds < 60.0 else format_duration(seconds)


def _clock(seconds: float) -> str:
    """A position in the song: ``75.5 -> "1:15.5"``."""
    minutes, secs = divmod(float(seconds), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


def _voice_widget():
    try:
        from .voice import add_my_voice
    except ImportError:
        return None
    return add_my_voice


def karaoke_maker(*, song=None, model: str = "auto", preview_s: float = 20.0, device: str = "auto",
                  model_dir=None, cache: bool = True, workdir=None, allow_link: bool = True) -> KaraokeMaker:
    """The whole karaoke maker in one widget: song, engine, preview, separation, mixer, download.

    Parameters
    ----------
    song : str, Path or (y, sr), optional
        The song shown first; default: the bundled clip (works offline).
    model : str
        ``"auto"`` preselects the best model that runs offline now.
    preview_s : float
        Length of the preview excerpt in seconds.
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    model_dir : str or Path, optional
        Folder of downloaded model files.
    cache : bool
        Use the stem cache (a song separated before comes back at once).
    workdir : str or Path, optional
        Private folder for uploads and exports; default: this kernel's own
        temporary folder, removed when the kernel ends.
    allow_link : bool
        Offer "Link" (``kit fetch``) as a source.

    Returns
    -------
    KaraokeMaker
        An ``ipywidgets.VBox``; display it.

    Examples
    --------
    >>> from kit.ui import karaoke_maker
    >>> app = karaoke_maker(device="cpu")
    >>> app.song_name, round(app.duration_s, 1)
    ('Bundled song (ccMixter clip)', 10.9)

    See also
    --------
    notebooks/09_karaoke_maker.ipynb, kit.ui.stem_mixer
    """
    return KaraokeMaker(song=song, model=model, preview_s=preview_s, device=device, model_dir=model_dir,
                        cache=cache, workdir=workdir, allow_link=allow_link)
