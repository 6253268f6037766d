"""Download a song's audio from a web page or a direct link, with yt-dlp.

Only ``http://`` and ``https://`` addresses are accepted. Only the audio is
fetched (``bestaudio``), in whatever format the site offers (m4a, webm/opus,
mp3...): :func:`kit.load` decodes them all, so nothing is re-encoded. The file
name comes from the title, cleaned by :func:`make_safe_filename` (no path
separators, no leading dash or dot, no shell characters), and the file appears
only when it is complete.

When the karaoke app listens beyond this computer (``kit app`` on a class
server: ``$KIT_APP_BIND`` is then not a loopback address), a link must not make
the server fetch from its own neighbours on a visitor's behalf: addresses on
the loopback, private, link-local and other non-public networks are refused
(:func:`check_public_host`). On a laptop links work as they always did.

Download only what you have the right to; many sites' terms forbid it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import tempfile
import unicodedata
import urllib.parse
from pathlib import Path

from .errors import DownloadError
from .progress import Progress, report

__all__ = ["fetch_audio", "check_url", "check_public_host", "make_safe_filename", "ALLOWED_SCHEMES", "APP_BIND_ENV"]

APP_BIND_ENV = "KIT_APP_BIND"  # the address `kit app` listens on, set for its kernels

ALLOWED_SCHEMES = ("http", "https")
_UNSAFE = re.compile(r'[/\\<>:"|?*`$\x00-\x1f\x7f]')
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def check_url(url: str) -> str:
    """Accept only ``http(s)://host/...`` addresses; anything else is a :class:`DownloadError`.

    Examples
    --------
    >>> from kit.fetch import check_url
    >>> check_url("https://example.com/song.mp3")
    'https://example.com/song.mp3'
    """
    text = str(url).strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() in ALLOWED_SCHEMES and parts.hostname:
        return text
    if not parts.scheme and Path(text).exists():
        raise DownloadError(f"'{text}' is a file on this computer, not a web address; "
                            "give it to `kit backing` or `kit separate` directly.")
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise DownloadError(f"Only http:// and https:// addresses can be fetched, not '{shown}'; "
                        "give a web address such as https://www.youtube.com/watch?v=...")


def _serves_others() -> bool:
    """True when the app this runs in listens on more than the loopback address (a shared server)."""
    bind = os.environ.get(APP_BIND_ENV, "").strip().strip("[]")
    if not bind or bind.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(bind).is_loopback
    except ValueError:  # a host name other than localhost: it answers the network
        return True


def check_public_host(url: str) -> None:
    """On a shared server, refuse a link whose host is on a loopback, private or other non-public network.

    The host name is resolved, and every address it resolves to must be a
    public one: otherwise a visitor could make the server fetch pages from its
    own neighbours (a router, a database, cloud metadata at 169.254.169.254).
    Does nothing when the app listens only on the loopback address (a laptop).

    Raises
    ------
    DownloadError
        One line naming the address and what to do instead.

    Examples
    --------
    >>> import os
    >>> from kit.fetch import check_public_host
    >>> os.environ.pop("KIT_APP_BIND", None) and None
    >>> check_public_host("http://127.0.0.1/song.mp3")   # on a laptop: allowed
    """
    if not _serves_others():
        return
    parts = urllib.parse.urlsplit(str(url).strip())
    host = parts.hostname or ""
    try:
        found = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return  # nothing to connect to: yt-dlp says so in its own words
    for *_, sockaddr in found:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise DownloadError(f"'{host}' is on this server's own network ({ip}), and the app here fetches "
                                "only public web addresses; download the song on your computer and upload the file.")


def make_safe_filename(name: str, *, max_bytes: int = 180, fallback: str = "download") -> str:
    """Turn a title into a file name that is safe everywhere.

    No path separators, no characters Windows forbids or shells expand
    (``$``, backquote), no control characters, no leading dash (it would read
    as an option) or dot (hidden file), at most ``max_bytes`` in UTF-8.

    Examples
    --------
    >>> from kit.fetch import make_safe_filename
    >>> make_safe_filename("-rf /etc/passwd $(touch pwned)")
    'rf _etc_passwd _(touch pwned)'
    >>> make_safe_filename("Prince Royce - Dec. 21 (Official Video)")
    'Prince Royce - Dec. 21 (Official Video)'
    """
    text = unicodedata.normalize("NFC", str(name))
    text = re.sub(r"[\t\n\r\v\f]", " ", text)  # line breaks and tabs become spaces; other controls go
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch == " ")
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = text.lstrip("-. ").rstrip(". ")
    encoded = text.encode("utf-8")[:max_bytes]
    text = encoded.decode("utf-8", "ignore").rstrip(". ")
    if not text or text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = (fallback + " " + text).strip() if text else fallback
    return text


class _Logger:
    """Collects yt-dlp's messages instead of letting it print them."""

    def __init__(self):
        self.errors: list[str] = []

    def debug(self, msg):
        pass

    def info(self, msg):
        pass

    def warning(self, msg):
        pass

    def error(self, msg):
        self.errors.append(msg)


