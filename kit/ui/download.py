"""A one-click browser download: a button that makes the file in the kernel and saves it.

ipywidgets has no download button, and a link needs the file ready before anyone
clicks, so an app used to ask for two clicks ("Make the download", then the link).
:class:`DownloadButton` is an ``anywidget`` (plain browser code, no build step; it
works in Voila, JupyterLab, Notebook 7 and Colab). A click sends one small message
to the kernel; the kernel makes the file at that moment (so it is always the mix
as it is now, in the format chosen now), and sends its bytes back in the same
widget channel as a binary buffer (no base64, no file server). The browser puts
them in a Blob and saves it under the given name with a hidden ``<a download>``.
A "save again" link stays beside the button, in case a browser asked first.

The kernel's copy of a widget's value can be behind the page's: ipywidgets holds a
change back while the kernel is busy with that widget's previous one, and kit's page
mixer tells the kernel of a gain 400 ms after its slider stops. So a button made with
``reads`` (the widgets the file is made from) sends their values as the page shows
them with the click, and ``make_file(page=...)`` makes the file from those.

Needing no file server, it works the same under ``kit app``, plain ``voila``,
Binder and JupyterLab, and one visitor's files are never reachable by another.
Kernel-to-browser messages have no Tornado size limit; a 5-minute song is about
12 MB as MP3 (320 kb/s) and 53 MB as 16-bit WAV.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["DownloadButton", "PageValues", "PAGE_STATE_JS", "make_download", "encode_audio", "name_download",
           "DOWNLOAD_FORMATS"]

# format -> MIME type
DOWNLOAD_FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav"}

# What the page shows now of the widgets named in a widget's ``reads`` trait: ``{model id: {trait: value}}``.
# A widget tells the kernel of a change a moment later (a mixer gain waits 400 ms; ipywidgets holds a
# change back while the kernel is busy with the previous one), so a click can reach the kernel before
# the change it follows. Shared with the recorder (kit.ui.recorder), whose Record click reads the mixer.
PAGE_STATE_JS = r"""
async function pageState(model) {
  const page = {};
  for (const [id, keys] of model.get("reads") || []) {
    try {
      const other = await model.widget_manager.get_model(id);
      page[id] = Object.fromEntries(keys.map((k) => [k, other.get(k)]));
    } catch (err) { /* gone (a new mixer): the kernel uses what it has */ }
  }
  return page;
}
"""

_ESM = PAGE_STATE_JS + r"""
const PROBLEM = "box-sizing:border-box;border:1px solid #c62828;background:#ffebee;color:#b71c1c;" +
  "padding:8px 12px;border-radius:4px;white-space:normal;margin-top:4px;max-width:100%";
const NOTE = "color:#555;white-space:normal;margin-top:4px;max-width:100%;overflow-wrap:anywhere";

