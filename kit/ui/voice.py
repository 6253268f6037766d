""""Add my voice": upload a recorded vocal, get it mixed over the backing track, hear and download it.

The widget only gathers the file and the two choices a singer cares about (how
loud the voice sits, reverb or not); the mixing is :func:`kit.automix`, run in the
button's click handler with a progress bar (no threads).
"""

from __future__ import annotations

import html

__all__ = ["add_my_voice"]


_REPORT_STYLE = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;line-height:1.45;font-size:90%"


def add_my_voice(backing, sr: int, *, reference_vocal=None, song_name: str | None = None, workdir=None):
    """Make the "add my voice" panel: upload a take, mix it over ``backing``, play and download it.

    Parameters
    ----------
    backing : np.ndarray, shape (channels, samples)
        The backing track the singer sang over.
    sr : int
        Its sample rate in Hz; an upload at another rate is resampled to it.
    reference_vocal : np.ndarray, optional
        The song's original vocal stem (same rate and timeline as ``backing``), for a
        sure timing match; without it the take is matched against the backing.
    song_name : str, optional
        Used in the download's file name, ``"<song_name> (my mix).mp3"``.
    workdir : str or Path, optional
        A private folder for uploads and exports (default: this kernel's session folder).

    Returns
    -------
    widget : ipywidgets.VBox
        Display it. For scripts and tests it also carries ``.upload``, ``.take_note``, ``.button``,
        ``.target``, ``.reverb``, ``.results`` (a VBox holding the download link with
        its player and the report, or the error message) and ``.result`` (``None``, or a dict with
        ``mix``, ``sr``, ``report`` after a mix).

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
    from .progress import make_progress_bar
    from .upload import UPLOAD_LIMIT_MB, load_uploaded, read_upload
    from .upload_button import UploadButton
    from .workdir import make_session_folder

    backing = check_audio(backing, what="The backing track")
    sr = int(sr)
    name = (song_name or "song").strip() or "song"
    intro = widgets.HTML(
        "<b>Add your voice.</b> Sing along with the backing track (wear headphones so the band does not leak "
        "into the microphone), record yourself on a phone or computer, and upload the recording "
        f"(wav, mp3, m4a, ...; up to {UPLOAD_LIMIT_MB} MB). kit lines it up, levels, compresses, EQs and adds "
        "reverb, and tells you what it did."
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
    bar.layout.visibility = "hidden"
    results = widgets.VBox()
    level_row = widgets.HBox([target, target_note], layout=widgets.Layout(flex_flow="row wrap"))  # phones: 2 lines
    panel = widgets.VBox([intro, upload, take_note, level_row, reverb,
                          widgets.HBox([button, bar]), results])
    panel.upload, panel.button, panel.target, panel.reverb, panel.results = upload, button, target, reverb, results
    panel.take_note = take_note
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
            download = make_download(mix, sr, f"{name} (my mix).mp3", format="mp3", workdir=folder)
            progress(1.0)
        except KitError as exc:
            bar.bar_style = "danger"
            results.children = (widgets.HTML(f"<b style='color:#b00020'>{html.escape(str(exc))}</b>"),)
            return
        finally:
            button.disabled = False
        panel.result = {"mix": mix, "sr": sr, "report": report}
        results.children = (
            widgets.HTML("<b>Your mix</b>"),
            download,  # its link and a player of the same MP3
            # wrapped at spaces: the page's own style for <pre> broke lines inside words
            widgets.HTML(f"<b>What was done</b><pre style='{_REPORT_STYLE}'>"
                         f"{html.escape(note + report.as_text())}</pre>"),
        )

    button.on_click(on_click)
    return panel
