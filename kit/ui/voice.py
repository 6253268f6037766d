""""Add my voice": upload a recorded vocal, get it mixed over the backing track, hear and download it.

The widget only gathers the file and the two choices a singer cares about (how
loud the voice sits, reverb or not); the mixing is :func:`kit.automix`, run in the
button's click handler with a progress bar (no threads). The result leads with two
or three plain sentences (:func:`describe_mix`); the engineer's numbers (LUFS, dBTP,
compressor settings) are one click away, in a "The numbers" section.
"""

from __future__ import annotations

import html

__all__ = ["add_my_voice", "describe_mix"]


_REPORT_STYLE = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;line-height:1.45;font-size:90%"


def _db(value: float) -> str:
    return f"{abs(value):.1f} dB"


def describe_mix(report: dict, *, reference_name: str = "the song's vocal") -> str:
    """Two or three plain sentences: what kit did to the voice and why (no LUFS, no dBTP).

    Parameters
    ----------
    report : dict
        The report of :func:`kit.automix`.
    reference_name : str
        What the timing was matched against, e.g. ``"the song's vocal (as kit separated it)"``.

    Examples
    --------
    >>> print(describe_mix({"level": {"difference_before_lu": -2.0, "gain_db": 1.5, "target_lu": -0.5}}))
    Your voice was 2.0 dB quieter than the band; kit raised it by 1.5 dB, so it sits just under the band, ...
    """
    sentences = []
    align = report.get("alignment")
    if align:
        ms = abs(float(align.get("offset_ms", 0.0)))
        if align.get("shifted"):
            late = align["offset_ms"] > 0
            sentences.append(f"Your voice came in {ms:.0f} ms {'late' if late else 'early'} against "
                             f"{reference_name}; kit moved it {'earlier' if late else 'later'} to match.")
        elif ms == 0 and align.get("clarity", 0) >= 6:
            sentences.append(f"Your voice was already in time with {reference_name}.")
        else:
            sentences.append(f"kit found no clear timing match with {reference_name}, so it left your timing "
                             "as it was.")
    level = report.get("level")
    if level:
        before, gain, target = level["difference_before_lu"], level["gain_db"], level["target_lu"]
        where = ("just under the band, as in most records" if -1.5 <= target < 0 else
                 "level with the band" if target == 0 else
                 "in front of the band" if target > 0 else "behind the band")
        if abs(gain) < 0.25:
            sentences.append(f"Your voice was already at a good level against the band, {where}; kit left it.")
        else:
            sentences.append(f"Your voice was {_db(before)} {'louder' if before > 0 else 'quieter'} than the band; "
                             f"kit {'raised' if gain > 0 else 'lowered'} it by {_db(gain)}, so it sits {where}.")
    polish = []
    if (report.get("compression") or {}).get("steps"):
        polish.append("evened out your loud and soft passages")
    if (report.get("eq") or {}).get("filters"):
        polish.append("shaped its tone so the band does not cover it")
    if report.get("reverb"):
        polish.append(f"added a little reverb, as long as the song's tempo ({report['reverb']['tempo_bpm']:.0f} BPM) "
                      "suggests")
    if (report.get("output") or {}).get("gain_db", 0) < 0:
        polish.append("turned the whole mix down a little so its peaks do not distort")
    if polish:
        sentences.append("It also " + (", ".join(polish[:-1]) + " and " if len(polish) > 1 else "") + polish[-1] + ".")
    return " ".join(sentences)


