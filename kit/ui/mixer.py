"""A stem mixer widget: switch stems on and off, solo them, set gains, shift the key, hear the result.

All the sound is made by kit functions: :func:`kit.make_backing_track` mixes; in
another key each kept stem (and what the model put in no stem) is shifted on its own
by :func:`kit.pitch.shift_pitch` and the shifted tracks are only added, never
subtracted (two shifted signals meant to cancel, such as the song and its vocal,
would not); :func:`kit.mix.apply_limiter` holds the peaks (on at
first: a song's own peaks plus a stem's gain easily pass full scale). The widget
only keeps the settings and shows what they give.

Two players: ``player="kernel"`` (lessons) re-mixes in the kernel and sends the mix
to an audio player after each change, which shows exactly what kit computed;
``player="browser"`` (the karaoke app) sends each stem to the page once and mixes
there (:mod:`kit.ui.web_mixer`), so switches and gains act at once on a whole song;
the kernel then renders only the download, the limiter's gain curve and, for a key
change, the stems in the new key. Either way :meth:`StemMixer.render` makes the
download from the settings the listener has.
"""

from __future__ import annotations

import math
import time
import warnings

import ipywidgets as widgets
import numpy as np

from .player import FIGURE_DPI, make_figure, make_image, make_player, render_figure, update_player

__all__ = ["StemMixer", "stem_mixer"]

_GAIN_MIN_DB, _GAIN_MAX_DB = -24.0, 12.0
_SEMITONES = 12.0
# FFmpeg's limiter colours even a quiet mix a little (1 % at -40 dBFS, measured), so the mixer
# runs it only when the samples come within 2 dB of full scale: 1 dB under the -1 dBTP ceiling
# leaves room for peaks between samples.
_LIMIT_ABOVE = 10 ** (-2.0 / 20)


# Rubber Band (R3, pedalboard) shifts a stereo track about 12x faster than it plays on one core of a
# 2020s laptop (4-minute song, 2 stems and the residue, 2 cores: 27-30 s); the first key change's
# progress bar moves by this, later ones by the speed the mixer measured.
_SHIFT_SPEED = 12.0
# A key change on a song longer than this goes to the page in stretches: the first this long, each
# next one twice the one before (kit.stream_map.map_with_context with 3 s of context each side).
# Twice, not 3x: the second block must be shifted while the first plays (5 tracks on 2 cores shift
# ~5 s of song a second; with 3x the second stretch came 2.2 s before the playhead needed it).
_KEY_BLOCKS_FROM_S, _KEY_FIRST_S = 60, 15
_PROGRESS_EVERY_S = 0.25


def _show_progress_meanwhile(futures: list, progress, *, expected_s: float, start: float) -> None:
    """Move ``progress`` while ``futures`` run: by tracks done, and between them by the time expected.

    A key change is one Rubber Band call per track, all at once, so counting finished tracks alone
    would hold the bar at 0 for the whole wait and then jump; the estimate stops at 95 % until all are done.
    """
    from concurrent.futures import FIRST_EXCEPTION, wait

    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=_PROGRESS_EVERY_S, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            return  # the caller's result() raises it
        by_time = min(0.95, (time.monotonic() - start) / max(expected_s, 1e-3))
        progress(max(by_time, 1.0 - len(pending) / len(futures)))


def _fmt_db(value: float) -> str:
    return f"{value:+g}"


