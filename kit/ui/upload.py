"""Turn a file the browser uploaded into audio (through :func:`kit.load`).

Uploads travel over the kernel's websocket, whose default message limit in
Tornado (about 10 MB) drops an ordinary MP3 without a word. ``kit app`` raises
that limit (see :mod:`kit.app_server`); the app states :data:`UPLOAD_LIMIT_MB`
on the page, and its upload button (:mod:`kit.ui.upload_button`) refuses a bigger
file in the browser, before sending anything. The check here is the second line
of defence, for uploads that come another way (a plain ``FileUpload``, a script).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputFileError

__all__ = ["UPLOAD_LIMIT_MB", "read_upload", "load_uploaded", "check_upload_size", "too_big_message"]

# The largest upload the app accepts, in MB (10**6 bytes): any MP3 song, a 16-bit
# stereo WAV of about 9 minutes. The upload button stops a bigger file in the browser;
# a file over the websocket limit (kit.app_server.WEBSOCKET_LIMIT_MB) would otherwise
# drop the connection without a word.
UPLOAD_LIMIT_MB = 100


def too_big_message(filename: str, megabytes: str) -> str:
    """The sentence that refuses a file over :data:`UPLOAD_LIMIT_MB` (``megabytes`` already written out).

    The upload button's browser code fills in the same sentence from
    ``too_big_message("{name}", "{mb}")``, so both refusals read alike.

    >>> too_big_message("take.wav", "300")[:62]
    "'take.wav' is 300 MB; the app takes files up to 100 MB. Export"
    """
    return (f"'{filename}' is {megabytes} MB; the app takes files up to {UPLOAD_LIMIT_MB} MB. "
            "Export it as MP3 (a song is a few MB), or use the command line: kit backing FILE --drop vocals.")


def check_upload_size(size_bytes: int, *, filename: str = "the file") -> None:
    """Refuse a file over :data:`UPLOAD_LIMIT_MB` with a message saying what to do."""
    if size_bytes > UPLOAD_LIMIT_MB * 10**6:
        raise InputFileError(too_big_message(filename, f"{size_bytes / 1e6:.0f}"))


def read_upload(upload_widget) -> tuple[str, bytes]:
    """Return ``(filename, data)`` of the file in an ipywidgets 8 ``FileUpload``.

    Parameters
    ----------
    upload_widget : ipywidgets.FileUpload
        Its ``value`` is a tuple of dicts with ``name`` and ``content`` (a memoryview).

    Returns
    -------
    filename : str
        The name the browser gave (no folders).
    data : bytes
        The file's bytes.

    Raises
    ------
    InputFileError
        Nothing uploaded yet, or the file is over :data:`UPLOAD_LIMIT_MB`.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> up = widgets.FileUpload()
    >>> import datetime
    >>> up.value = ({"name": "song.mp3", "content": memoryview(b"ID3..."), "size": 6, "type": "audio/mpeg",
    ...              "last_modified": datetime.datetime.now()},)
    >>> read_upload(up)
    ('song.mp3', b'ID3...')

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    value = upload_widget.value
    if isinstance(value, dict):  # ipywidgets 7 kept {name: {...}}; accept it too
        value = tuple({"name": k, **v} for k, v in value.items())
    if not value:
        raise InputFileError("No file uploaded yet. Click 'Upload' and choose a song file.")
    item = value[-1]
    name = os.path.basename(str(item.get("name") or "upload")) or "upload"
    content = item.get("content", b"")
    size = int(item.get("size") or len(content))
    check_upload_size(size, filename=name)
    return name, bytes(content)


def load_uploaded(filename: str, data: bytes, *, workdir) -> tuple:
    """Decode uploaded bytes with :func:`kit.load`, through a file in ``workdir``.

    Parameters
    ----------
    filename : str
        The uploaded file's name; its ending helps FFmpeg, and errors name it.
    data : bytes
        The file's content.
    workdir : str or Path
        A private folder (one per kernel, e.g. :func:`kit.ui.workdir.make_session_folder`).

    Returns
    -------
    y : np.ndarray, float32, shape (channels, samples)
    sr : int

    Raises
    ------
    InputFileError
        Empty, too big, or not audio: one line naming the file and the fix.

    Examples
    --------
    >>> import tempfile, kit
    >>> data = kit.examples.song_path().read_bytes()
    >>> y, sr = load_uploaded("song.mp3", data, workdir=tempfile.mkdtemp())
    >>> sr
    44100

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    from ..audio import check_song_length, load

    name = os.path.basename(filename) or "upload"
    if not data:
        raise InputFileError(f"'{name}' is empty (0 bytes). Choose the song file again.")
    check_upload_size(len(data), filename=name)
    folder = Path(workdir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    # a fixed safe name on disk: the browser's name may hold anything
    suffix = "".join(c for c in Path(name).suffix[:8] if c.isalnum() or c == ".")
    path = folder / f"upload{suffix}"
    path.write_bytes(data)
    try:
        check_song_length(path)  # from the header: a 6-hour file is refused before it is decoded
        y, sr = load(path)
    except InputFileError as exc:
        message = str(exc)
        if "is not an audio file" in message:
            # FFmpeg's own words ("Error opening output files...") would only confuse here
            message = (f"'{name}' is not a sound file that can be read. "
                       "Choose a song file (mp3, wav, flac, m4a, ogg, ...).")
        # name the file as the singer knows it, not our temporary copy
        raise InputFileError(message.replace(f"'{path}'", f"'{name}'")) from None
    finally:
        path.unlink(missing_ok=True)
    return y, sr
