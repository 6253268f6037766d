"""The karaoke maker's "Sing" section: record a take over the backing track, get it scored and mixed.

Press *Record* (:class:`kit.ui.recorder.Recorder`, in the browser): the backing
track plays from the start of what was separated and the microphone records;
*Stop* ends the take. Then, with no other click, the take's handler here:

1. checks it (a silent take, a take longer than the song: one sentence each);
2. scores it against the separated vocal's melody (:func:`kit.score_singing`),
   which also measures the singer's latency against that vocal;
3. moves the take by that latency and mixes it over the backing
   (:func:`kit.automix`, its own alignment off: the pitch-based delay is the
   surer one between two different singers);
4. shows the note lanes with the singer's pitch (:func:`kit.plot.plot_note_lanes`),
   the score and its two sentences, players and downloads of the mix and the
   take, and a table of the last three takes' scores.

A step that fails shows one sentence and leaves the last good take's results
as they were. No DSP happens here, only calls to kit.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import numpy as np

from .download import PageValues
from .problem import show_problem
from .recorder import Recorder
from .upload import UPLOAD_LIMIT_MB

__all__ = ["SingPanel", "sing_panel", "describe_problem", "KEEP_TAKES"]

KEEP_TAKES = 3  # takes kept in the table to compare
_SLACK_S = 1.0  # a take may run this much past the song (the browser stops 0.4 s after the song's end)
_MIN_TAKE_S = 3.0  # kit.automix needs one loudness-range window
_SILENT_PEAK = 1e-3  # -60 dBFS, as kit.score_singing

_PROBLEMS = {
    "refused": "The browser was not allowed to use the microphone: allow it (the microphone or lock icon "
               "by the address) and press Record again.",
    "missing": "No microphone was found (or another program holds it): plug one in or free it, "
               "then press Record again.",
    "unavailable": "This browser keeps the microphone from this page: open the app over https or at "
                   "localhost, in a current browser.",
    "too_big": f"The take is over the {UPLOAD_LIMIT_MB} MB limit a take can be sent with; sing a shorter part.",
    "backing": "The backing track could not be played in the browser; separate the song again and press Record.",
    "other": "The microphone could not be started; press Record again (or reload the page).",
}
_BOLD = " style='font-weight:600'"  # the newest take's row
_VERDICT_COLOURS = {"in tune": "#2e7d32", "flat": "#1565c0", "sharp": "#c62828", "missed": "#757575"}


def describe_problem(problem: dict) -> str:
    """The one sentence for a microphone problem the browser reported.

    Examples
    --------
    >>> describe_problem({"kind": "refused"})[:49]
    'The browser was not allowed to use the microphone'
    """
    return _PROBLEMS.get(problem.get("kind"), _PROBLEMS["other"])


class SingPanel(widgets.VBox):
    """The Sing section (an ``ipywidgets.VBox``); make it with :func:`sing_panel`.

    For scripts and tests it carries its parts: ``recorder`` (set its ``take`` to sing),
    ``error``, ``status``, ``result`` (the last take's score, picture, players and
    download buttons), ``history`` (the table); its settings: ``format`` (of the
    downloads: a string, or a callable returning one); and its state: ``takes`` (the
    last :data:`KEEP_TAKES` takes, newest first: dicts with ``number``, ``report``,
    ``mix``, ``take``, ``delay_s``) and ``downloads`` (the mix's and the take's buttons).
    """

    def __init__(self, *, workdir=None, format="mp3"):
        from .workdir import make_session_folder

        self.workdir = workdir or make_session_folder()
        self.format = format  # "mp3", "wav", or a callable asked at each download (the app's chooser)
        self.backing, self.vocal, self.sr, self.song_name = None, None, None, "song"
        self._backing_bytes = (None, None)  # (the mix's settings, the backing encoded for the browser): one kept
        self._shifted = (None, 0.0, None)  # (vocal, semitones, the vocal in that key): one kept
        self.semitones = 0.0
        self.takes: list[dict] = []
        self._count = 0
        self.downloads = ()

        self.intro = widgets.HTML(
            "<div style='white-space:normal'>Press <b>Record</b>: the backing track plays from the start and "
            "your microphone records you singing along; <b>Stop</b> ends the take. kit lines it up, scores "
            "each note against the original singer's melody and mixes your voice over the band. "
            "<b>Wear headphones</b>, so the microphone hears only you.</div>")
        self.recorder = Recorder(get_backing=self._encode_backing)
        self.recorder.add_class("kit-recorder")
        self.busy = widgets.Box(layout=widgets.Layout(width="100%"))
        self.status = widgets.HTML()
        self.status.add_class("kit-sing-status")
        self.error = widgets.HTML(layout=widgets.Layout(display="none", width="auto"))
        self.error.add_class("kit-sing-error")
        self.result = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.result.add_class("kit-sing-result")
        self.history = widgets.HTML()
        self.history.add_class("kit-sing-history")
        super().__init__([self.intro, self.recorder, self.busy, self.status, self.error,
                          self.result, self.history], layout=widgets.Layout(width="100%"))
        self.add_class("kit-sing")
        self.recorder.observe(self._on_take, names="take")
        self.recorder.observe(self._on_problem, names="problem")
        self.set_song(None, None, None)

    # --- the song to sing over ------------------------------------------------------

    def set_song(self, backing, vocal, sr, *, song_name: str | None = None, semitones: float = 0.0) -> None:
        """Sing over ``backing``, scored against ``vocal``.

        ``backing``: an array, a callable returning one when needed, or a
        :class:`kit.ui.mixer.StemMixer`: then the backing is the mix as the page
        shows it when Record is pressed (the kernel may not have heard of the last
        change yet), in its key, and the take is scored and mixed over that.
        ``backing`` None: nothing to sing over yet (Record is off). ``vocal`` None:
        no vocals stem, so no melody to score against (Record is off, and says why).
        ``semitones``: the backing's key change (a mixer's own is used instead); the
        vocal is shifted as much before scoring, so the singer is scored in the key they hear.
        A new song clears the takes; a new mix of the same song keeps them.
        """
        new_song = vocal is not self.vocal or sr != self.sr
        self.backing, self.vocal, self.sr = backing, vocal, sr
        self.semitones = float(semitones or 0.0)
        self.song_name = (song_name or "song").strip() or "song"
        self._backing_bytes = (None, None)
        self.recorder.read_from(backing.page_controls() if _is_mixer(backing) else [])
        self.recorder.new_backing()
        if backing is None:
            reason = "Separate the song (or a preview) first: you sing over its backing track."
        elif vocal is None:
            reason = ("This separation has no vocals stem, so there is no melody to score against; "
                      "choose a model that separates vocals (e.g. unet).")
        else:
            reason = ""
        self.recorder.disabled, self.recorder.disabled_reason = bool(reason), reason
        self.status.value = f"<span style='color:#555'>{html.escape(reason)}</span>" if reason else ""
        if new_song:
            self.takes, self.downloads = [], ()
            self.result.children, self.history.value = (), ""
            self.show_error(None)

    def _settings(self, page) -> dict | None:
        """The mixer's settings as the page showed them (``page``: a PageValues); None without a mixer."""
        return self.backing.settings_on_page(page) if _is_mixer(self.backing) else None

    def _backing_array(self, settings: dict | None = None) -> np.ndarray:
        if _is_mixer(self.backing):
            backing = self.backing.render(settings)
        else:
            backing = self.backing() if callable(self.backing) else self.backing
        return np.asarray(backing, dtype=np.float32)

    def _reference(self, settings: dict | None = None) -> np.ndarray:
        """The separated vocal in the key the backing is in (the mixer's ``settings``' key, if given)."""
        from ..pitch import shift_pitch

        target = float(settings["semitones"]) if settings is not None else self.semitones
        if not target:
            return self.vocal
        vocal, semitones, shifted = self._shifted
        if vocal is not self.vocal or semitones != target:
            shifted = shift_pitch(self.vocal, int(self.sr), semitones=target)
            self._shifted = (self.vocal, target, shifted)
        return shifted

    def _encode_backing(self, page=None) -> bytes | None:
        """The backing for the browser, as the mixer was on the page at Record (``page``: a PageValues)."""
        import json

        from .player import encode_for_player

        if self.backing is None:
            return None
        settings = self._settings(page)
        key = json.dumps(settings, sort_keys=True)
        if self._backing_bytes[0] != key or self._backing_bytes[1] is None:
            self._backing_bytes = (key, encode_for_player(self._backing_array(settings), self.sr)[0])
        return self._backing_bytes[1]

    # --- messages -------------------------------------------------------------------

    def show_error(self, message: str | None) -> None:
        """Show ``message`` as the section's one sentence (None hides it)."""
        show_problem(self.error, message)

    def _on_problem(self, change) -> None:
        self.status.value = ""
        self.show_error(describe_problem(change["new"]) if change["new"] else None)

    # --- a take ---------------------------------------------------------------------

    def _on_take(self, change) -> None:
        from .karaoke import describe_failure
        from .progress import make_progress_bar

        take = change["new"]
        if not take:
            return
        self.show_error(None)
        self.recorder.busy = True
        bar, progress = make_progress_bar("Scoring")
        self.busy.children = (bar,)
        self.status.value = "Scoring your take and mixing it..."
        try:
            entry = self._process(np.asarray(take["y"], dtype=np.float32), int(take["sr"]), progress,
                                  page=PageValues(take.get("page")))
            shown, downloads = self._render(entry)  # all made before anything is replaced: nothing half-done
        except Exception as exc:  # the section is the singer's only view: one sentence, no traceback
            self.status.value = ""
            self.show_error(describe_failure(exc, doing="scoring your take"))
            return
        finally:
            self.recorder.busy = False
            self.busy.children = ()
            self.recorder.take = {}  # forget the bytes; the next take is news again
        self.status.value = ""
        self._count = entry["number"]
        self.takes = [entry, *self.takes][:KEEP_TAKES]
        self.result.children, self.downloads = shown, downloads
        self._show_history()

    def _check_take(self, y: np.ndarray, take_sr: int, song_s: float) -> None:
        from ..errors import AudioContentError

        if y.ndim == 1:
            y = y[np.newaxis]
        take_s = y.shape[-1] / take_sr
        if y.size == 0 or float(np.max(np.abs(y))) < _SILENT_PEAK:
            raise AudioContentError("Your take is silent (nothing above -60 dBFS): check that the right microphone "
                                    "is chosen and not muted, then press Record again.")
        if take_s > song_s + _SLACK_S:
            raise AudioContentError(f"Your take ({take_s:.1f} s) is longer than the song ({song_s:.1f} s); "
                                    "press Record again and sing along with the song.")
        if take_s < _MIN_TAKE_S:
            raise AudioContentError(f"Your take is only {take_s:.1f} s long; sing at least {_MIN_TAKE_S:g} s of "
                                    "the song, then press Stop.")

    def _process(self, y: np.ndarray, take_sr: int, progress, page=None) -> dict:
        """Score the take and mix it over the backing that played (the mixer as ``page`` showed it at Record)."""
        from ..audio import resample
        from ..automix import automix
        from ..errors import AudioContentError
        from ..singing import score_singing

        if self.backing is None or self.vocal is None:
            raise AudioContentError(self.recorder.disabled_reason or "Separate the song first.")
        settings = self._settings(page)
        backing = self._backing_array(settings)
        sr = int(self.sr)
        self._check_take(y, take_sr, backing.shape[1] / sr)
        y = y if y.ndim == 2 else y[np.newaxis]
        if take_sr != sr:  # browsers record at 48 kHz; songs are usually 44.1 kHz
            y = resample(y, take_sr, sr=sr)
        progress(0.1)
        t0 = time.perf_counter()
        reference = self._reference(settings)
        report = score_singing(y, reference, sr)
        score_s = time.perf_counter() - t0
        progress(0.4)
        lined_up = _shift(y, -int(round(report["delay_s"] * sr)), backing.shape[1])
        mix, mix_report = automix(lined_up, backing, sr, reference_vocal=reference, align=False,
                                  progress=lambda f: progress(0.4 + 0.5 * f))
        progress(0.95)
        return {"number": self._count + 1, "report": report, "mix": mix, "mix_report": mix_report,
                "take": y, "lined_up": lined_up, "delay_s": report["delay_s"], "score_s": score_s}

    # --- showing it -------------------------------------------------------------------

    def _render(self, entry: dict) -> tuple[tuple, tuple]:
        """The widgets showing a take (score, sentences, picture, players, downloads) and its two download buttons."""
        from ..plot import plot_note_lanes
        from .player import make_figure, make_image, render_figure

        report = entry["report"]
        fig = make_figure((9.0, 3.4))
        plot_note_lanes(report, ax=fig.subplots(), title=f"Take {entry['number']}: how each note went")
        picture = make_image()
        picture.value = render_figure(fig)
        counts = "".join(f"<span style='color:{_VERDICT_COLOURS[v]};margin-right:10px'>&#9632; {report['counts'][v]} "
                         f"{v}</span>" for v in _VERDICT_COLOURS)
        lines = report.as_text().splitlines()
        summary = (f"<div class='kit-sing-score' style='font-size:150%;font-weight:700;margin:4px 0'>"
                   f"Score: {report['score']}/100</div>"
                   f"<div class='kit-sing-summary' style='white-space:normal'>{html.escape(report['summary'])}</div>"
                   f"<div class='kit-sing-delay' style='color:#555;white-space:normal'>{html.escape(lines[1])}</div>"
                   f"<div style='margin:4px 0;white-space:normal'>{counts}</div>"
                   + (f"<details class='kit-sing-notes'><summary>The notes that were not in tune</summary>"
                      f"<pre style='margin:2px 0;white-space:pre-wrap'>{html.escape(chr(10).join(lines[2:]))}</pre>"
                      f"</details>" if lines[2:] else ""))
        parts, downloads = self._make_downloads(entry)
        return (widgets.HTML(summary), picture, *parts), downloads

    def _make_downloads(self, entry: dict) -> tuple[tuple, tuple]:
        from .download import make_download
        from .player import make_player

        def chosen_format() -> str:
            return self.format() if callable(self.format) else self.format

        name, number = self.song_name, entry["number"]
        # encoded when clicked, in the format chosen then
        mix = make_download(entry["mix"], self.sr, f"{name} (my take {number}, mixed)", format=chosen_format,
                            workdir=self.workdir, label="Download the mix")
        take = make_download(entry["take"], self.sr, f"{name} (my take {number})", format=chosen_format,
                             workdir=self.workdir, label="Download the take (as recorded)")
        mix.add_class("kit-sing-mix")
        take.add_class("kit-sing-take")
        return (widgets.HTML("<b>Your voice over the band</b>"), make_player(entry["mix"], self.sr), mix,
                widgets.HTML("<b>Your take, as recorded</b>"), make_player(entry["take"], self.sr), take), (mix, take)

    def _show_history(self) -> None:
        rows = "".join(
            f"<tr{_BOLD if i == 0 else ''}><td>Take {t['number']}</td>"
            f"<td>{t['report']['score']}/100</td>"
            f"<td>{t['report']['counts']['in tune']} of {len(t['report']['notes'])}</td>"
            f"<td>{1000 * t['delay_s']:+.0f} ms</td></tr>"
            for i, t in enumerate(self.takes))
        cell = "padding:2px 10px 2px 0;text-align:left"
        self.history.value = (
            f"<style>.kit-sing-history td,.kit-sing-history th{{{cell}}}</style>"
            f"<b>Your takes</b> (newest first; the last {KEEP_TAKES} are kept to compare)"
            f"<table><tr><th>take</th><th>score</th><th>notes in tune</th><th>lag</th></tr>{rows}</table>")


