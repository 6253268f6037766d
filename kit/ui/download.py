"""A real browser download of a waveform: a link with the ``download`` attribute.

The file is encoded in the kernel (:func:`kit.save`, so MP3 goes through FFmpeg)
and its bytes reach the browser inside a widget message, as a binary buffer of an
``ipywidgets.Audio`` player (no base64, no file server). The browser keeps them
as a Blob; the link takes that Blob's address when clicked, so the download is
the exact file the player plays. Needing no file server, it works the same under
``kit app``, plain ``voila``, Binder and JupyterLab, and one visitor's files are
never reachable by another. Kernel-to-browser messages have no Tornado size
limit; a 5-minute song is about 12 MB as MP3 (320 kb/s) and 53 MB as 16-bit WAV.
"""

from __future__ import annotations

import html
from pathlib import Path

__all__ = ["make_download", "encode_audio", "DOWNLOAD_FORMATS"]

# format -> (MIME type, the Audio widget's format name)
DOWNLOAD_FORMATS = {"mp3": ("audio/mpeg", "mpeg"), "wav": ("audio/wav", "wav")}

# Inline handler (ipywidgets' HTML widget runs no <script>, but keeps attributes): point
# the link at the Blob the player next to it was given. The download runs after the
# handler, with the new address.
_ON_CLICK = (
    "var b=this.closest('.kit-download'),a=b&&b.querySelector('audio');"
    "if(a&&a.src){this.href=a.src;}else{event.preventDefault();}"
)


def encode_audio(y, sr: int, *, format: str = "mp3", workdir) -> bytes:
    """Encode a waveform as MP3 (320 kb/s) or WAV (16-bit PCM) and return the file's bytes.

    WAV is 16-bit here, not kit.save's 32-bit float, because that is what music players
    and phones open; values beyond full scale are clipped (the app offers a limiter).

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


def make_download(y, sr: int, filename: str, *, format: str = "mp3", workdir, label: str | None = None):
    """Make a widget whose link downloads ``y`` as ``filename`` in the browser.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        The track.
    sr : int
        Sample rate in Hz.
    filename : str
        The name the browser saves under, e.g. ``"Song (no vocals, -1 st).mp3"``;
        the extension is set to match ``format``.
    format : {"mp3", "wav"}
    workdir : str or Path
        A private folder for the temporary encoded file (removed right after).
    label : str, optional
        Link text; default ``"Download <filename>"``.

    Returns
    -------
    ipywidgets.VBox
        A ``<a download=...>`` link above a player of the same file;
        ``.filename`` and ``.size_bytes`` say what it holds.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> w = make_download(np.zeros((2, 44100), np.float32), 44100, "Silence.wav", format="wav",
    ...                   workdir=tempfile.mkdtemp())
    >>> w.filename
    'Silence.wav'

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    import ipywidgets as widgets

    format = format.lower()
    data = encode_audio(y, sr, format=format, workdir=workdir)
    stem = Path(filename.replace("/", "-").replace("\\", "-")).stem or "backing track"
    name = f"{stem}.{format}"
    mime, audio_format = DOWNLOAD_FORMATS[format]
    player = widgets.Audio(value=data, format=audio_format, autoplay=False, loop=False, controls=True,
                           layout=widgets.Layout(width="100%", max_width="480px"))
    text = label or f"Download {name}"
    link = widgets.HTML(
        f'<a class="kit-download-link" download="{html.escape(name)}" type="{mime}" href="#" '
        f'onclick="{_ON_CLICK}" style="display:inline-block;padding:6px 14px;border-radius:4px;'
        f'background:#1565c0;color:white;text-decoration:none;font-weight:600;word-break:break-word">'
        f"&#x2B07; {html.escape(text)}</a> <span style='color:#555'>({len(data) / 1e6:.1f} MB)</span>"
    )
    box = widgets.VBox([link, player], layout=widgets.Layout(width="100%"))
    box.add_class("kit-download")
    box.filename = name
    box.size_bytes = len(data)
    return box