class StemMixer(widgets.VBox):
    """Stem mixer widget (an ``ipywidgets.VBox``); make it with :func:`stem_mixer`.

    Public interface used by apps:

    ``settings``
        ``dict(gains_db={stem: dB}, dropped=[...], semitones=float, limit=bool)``;
        ``gains_db`` lists the stems that play; the limiter starts on.
    ``render()``
        The current mix, ``(channels, samples)`` float32: what the player plays.
    ``describe()``
        Short text for a file name, e.g. ``"no vocals, -1 st"``.
    ``observe_mix(callback)``
        ``callback(mixer)`` runs after every re-render.
    ``set_stem(name, on=, solo=, gain_db=)``, ``set_key(semitones)``, ``set_limiter(on)``
        Move the controls as a listener would; ``controls(name)`` reads a stem's.
    ``sr``
        Sample rate in Hz.
    ``web``
        With ``player="browser"``: the :class:`kit.ui.web_mixer.WebMixer` that plays
        and mixes in the page (None otherwise).
    ``extend(stems, mixture=...)``, ``ready_s``
        Add the next part of a song separated part by part; seconds it holds so far.
    """

    def __init__(self, stems: dict, sr: int, *, mixture=None, title=None, show_plots=True,
                 key_shift=True, limiter=True, limit=True, player: str = "kernel",
                 duration_s: float | None = None, drop=()):
        from ..audio import check_audio
        from ..errors import OptionError

        if player not in ("kernel", "browser"):
            raise OptionError(f"player={player!r} is not a player; use 'kernel' or 'browser'.")
        if not stems:
            raise OptionError("stem_mixer needs stems, e.g. stem_mixer(kit.separate(y, sr), sr).")
        self._stems = {str(k): check_audio(v, what=f"Stem '{k}'") for k, v in stems.items()}
        unknown = [str(n) for n in drop if str(n) not in self._stems]
        if unknown:
            raise OptionError(f"drop={unknown} names no stem of this mixer; it has: {', '.join(self._stems)}.")
        shapes = {a.shape for a in self._stems.values()}
        if len(shapes) != 1:
            raise OptionError(f"Stems differ in shape ({sorted(shapes)}); they must come from one separation.")
        self._mixture = None if mixture is None else check_audio(mixture, what="The mixture")
        if self._mixture is not None and self._mixture.shape != next(iter(shapes)):
            raise OptionError(f"The mixture has shape {self._mixture.shape} but the stems {next(iter(shapes))};"
                              " pass the song the stems came from.")
        self.sr = int(sr)
        self._callbacks = []
        self._unlimited = None  # (gains and key, the mix before the limiter): a key shift takes seconds
        self._current = None  # (settings key, rendered mix)

        self.web = None
        self._sent_semitones = 0.0  # the key of the stems the page has
        self._shifted = None  # (semitones, the tracks in that key): a shift takes seconds
        self._shift_speed = _SHIFT_SPEED  # measured at each key change, for the next one's progress bar
        self._quiet = False
        row_layout = widgets.Layout(align_items="center")
        self._on, self._solo, self._gain = {}, {}, {}
        rows = []
        if player == "browser":
            from .web_mixer import WebMixer

            n = next(iter(shapes))[1]
            self.web = WebMixer(list(self._stems), self.sr,
                                duration_s=n / self.sr if duration_s is None else float(duration_s))
            self.web.on = {name: name not in drop for name in self._stems}
            self.web.observe(self._on_control, names=["gains_db", "on", "solo"])
            rows.append(self.web)
            self._send_part(0, n, new_generation=False)
        for name in self._stems if player == "kernel" else ():
            on = widgets.ToggleButton(value=name not in drop, description="on", tooltip=f"play {name}",
                                      icon="volume-up", layout=widgets.Layout(width="70px"))
            solo = widgets.ToggleButton(value=False, description="solo", tooltip="hear only soloed stems",
                                        layout=widgets.Layout(width="70px"))
            gain = widgets.FloatSlider(value=0.0, min=_GAIN_MIN_DB, max=_GAIN_MAX_DB, step=0.5,
                                       description="gain dB", continuous_update=False,
                                       readout_format="+.1f", layout=widgets.Layout(width="340px"))
            self._on[name], self._solo[name], self._gain[name] = on, solo, gain
            label = widgets.HTML(f"<b>{name}</b>", layout=widgets.Layout(width="130px"))
            rows.append(widgets.HBox([label, on, solo, gain], layout=row_layout))
            for w in (on, solo, gain):
                w.observe(self._on_control, names="value")

        extras = []
        self._semitones = widgets.FloatSlider(
            value=0.0, min=-_SEMITONES, max=_SEMITONES, step=1.0, description="key (st)",
            continuous_update=False, readout_format="+.0f", layout=widgets.Layout(width="340px"),
            tooltip="shift the key in semitones (takes a few seconds on a long song)")
        self._semitones.observe(self._on_control, names="value")
        if key_shift:
            extras.append(self._semitones)
        on = bool(limit and limiter)  # a limiter not offered is off: nothing hidden changes the sound
        self._limit = widgets.Checkbox(value=on, description=_limiter_words(on), indent=False)
        self._limit.observe(self._on_control, names="value")
        self._has_limiter = bool(limiter)
        if limiter:
            extras.append(self._limit)

        self._status = widgets.HTML()
        self._note = widgets.HTML()
        self._busy = widgets.Box()
        self.player = make_player()
        if self.web is not None:
            self.player.layout.display = "none"  # the page plays the stems itself
        children = []
        if title:
            children.append(widgets.HTML(f"<h3 style='margin:4px 0'>{title}</h3>"))
        children += rows
        if extras:
            children.append(widgets.HBox(extras, layout=row_layout))
        children += [self._busy, self._status, self.player, self._note]
        self.figure = None
        if show_plots:
            self.figure = make_image()
            children.append(self.figure)
        super().__init__(children)
        if show_plots and (self.web is None or self.ready_s >= self.web.duration_s - 1e-3):
            self._draw()  # a song still coming part by part is drawn once it is all in (extend)
        self._show_switches()
        self._update()

    # --- state ---------------------------------------------------------------

    @property
    def stems(self) -> list[str]:
        return list(self._stems)

    @property
    def settings(self) -> dict:
        """What the mix is made of: kept stems with their gains, dropped stems, key, limiter."""
        return self.settings_on_page(None)

    def page_controls(self) -> list:
        """The widgets that set the mix, with their traits: ``[(widget, ["value"]), ...]``.

        A download button reads them from the page at its click (``DownloadButton.read_from``).
        """
        if self.web is not None:
            controls = [(self.web, ["on", "solo", "gains_db"])]
        else:
            controls = [(w, ["value"]) for group in (self._on, self._solo, self._gain) for w in group.values()]
        return controls + [(self._semitones, ["value"]), (self._limit, ["value"])]

    def settings_on_page(self, page) -> dict:
        """:attr:`settings` as a page showed them (a :class:`kit.ui.download.PageValues`; None: the kernel's).

        The page tells the kernel of a change a moment later; a download made at a click
        uses what the listener saw and heard then.
        """
        from .download import PageValues

        page = page if page is not None else PageValues(None)
        if self.web is not None:  # what the page plays (it tells the kernel after each change)
            on, solo, gains = (page.get(self.web, k) or {} for k in ("on", "solo", "gains_db"))
        else:
            on, solo, gains = ({n: page.get(w, "value") for n, w in group.items()}
                               for group in (self._on, self._solo, self._gain))
        soloed = [n for n in self._stems if solo.get(n)]
        kept = soloed if soloed else [n for n in self._stems if on.get(n, True)]
        return {
            "gains_db": {n: float(gains.get(n, 0.0)) for n in kept},
            "dropped": [n for n in self._stems if n not in kept],
            "semitones": float(page.get(self._semitones, "value")),
            "limit": bool(page.get(self._limit, "value")),
        }

    def describe(self, settings: dict | None = None) -> str:
        """A few words for a file name: ``"no vocals, drums -3 dB, -1 st"`` (of ``settings``, default the current)."""
        s = self.settings if settings is None else settings
        kept, dropped = list(s["gains_db"]), s["dropped"]
        if not kept:
            parts = ["silence"]
        elif not dropped:
            parts = ["full mix"]
        elif len(kept) < len(dropped):
            parts = ["only " + " + ".join(kept)]
        else:
            parts = ["no " + " + ".join(dropped)]
        parts += [f"{n} {_fmt_db(g)} dB" for n, g in s["gains_db"].items() if g != 0.0]
        if s["semitones"]:
            parts.append(f"{_fmt_db(s['semitones'])} st")
        return ", ".join(parts)

    def observe_mix(self, callback) -> None:
        """Call ``callback(mixer)`` after every re-render (the player holds the new mix)."""
        self._callbacks.append(callback)

    def set_stem(self, name: str, *, on: bool | None = None, solo: bool | None = None,
                 gain_db: float | None = None) -> None:
        """Set a stem's switch, solo or gain as a listener would (the mix re-renders).

        Examples
        --------
        >>> mixer.set_stem("vocals", on=False)  # doctest: +SKIP
        """
        from ..errors import OptionError

        if name not in self._stems:
            raise OptionError(f"No stem '{name}' in this mixer; it has: {', '.join(self._stems)}.")
        if self.web is not None:
            self._quiet = True  # one update for the three settings
            try:
                for key, value in (("on", on), ("solo", solo), ("gains_db", gain_db)):
                    if value is not None:
                        kind = float if key == "gains_db" else bool
                        setattr(self.web, key, {**getattr(self.web, key), name: kind(value)})
            finally:
                self._quiet = False
            self._on_control(None)
            return
        if on is not None:
            self._on[name].value = bool(on)
        if solo is not None:
            self._solo[name].value = bool(solo)
        if gain_db is not None:
            self._gain[name].value = float(gain_db)

    def controls(self, name: str) -> dict:
        """Where stem ``name``'s controls are: ``dict(on=, solo=, gain_db=)`` (as :meth:`set_stem` takes them)."""
        if self.web is not None:
            return {"on": bool(self.web.on[name]), "solo": bool(self.web.solo[name]),
                    "gain_db": float(self.web.gains_db[name])}
        return {"on": self._on[name].value, "solo": self._solo[name].value, "gain_db": self._gain[name].value}

    def set_limiter(self, on: bool) -> None:
        """Switch the limiter on or off as a listener would (when it is offered)."""
        if self._has_limiter:
            self._limit.value = bool(on)

    def set_key(self, semitones: float) -> None:
        """Move the key slider as a listener would (the mix re-renders in the new key).

        Examples
        --------
        >>> mixer.set_key(-1)  # doctest: +SKIP
        """
        from ..pitch import check_semitones

        self._semitones.value = check_semitones(semitones)

    # --- sound -----------------------------------------------------------------

    def _mix_in_key(self, s: dict) -> np.ndarray:
        """The mix of ``settings`` ``s`` in its key, before the limiter; the latest one is kept.

        In the song's key: :func:`kit.make_backing_track` (``method="minus"`` with the
        mixture). In another: the kept stems and the residue, each shifted once per key
        (:meth:`_tracks_in_key`, the tracks the page plays), only added, so nothing is
        subtracted after a shift (two shifted signals do not cancel) and a switch or a gain
        in the new key costs a sum, not another shift. The download is what the page plays.
        """
        key = (tuple(sorted(s["gains_db"].items())), s["semitones"])
        if self._unlimited is not None and self._unlimited[0] == key:
            return self._unlimited[1]
        from ..errors import KitWarning
        from ..mix import make_backing_track
        from .web_mixer import REST_NAME

        if not s["gains_db"]:
            y = np.zeros_like(next(iter(self._stems.values())))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", KitWarning)  # the widget says it in words instead
                if s["semitones"]:
                    tracks = self._tracks_in_key(s["semitones"])
                    # what the model put in no stem plays whenever a stem does
                    keep = [*s["gains_db"], *([REST_NAME] if REST_NAME in tracks else [])]
                    y = make_backing_track(tracks, keep=keep, gains_db=s["gains_db"], method="sum")
                else:
                    y = make_backing_track(self._stems, keep=list(s["gains_db"]), gains_db=s["gains_db"],
                                           method="sum" if self._mixture is None else "minus",
                                           mixture=self._mixture, sr=self.sr)
        self._unlimited = (key, y)
        return y

    def _tracks(self) -> dict:
        """What the mix is made of: the stems and, with the mixture, the residue when it is not silent.

        The residue (mixture minus all stems: what the model put in no stem) plays whenever a
        stem plays, so the sum of the kept tracks is ``method="minus"``'s mix. It is left out
        when it is under -60 dB.
        """
        from .web_mixer import REST_NAME

        tracks = dict(self._stems)
        if self._mixture is not None:
            rest = self._mixture - np.sum(list(self._stems.values()), axis=0, dtype=np.float64)
            level = float(np.sqrt(np.mean(np.square(self._mixture, dtype=np.float64))))
            if float(np.sqrt(np.mean(np.square(rest)))) > 1e-3 * level:
                tracks[REST_NAME] = rest.astype(np.float32)
        return tracks

    def _tracks_in_key(self, semitones: float, on_piece=None) -> dict:
        """:meth:`_tracks` shifted by ``semitones``, each on its own, at once on the CPU's cores; kept per key.

        A song over :data:`_KEY_BLOCKS_FROM_S` is shifted from its start in blocks (15, 30, 60 s...), every track
        of a block at once (:func:`kit.stream_map.map_with_context`: 3 s of context each side,
        each join lined up by one lag for all the tracks together and cross-faded over 50 ms), and
        ``on_piece(start_sample, {name: piece})`` hears of each stretch as it is done: the page
        plays the new key's first seconds while the rest is shifted. All in, it takes about as
        long as shifting each track whole; each next stretch is ready before it plays.
        """
        if not semitones:
            return self._tracks()
        if self._shifted is None or self._shifted[0] != semitones:
            import os
            from concurrent.futures import ThreadPoolExecutor

            from ..progress import scaled
            from .progress import make_progress_bar

            tracks = self._tracks()
            n = next(iter(tracks.values())).shape[1]
            bar, progress = make_progress_bar(f"Key {_fmt_db(semitones)} st")
            self._busy.children = (bar,)
            workers = max(1, min(len(tracks), os.cpu_count() or 1))  # cores the shift keeps busy
            start = time.monotonic()
            # pedalboard's Rubber Band lets go of the GIL: all tracks at once, the cores shared between
            # them, so none waits for a free core while another sits idle at the end (5 tracks on 2
            # cores: 2.5 tracks' time, not 3)
            try:
                with ThreadPoolExecutor(len(tracks)) as pool:
                    if n <= _KEY_BLOCKS_FROM_S * self.sr:
                        shifted = self._shift_tracks(tracks, semitones, pool, workers, progress)
                        if on_piece is not None:
                            on_piece(0, shifted)
                    else:
                        from ..pitch import _ALIGN_S
                        from ..stream_map import map_with_context

                        edges = [0]  # each block twice the one before: few joins, each ready before it plays
                        while edges[-1] < n:
                            edges.append(min(n, _KEY_FIRST_S * self.sr * (2 ** len(edges) - 1)))
                        blocks = ({k: v[:, a:b] for k, v in tracks.items()}
                                  for a, b in zip(edges[:-1], edges[1:], strict=True))
                        done, pieces = 0, {k: [] for k in tracks}

                        def shift_block(block: dict) -> dict:
                            length = next(iter(block.values())).shape[1]
                            ahead = min(1.0, (done + length) / n)  # roughly where this block ends
                            return self._shift_tracks(block, semitones, pool, workers,
                                                      scaled(progress, done / n, ahead))

                        for piece in map_with_context(blocks, shift_block, sr=self.sr, align_s=_ALIGN_S):
                            for k, v in piece.items():
                                pieces[k].append(v)
                            if on_piece is not None:
                                on_piece(done, piece)
                            done += next(iter(piece.values())).shape[1]
                            progress(done / n)
                        shifted = {k: np.concatenate(v, axis=1) for k, v in pieces.items()}
                        del pieces
            finally:
                self._busy.children = ()
            # seconds of audio shifted per second on one core, for the next key's progress bar
            audio_s = len(tracks) * n / self.sr
            self._shift_speed = audio_s / workers / max(time.monotonic() - start, 1e-3)
            self._shifted = (semitones, shifted)
        elif on_piece is not None:
            on_piece(0, self._shifted[1])
        return self._shifted[1]

    def _shift_tracks(self, tracks: dict, semitones: float, pool, workers: int, progress) -> dict:
        """Every track of ``tracks`` shifted at once in ``pool``, ``progress`` moving meanwhile."""
        from ..pitch import shift_pitch

        audio_s = sum(y.shape[-1] for y in tracks.values()) / self.sr
        futures = {name: pool.submit(shift_pitch, y, self.sr, semitones=semitones) for name, y in tracks.items()}
        _show_progress_meanwhile(list(futures.values()), progress,
                                 expected_s=audio_s / (self._shift_speed * workers), start=time.monotonic())
        return {name: future.result() for name, future in futures.items()}

    @staticmethod
    def _key(s: dict) -> tuple:
        return (tuple(sorted(s["gains_db"].items())), s["semitones"], s["limit"])

    def render(self, settings: dict | None = None) -> np.ndarray:
        """The current mix, ``(channels, samples)`` float32, exactly what the player plays.

        ``settings`` (from :meth:`settings_on_page`) renders the mix a page showed instead.

        Made by :func:`kit.make_backing_track` from the stems with the kept
        stems' gains (``method="minus"`` when the widget was given the mixture);
        in another key, the kept stems and the residue each shifted on its own and
        added (see :meth:`_mix_in_key`); then limited when the limiter is on and
        the mix comes within 2 dB of full scale. Silence when every stem is off.
        """
        s = self.settings if settings is None else settings
        key = self._key(s)
        if self._current is not None and self._current[0] == key:
            return self._current[1].copy()
        from ..mix import apply_limiter

        y = self._mix_in_key(s)
        if s["limit"] and np.max(np.abs(y), initial=0.0) > _LIMIT_ABOVE:
            y = apply_limiter(y, self.sr)
        self._current = (key, y)
        return y.copy()

    # --- display ------------------------------------------------------------------

    def _draw(self) -> None:
        from ..plot import plot_stems

        fig = make_figure((9.0, 0.6 + 1.1 * len(self._stems)))
        axes = fig.subplots(len(self._stems), 1, sharex=True, squeeze=False)[:, 0]
        plot_stems(self._stems, self.sr, axes=axes, title="The stems (as separated, before the mixer)")
        self.figure.value = render_figure(fig, dpi=FIGURE_DPI)

    # --- the browser's player -------------------------------------------------------

    @property
    def ready_s(self) -> float:
        """Seconds of the song the stems cover so far (all of it unless :meth:`extend` is to come)."""
        return next(iter(self._stems.values())).shape[1] / self.sr

    def _page_tracks(self, a: int, b: int) -> dict:
        """Samples ``a:b`` of what the page mixes, in the key it plays (:meth:`_tracks_in_key`).

        The page only adds them (nothing in it cancels), as the kernel's mix in another key does.
        """
        return {name: y[:, a:b] for name, y in self._tracks_in_key(self._sent_semitones).items()}

    def _send_part(self, a: int, b: int, *, new_generation: bool) -> None:
        """Encode samples ``a:b`` of the page's tracks and send them to the page."""
        self.web.add_part(self._page_tracks(a, b), start_s=a / self.sr, new_generation=new_generation)

    def extend(self, stems: dict, *, mixture=None) -> None:
        """Add the next stretch of the stems (a long song separated part by part) and send it to the page.

        Parameters
        ----------
        stems : dict of str to np.ndarray, shape (channels, samples)
            The same stems as before, for the samples that follow.
        mixture : np.ndarray, optional
            The song for those samples; needed when the mixer was given the mixture.
        """
        from ..audio import check_audio
        from ..errors import OptionError

        if set(stems) != set(self._stems):
            raise OptionError(f"extend() needs the stems {sorted(self._stems)}, got {sorted(stems)}.")
        if (mixture is None) != (self._mixture is None):
            raise OptionError("Pass the mixture to extend() exactly when the mixer was made with one.")
        a = next(iter(self._stems.values())).shape[1]
        self._stems = {k: np.concatenate([v, check_audio(stems[k], what=f"Stem '{k}'")], axis=1)
                       for k, v in self._stems.items()}
        if mixture is not None:
            self._mixture = np.concatenate([self._mixture, check_audio(mixture, what="The mixture")], axis=1)
        self._unlimited = self._current = self._shifted = None
        b = next(iter(self._stems.values())).shape[1]
        if self.web is not None and b > a:
            self._send_part(a, b, new_generation=False)
        if self.web is None or self.ready_s >= self.web.duration_s - 1e-3:  # the whole song is in
            if self.figure is not None:
                self._draw()
            self._update()  # the peak and the limiter's gain, now over the whole song

    def _update_page(self, y: np.ndarray) -> None:
        """After a change: the stems in a new key, and the limiter's gain, for the page."""
        from .web_mixer import measure_limiter_gain

        s = self.settings
        unlimited = self._mix_in_key(s)
        if y.shape == unlimited.shape and not np.array_equal(y, unlimited):  # the limiter acted
            self.web.set_limiter_gain(*measure_limiter_gain(unlimited, y, self.sr), limit=s["limit"])
        else:
            self.web.set_limiter_gain(None, limit=s["limit"])

    def _send_key_to_page(self) -> None:
        """The page's tracks in the key the kernel now has; a long song's go stretch by stretch as they are shifted."""
        semitones = self.settings["semitones"]
        if semitones == self._sent_semitones:
            return
        self._sent_semitones = semitones
        first = [True]

        def send(a: int, tracks: dict) -> None:
            self.web.add_part(tracks, start_s=a / self.sr, new_generation=first[0])
            first[0] = False

        try:
            if semitones:
                self._tracks_in_key(semitones, on_piece=send)
            else:
                send(0, self._tracks())
        except BaseException:
            self._sent_semitones = None  # the page may hold part of it: the next change sends all again
            raise

    def _update(self) -> None:
        if self.web is not None:
            if self.settings["semitones"] != self._sent_semitones:
                self._status.value = (f"<b>Playing:</b> {self.describe()} <span style='color:#555'>(moving the "
                                      f"key: the page plays it from the start as each stretch is ready)</span>")
            self._send_key_to_page()  # before the kernel's mix: the page may play the new key's start at once
        y = self.render()
        if self.web is not None:
            self._update_page(y)
        else:
            update_player(self.player, y, self.sr)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
        limiter = (" - limiter on" if self._limit.value else " - limiter off") if self._has_limiter else ""
        self._status.value = f"<b>Playing:</b> {self.describe()}{limiter} &nbsp; <span style='color:#555'>" \
                             f"(peak {peak_db:+.1f} dBFS)</span>"
        if peak > 1.0:
            advice = "switch on the limiter or turn a stem down" if self._has_limiter else "turn a stem down"
            self._note.value = (f"<span style='color:#b00'>The mix peaks at {peak_db:+.1f} dBFS, above full "
                                f"scale: it will clip when played or saved. Please {advice}.</span>")
        else:
            self._note.value = ""
        for callback in self._callbacks:
            callback(self)

    def _on_control(self, change) -> None:
        if self._quiet:
            return
        self._show_switches()
        self._update()

    def _show_switches(self) -> None:
        """Say on the buttons what is heard: muted stems read "off", soloed ones light up."""
        self._limit.description = _limiter_words(self._limit.value)
        for name in self._stems if self.web is None else ():  # the page's own buttons say it
            on, solo = self._on[name], self._solo[name]
            on.description, on.icon = ("on", "volume-up") if on.value else ("off", "volume-off")
            solo.button_style = "warning" if solo.value else ""