def _reason(exc: BaseException, logger: _Logger) -> str:
    text = str(exc) or (logger.errors[-1] if logger.errors else type(exc).__name__)
    text = _ANSI.sub("", text).strip().splitlines()[0]
    text = re.sub(r"^ERROR:\s*", "", text)
    text = re.sub(r"\s*\(caused by .*$", "", text)
    text = re.sub(r"^\[[\w:]+\]\s*(?:[^:\s]+:\s+)?", "", text)  # "[generic] VIDEO_ID: "
    text = re.sub(r"HTTPS?Connection\([^)]*\):\s*", "", text)
    text = re.sub(r";\s*please report this issue.*$", "", text, flags=re.IGNORECASE)
    return text.rstrip(". ") or "unknown error"


def _final_name(info: dict, suffix: str) -> str:
    title = make_safe_filename(info.get("title") or info.get("id") or "download")
    vid = make_safe_filename(str(info.get("id") or ""), max_bytes=40, fallback="")
    if vid and vid not in title:
        title = f"{title} [{vid}]"
    return title + suffix


def _free_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (1)``, ``name (2)``... if taken: never replace a file."""
    path = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while path.exists():
        path = folder / f"{stem} ({n}){suffix}"
        n += 1
    return path


def fetch_audio(
    url: str,
    *,
    out_dir: str | os.PathLike = ".",
    progress: Progress = None,
    timeout_s: float = 10.0,
    retries: int = 1,
) -> Path:
    """Download the audio of one song (a web page yt-dlp knows, or a direct media link).

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address. Playlists are refused.
    out_dir : str or Path
        Folder for the file (created if missing). Default: the current folder.
    progress : callable, optional
        Called with the fraction downloaded, 0..1.
    timeout_s : float
        Give up on a host that does not answer for this long.
    retries : int
        Retries after a failed request; kept small so an offline machine fails fast.

    Returns
    -------
    path : Path
        The downloaded file, named after the title (cleaned) and the site's id.
        An existing file is never replaced: a number is added instead.

    Raises
    ------
    DownloadError
        Not an http(s) address, offline, refused, not found, or no audio there.

    Examples
    --------
    >>> import kit.fetch
    >>> kit.fetch.fetch_audio("file:///etc/passwd")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    kit.errors.DownloadError: Only http:// and https:// addresses can be fetched ...

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    url = check_url(url)
    check_public_host(url)
    try:
        import yt_dlp
    except ImportError:
        raise DownloadError("Downloading needs the yt-dlp package: pip install yt-dlp") from None
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DownloadError(f"'{out_dir}' is a file; give a folder for the download with -o.")
    # the folders this call creates; a failed download removes them again
    created = [d for d in [out_dir, *out_dir.parents] if not d.exists()][::-1]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the folder '{out_dir}' ({exc.strerror}); choose another with -o.") from None
    try:
        return _download(url, out_dir, progress=progress, timeout_s=timeout_s, retries=retries, yt_dlp=yt_dlp)
    except BaseException:
        for folder in reversed(created):
            try:
                folder.rmdir()  # only if empty: never anything the user put there meanwhile
            except OSError:
                break
        raise


def _download(url: str, out_dir: Path, *, progress, timeout_s, retries, yt_dlp) -> Path:
    """The yt-dlp part of :func:`fetch_audio`, into an existing folder."""
    if not os.access(out_dir, os.W_OK):
        raise DownloadError(f"Cannot write in '{out_dir}'; choose another folder with -o.")

    def hook(d):
        if d.get("status") == "downloading":
            total = d.get("total_bytes") or d.get("total_bytes_estimate")
            if total:
                report(progress, d.get("downloaded_bytes", 0) / total)
        elif d.get("status") == "finished":
            report(progress, 1.0)

    logger = _Logger()
    # A private folder next to the target: the file appears in out_dir only when
    # complete (one rename), and a failure leaves nothing behind.
    tmp = Path(tempfile.mkdtemp(prefix=".kit-fetch-", dir=out_dir))
    try:
        from .ffmpeg import find_ffmpeg

        ffmpeg = find_ffmpeg()
    except Exception:  # yt-dlp only needs FFmpeg for some sites' fix-ups
        ffmpeg = None
    opts = {
        "format": "bestaudio/best",
        "paths": {"home": str(tmp), "temp": str(tmp)},
        "outtmpl": {"default": "download.%(ext)s"},
        "restrictfilenames": True,
        "noplaylist": True,
        "socket_timeout": float(timeout_s),
        "retries": int(retries),
        "fragment_retries": int(retries),
        "extractor_retries": 0,
        "file_access_retries": 0,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "progress_hooks": [hook],
        "cachedir": False,
        "color": {"stdout": "no_color", "stderr": "no_color"},
    }
    if ffmpeg:
        opts["ffmpeg_location"] = ffmpeg
    try:
        report(progress, 0.0)
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=False, process=False)
            if info.get("_type") in ("playlist", "multi_video"):
                raise DownloadError(f"'{url}' is a playlist; give the address of one song.")
            info = ydl.process_ie_result(info, download=True)
        files = [Path(d["filepath"]) for d in info.get("requested_downloads") or [] if d.get("filepath")]
        files = [f for f in files if f.is_file()] or [p for p in tmp.iterdir() if p.is_file()
                                                       and not p.name.endswith((".part", ".ytdl"))]
        if not files:
            raise DownloadError(f"'{url}' gave no audio file; check that the page has a song on it.")
        target = _free_path(out_dir, _final_name(info, files[0].suffix.lower()))
        os.replace(files[0], target)
        report(progress, 1.0)
        return target
    except yt_dlp.utils.YoutubeDLError as exc:
        raise DownloadError(f"Could not download '{url}': {_reason(exc, logger)}. "
                            "Check the address and your internet connection.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