def add_my_voice(backing, sr: int, *, reference_vocal=None, reference_name: str = "the original vocal",
                 song_name: str | None = None, workdir=None, format: str = "mp3"):
    """Make the "add my voice" panel: upload a take, mix it over ``backing``, play and download it.

    Parameters
    ----------
    backing : np.ndarray, shape (channels, samples)
        The backing track the singer sang over.
    sr : int
        Its sample rate in Hz; an upload at another rate is resampled to it.
    reference_vocal : np.ndarray, optional
        The song's vocal (same rate and timeline as ``backing``), for a sure timing
        match; without it the take is matched against the backing. The karaoke
        maker passes the vocal stem it separated.
    reference_name : str
        What ``reference_vocal`` is, in the singer's words (the report names it).
    song_name : str, optional
        Used in the download's file name, ``"<song_name> (my mix).mp3"``.
    workdir : str or Path, optional
        A private folder for uploads and exports (default: this kernel's session folder).
    format : {"mp3", "wav"}
        The download's format; the panel's ``format`` attribute may be changed later
        (the karaoke maker follows its own format choice).

    Returns
    -------
    widget : ipywidgets.VBox
        Display it. For scripts and tests it also carries ``.upload``, ``.take_note``, ``.button``,
        ``.target``, ``.reverb``, ``.bar`` (the progress bar, hidden when no mix is running),
        ``.results`` (a VBox holding the plain-words summary, a player, the download button
        and the numbers, or the error message), ``.download`` (the download button, once
        mixed), ``.format`` and ``.result`` (``None``, or a dict with ``mix``, ``sr``,
        ``report``, ``summary`` after a mix).

    Examples
    --------
    >>> import kit
    >>> from kit.ui import add_my_voice
    >>> y, sr = kit.examples.load_song(duration_s=4.0)
    >>> panel = add_my_voice(y, sr, song_name="Example song")
    >>> panel.button.description
    'Mix my voice'

    See also
    --------
    notebooks/08_vocal_mixing.ipynb, notebooks/09_karaoke_maker.ipynb
    """
    import ipywidgets as widgets

    from ..audio import check_audio, resample
    from ..automix import TARGET_LU, automix
    from ..errors import InputFileError, KitError
    from .download import make_download
    from .player import make_player
    from .progress import make_progress_bar
    from .upload import UPLOAD_LIMIT_MB, load_uploaded, read_upload
    from .upload_button import UploadButton
    from .workdir import make_session_folder

    backing = check_audio(backing, what="The backing track")
    sr = int(sr)
    name = (song_name or "song").strip() or "song"
    timing = (f"lines it up with {html.escape(reference_name)}" if reference_vocal is not None
              else "lines it up with the backing track")
    intro = widgets.HTML(
        "<b>Add your voice.</b> Sing along with the backing track (wear headphones so the band does not leak "
        "into the microphone), record yourself on a phone or computer, and upload the recording "
        f"(wav, mp3, m4a, ...; up to {UPLOAD_LIMIT_MB} MB). kit {timing}, sets your level against the band, "
        "evens out and shapes your voice, adds reverb, and tells you what it did."
    )
    # refuses a file over the limit in the browser, before sending it (see kit.ui.upload_button)
    upload = UploadButton(accept="audio/*,.wav,.mp3,.m4a,.aac,.ogg,.opus,.flac", description="Upload take")
    target = widgets.FloatSlider(value=TARGET_LU, min=-6.0, max=3.0, step=0.5, description="Voice level",
                                 readout_format="+.1f", style={"description_width": "initial"},
                                 tooltip="your voice minus the band, in LU; -0.5 is where pro mixes sit")
    target_note = widgets.HTML("<span style='color:#555;white-space:normal'>LU against the band (-0.5: where pro "
                               "mixes sit; higher puts you more in front)</span>",
                               layout=widgets.Layout(max_width="100%"))  # wraps on a phone instead of running off
    reverb = widgets.Checkbox(value=True, description="Reverb (its length follows the song's tempo)",
                              indent=False, layout=widgets.Layout(width="auto"))  # the default cut the label
    take_note = widgets.HTML()  # which take is ready: the upload button itself keeps no name

    def on_take(change):
        if change["new"]:
            take = change["new"][0]
            take_note.value = (f"Take ready: <b>{html.escape(str(take['name']))}</b> ({take['size'] / 1e6:.1f} MB). "
                               "Press <i>Mix my voice</i>.")

    upload.observe(on_take, "value")
    button = widgets.Button(description="Mix my voice", button_style="primary", icon="microphone")
    bar, progress = make_progress_bar("Mixing")
    bar.add_class("kit-voice-progress")
    bar.layout.visibility = "hidden"
    results = widgets.VBox()
    level_row = widgets.HBox([target, target_note], layout=widgets.Layout(flex_flow="row wrap"))  # phones: 2 lines
    panel = widgets.VBox([intro, upload, take_note, level_row, reverb,
                          widgets.HBox([button, bar]), results])
    panel.upload, panel.button, panel.target, panel.reverb, panel.results = upload, button, target, reverb, results
    panel.take_note, panel.bar, panel.download, panel.format = take_note, bar, None, format
    panel.result = None

    def on_click(_):
        results.children = ()
        bar.value, bar.bar_style, bar.layout.visibility = 0.0, "info", "visible"
        button.disabled = True
        try:
            if not upload.value:
                raise InputFileError("No recording uploaded yet: click 'Upload take' and choose your recorded vocal.")
            filename, data = read_upload(upload)
            folder = workdir or make_session_folder()
            y, take_sr = load_uploaded(filename, data, workdir=folder)
            note = ""
            if take_sr != sr:  # phones record at 48 kHz; the backing is usually 44.1 kHz
                y = resample(y, take_sr, sr=sr)
                note = f"Your recording was at {take_sr} Hz; converted to {sr} Hz to match the backing.\n"
            progress(0.05)
            mix, report = automix(y, backing, sr, reference_vocal=reference_vocal, target_lu=target.value,
                                  reverb=reverb.value, progress=lambda f: progress(0.05 + 0.85 * f))
            player = make_player(mix, sr)
            # encoded when clicked, in the format chosen then (WAV stays WAV)
            download = make_download(mix, sr, f"{name} (my mix)", format=lambda: panel.format, workdir=folder,
                                     label="Download my mix")
            progress(1.0)
        except KitError as exc:
            results.children = (widgets.HTML(f"<b style='color:#b00020'>{html.escape(str(exc))}</b>"),)
            return
        finally:
            button.disabled = False
            bar.layout.visibility = "hidden"  # done (or failed, said below): a full bar would read "still busy"
        summary = describe_mix(report, reference_name=reference_name if reference_vocal is not None
                               else "the backing track")
        panel.result = {"mix": mix, "sr": sr, "report": report, "summary": summary}
        panel.download = download
        # wrapped at spaces: the page's own style for <pre> broke lines inside words
        details = widgets.HTML(f"<pre style='{_REPORT_STYLE}'>{html.escape(note + _details(report, reference_name))}"
                               "</pre>")
        numbers = widgets.Accordion(children=[details], titles=("The numbers (for sound engineers)",),
                                    selected_index=None, layout=widgets.Layout(width="100%"))
        numbers.add_class("kit-voice-numbers")
        words = widgets.HTML(f"<div class='kit-voice-summary' style='white-space:normal;line-height:1.45'>"
                             f"{html.escape(summary)}</div>"
                             + (f"<div style='color:#555'>{html.escape(note.strip())}</div>" if note else ""))
        results.children = (widgets.HTML("<b>Your mix</b>"), words, player, download, numbers)

    button.on_click(on_click)
    return panel


def _details(report, reference_name: str) -> str:
    """automix's own report, with the reference named as the singer knows it."""
    text = report.as_text().replace("the original vocal", reference_name)
    # automix's advice to give a reference: the app gave one (the separated vocal) already
    return text.replace(" Give the original vocal as the reference for a sure match.", "")