def _limiter_words(on: bool) -> str:
    return "limiter on (holds peaks below -1 dBFS)" if on else "limiter off (peaks may clip)"


def stem_mixer(stems: dict, sr: int, *, mixture=None, title=None, show_plots: bool = True,
               key_shift: bool = True, limiter: bool = True, limit: bool = True, player: str = "kernel",
               duration_s: float | None = None, drop=()):
    """A mixer for separated stems: on/off, solo and gain per stem, key shift, limiter, one player.

    Parameters
    ----------
    stems : dict of str to np.ndarray, shape (channels, samples)
        From :func:`kit.separate` or :func:`kit.examples.make_multitrack`.
    sr : int
        Sample rate in Hz.
    mixture : np.ndarray, optional
        The original song. When given, the mix is the song minus the stems you
        switch off (``method="minus"``), which keeps what the model put in no stem.
    title : str, optional
    show_plots : bool
        Show the stems' waveforms (:func:`kit.plot.plot_stems`).
    key_shift : bool
        Offer a key slider in semitones (:func:`kit.pitch.shift_pitch` on each
        track, one per CPU core at once; seconds to a minute on a long song).
    limiter : bool
        Offer the limiter switch (:func:`kit.mix.apply_limiter`, peaks below -1 dBFS).
    limit : bool
        Start with the limiter on (the default): a mix of unchanged stems can
        still pass full scale, and a first result that clips would mislead.
    player : {"kernel", "browser"}
        ``kernel``: every change is mixed here and sent to an audio player.
        ``browser``: the stems go to the page once (MP3) and are mixed there at
        once (:class:`kit.ui.web_mixer.WebMixer`); the kernel computes the key
        change and the limiter's gain.
    duration_s : float, optional
        The song's length when ``stems`` is only its first part (``player="browser"``;
        :meth:`StemMixer.extend` adds the rest).
    drop : list of str
        Stems switched off at first (a karaoke maker starts without the singer); the
        first mix is made that way, not made and then made again.

    Solo wins over on/off: while any stem is soloed, exactly the soloed stems play.

    Returns
    -------
    mixer : StemMixer
        An ``ipywidgets.VBox``; see :class:`StemMixer` for ``settings``,
        ``render()``, ``describe()`` and ``observe_mix()``.

    Examples
    --------
    >>> import kit
    >>> from kit.ui import stem_mixer
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> mixer = stem_mixer(stems, 44100, show_plots=False)
    >>> mixer.set_stem("vocals", on=False)
    >>> mixer.describe()
    'no vocals'

    See also
    --------
    kit.make_backing_track, notebooks/09_karaoke_maker.ipynb
    """
    return StemMixer(stems, sr, mixture=mixture, title=title, show_plots=show_plots, key_shift=key_shift,
                     limiter=limiter, limit=limit, player=player, duration_s=duration_s, drop=drop)