function render({ model, el }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "jupyter-button widget-button mod-primary kit-download-button";
  button.style.width = "auto";
  button.style.maxWidth = "100%";
  button.style.height = "auto";
  button.style.minHeight = "var(--jp-widgets-inline-height, 28px)";
  button.style.whiteSpace = "normal";
  const note = document.createElement("div");
  note.className = "kit-download-note";
  note.setAttribute("role", "status");
  note.style.display = "none";
  el.style.margin = "var(--jp-widgets-margin, 2px)";
  el.style.maxWidth = "100%";
  el.append(button, note);
  let waiting = false;
  let url = null;

  function update() {
    button.textContent = "";
    const icon = document.createElement("i");
    icon.className = waiting ? "fa fa-spinner fa-spin" : "fa fa-download";
    button.append(icon, " " + (waiting ? "Preparing the file..." : model.get("description")));
    button.disabled = model.get("disabled") || waiting;
  }
  function say(parts, style) {
    note.textContent = "";
    if (style === PROBLEM) {
      const label = document.createElement("b");
      label.textContent = "Problem: ";
      note.append(label);
    }
    note.append(...parts);
    note.style.cssText = parts.length ? style : "display:none";
    note.dataset.kind = style === PROBLEM ? "problem" : "saved";
  }
  function save(name) {
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.style.display = "none";
    el.append(a);
    a.click();
    a.remove();
  }

  button.addEventListener("click", async () => {
    waiting = true;
    update();
    say([], NOTE);
    model.send({ event: "click", page: await pageState(model) });
  });
  const onMessage = (msg, buffers) => {
    if (!msg || !waiting) return;
    waiting = false;
    update();
    if (msg.event === "file" && buffers && buffers.length) {
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(new Blob([buffers[0]], { type: msg.mime }));
      save(msg.name);
      const again = document.createElement("a");
      again.href = url;
      again.download = msg.name;
      again.className = "kit-download-again";
      again.textContent = "save again";
      const mb = (buffers[0].byteLength / 1e6).toFixed(1);
      say(["Saved '" + msg.name + "' (" + mb + " MB) to your downloads (", again, ")."], NOTE);
    } else if (msg.event === "error") {
      say([String(msg.text)], PROBLEM);
    }
  };
  model.on("msg:custom", onMessage);
  model.on("change:description change:disabled", update);
  update();
  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:description change:disabled", update);
    if (url) URL.revokeObjectURL(url);
  };
}
export default { render };
"""


def name_download(filename: str, format: str) -> str:
    """The name a browser saves under: no folder separators, the extension set by ``format``.

    Examples
    --------
    >>> name_download("AC/DC (no vocals).mp3", "wav")
    'AC-DC (no vocals).wav'
    """
    stem = Path(str(filename).replace("/", "-").replace("\\", "-")).stem or "backing track"
    return f"{stem}.{format.lower()}"


def encode_audio(y, sr: int, *, format: str = "mp3", workdir) -> bytes:
    """Encode a waveform as MP3 (320 kb/s) or WAV (16-bit PCM) and return the file's bytes.

    WAV is 16-bit here, not kit.save's 32-bit float, because that is what music players
    and phones open; values beyond full scale are clipped (the app's limiter is on at first).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> data = encode_audio(np.zeros((2, 4410), np.float32), 44100, format="wav", workdir=tempfile.mkdtemp())
    >>> data[:4]
    b'RIFF'
    """
    import numpy as np

    from ..audio import check_audio, encode_wav, save
    from ..errors import OptionError

    format = format.lower()
    if format not in DOWNLOAD_FORMATS:
        raise OptionError(f"Unknown download format '{format}'; use one of: {', '.join(DOWNLOAD_FORMATS)}.")
    y = check_audio(y, what="The track to download")
    if format == "wav":
        return encode_wav(y, sr)
    folder = Path(workdir) / "exports"  # FFmpeg's MP3 encoder writes a file
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export.{format}"
    try:
        save(path, np.clip(y, -1.0, 1.0), sr)
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


class DownloadButton(anywidget.AnyWidget):
    """A button that downloads a file the kernel makes when it is clicked: one click.

    Parameters
    ----------
    make_file : callable
        ``make_file() -> (filename, data)``, run in the kernel at each click. A
        ``KitError`` it raises is shown beside the button as one sentence.
    description : str
        The button's words, e.g. ``"Download the backing track"``.

    Attributes
    ----------
    filename, size_bytes
        What the last click sent (``None`` / 0 before the first).

    Examples
    --------
    >>> button = DownloadButton(lambda: ("a.txt", b"hello"), description="Download a.txt")
    >>> button.click()
    ('a.txt', b'hello')
    """

    _esm = _ESM
    description = traitlets.Unicode("Download").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    reads = traitlets.List().tag(sync=True)  # [[model id, [trait names]], ...]: sent back with a click

    def __init__(self, make_file, *, reads=None, **kwargs):
        super().__init__(**kwargs)
        self._make_file = make_file
        self._passes_page = reads is not None
        self.read_from(reads or [])
        self.filename, self.size_bytes = None, 0
        self.on_msg(self._on_browser_message)

    def read_from(self, reads) -> None:
        """Which widgets' values a click brings from the page: ``[(widget, ["value"]), ...]``."""
        self.reads = [[widget.model_id, list(keys)] for widget, keys in reads]

    def click(self, page: dict | None = None) -> tuple[str, bytes] | None:
        """Do what a click in the browser does; return ``(filename, data)`` sent, or None after a problem.

        ``page`` is what the browser sends with a click: ``{model id: {trait: value}}`` of
        the widgets named in ``reads``, as the page showed them. Made with ``reads``, the
        button calls ``make_file(page=PageValues(page))``; a script's click passes none,
        and the kernel's values are used.
        """
        from .karaoke import describe_failure

        try:
            if self._passes_page:
                name, data = self._make_file(page=PageValues(page))
            else:
                name, data = self._make_file()
        except Exception as exc:  # the page is the user's only view: say it in words, stop the spinner
            self.send({"event": "error", "text": describe_failure(exc, doing="making the download")})
            return None
        name = Path(str(name)).name
        mime = DOWNLOAD_FORMATS.get(Path(name).suffix.lstrip(".").lower(), "application/octet-stream")
        self.filename, self.size_bytes = name, len(data)
        self.send({"event": "file", "name": name, "mime": mime}, buffers=[data])
        return name, bytes(data)

    def _on_browser_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "click":
            page = content.get("page")
            self.click(page if isinstance(page, dict) else None)


class PageValues:
    """The values a click saw on the page, falling back on the kernel's for anything not sent.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> key = widgets.FloatSlider(value=0.0)
    >>> PageValues({key.model_id: {"value": 2}}).get(key, "value"), PageValues(None).get(key, "value")
    (2, 0.0)
    """

    def __init__(self, page: dict | None):
        self._page = page if isinstance(page, dict) else {}

    def get(self, widget, key: str):
        state = self._page.get(widget.model_id)
        if isinstance(state, dict) and key in state:
            return state[key]
        return getattr(widget, key)


def make_download(y, sr: int, filename: str, *, format: str = "mp3", workdir, label: str | None = None):
    """A one-click button that downloads ``y`` as ``filename`` (encoded when clicked).

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples), or a callable returning one
        The track; a callable is called at each click (the mix as it is then).
    sr : int
        Sample rate in Hz.
    filename : str or callable
        The name the browser saves under, e.g. ``"Song (no vocals, -1 st).mp3"``;
        the extension is set to match ``format``.
    format : {"mp3", "wav"} or callable
        A callable is asked at each click (a format chooser's current value).
    workdir : str or Path
        A private folder for the temporary encoded file (removed right after).
    label : str, optional
        Button text; default ``"Download"``.

    Returns
    -------
    DownloadButton

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> button = make_download(np.zeros((2, 44100), np.float32), 44100, "Silence.mp3", format="wav",
    ...                        workdir=tempfile.mkdtemp())
    >>> name, data = button.click()
    >>> name, data[:4]
    ('Silence.wav', b'RIFF')

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """

    def make_file():
        fmt = (format() if callable(format) else format).lower()
        audio = y() if callable(y) else y
        name = name_download(filename() if callable(filename) else filename, fmt)
        return name, encode_audio(audio, sr, format=fmt, workdir=workdir)

    button = DownloadButton(make_file, description=label or "Download")
    button.add_class("kit-download")
    return button