def _is_mixer(backing) -> bool:
    """A mixer (:class:`kit.ui.mixer.StemMixer`, or anything with its page methods), not an array or callable."""
    return hasattr(backing, "settings_on_page") and hasattr(backing, "page_controls")


def _shift(y: np.ndarray, n: int, length: int) -> np.ndarray:
    """``y`` moved by ``n`` samples (negative: earlier), cut or padded to ``length``."""
    out = np.zeros((y.shape[0], length), dtype=np.float32)
    src = y[:, max(0, -n):]
    start = max(0, n)
    count = max(0, min(src.shape[1], length - start))
    out[:, start:start + count] = src[:, :count]
    return out


def sing_panel(*, workdir=None, format="mp3") -> SingPanel:
    """Make the Sing section: record over a backing track, get scored against the original melody.

    Give it a song with :meth:`SingPanel.set_song` (the karaoke maker does, after
    each separation and mix change).

    Parameters
    ----------
    workdir : str or Path, optional
        Private folder for the downloads' temporary files (default: this kernel's session folder).
    format : {"mp3", "wav"} or callable
        The downloads' format; a callable is asked at each download (the karaoke maker's chooser).

    Returns
    -------
    SingPanel

    Examples
    --------
    >>> panel = sing_panel()
    >>> panel.recorder.disabled
    True

    See also
    --------
    notebooks/09_karaoke_maker.ipynb, notebooks/10_pitch_and_singing.ipynb, kit.score_singing
    """
    return SingPanel(workdir=workdir, format=format)
