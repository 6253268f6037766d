"""Find FFmpeg and run it safely.

FFmpeg is run with an argument list, never through a shell, so a file name is
only ever a file name: spaces, quotes, ``$(...)`` and brackets do nothing. Paths
are passed as ``file:/abs/path`` because FFmpeg would otherwise read a name like
``concat:a|b`` or ``-y`` as a protocol or an option.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from .errors import FFmpegError

__all__ = ["find_ffmpeg", "ffmpeg_version", "ffmpeg_input", "run_ffmpeg"]


@functools.cache
def find_ffmpeg() -> str:
    """Return the path of the FFmpeg binary to use.

    ``$KIT_FFMPEG`` wins, then ``ffmpeg`` on ``PATH``, then the binary that ships
    inside the ``imageio-ffmpeg`` package (so a bare pip install works).

    Returns
    -------
    path : str
        Absolute path of an executable FFmpeg.

    Examples
    --------
    >>> import kit.ffmpeg
    >>> kit.ffmpeg.find_ffmpeg().endswith(("ffmpeg", "ffmpeg.exe")) or True
    True
    """
    override = os.environ.get("KIT_FFMPEG")
    if override:
        if not (Path(override).is_file() and os.access(override, os.X_OK)):
            raise FFmpegError(
                f"KIT_FFMPEG points to {override!r}, which is not an executable file; "
                "fix the path or unset KIT_FFMPEG."
            )
        return override
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - imageio-ffmpeg is a dependency
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        try:
            return imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError:
            pass
    raise FFmpegError(
        "FFmpeg was not found; install it (conda install ffmpeg, apt install ffmpeg) "
        "or `pip install imageio-ffmpeg`."
    )


@functools.cache
def ffmpeg_version() -> str:
    """Return FFmpeg's version line, e.g. ``'ffmpeg version 7.1 ...'``."""
    out = subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-version"],
        capture_output=True, text=True, check=False,
    )
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def ffmpeg_input(path: str | os.PathLike) -> str:
    """Spell a local path so FFmpeg reads it as a plain file, whatever its name."""
    return "file:" + str(Path(path).absolute())


def run_ffmpeg(
    args: list[str], *, input_bytes: bytes | None = None, what: str = "FFmpeg"
) -> subprocess.CompletedProcess:
    """Run FFmpeg with an argument list and return the finished process.

    Parameters
    ----------
    args : list of str
        Arguments after the program name. Paths must go through
        :func:`ffmpeg_input` (inputs) or be absolute (outputs).
    input_bytes : bytes, optional
        Data for FFmpeg's standard input (``pipe:0``).
    what : str
        Short description of the job, used in the error message.

    Returns
    -------
    proc : subprocess.CompletedProcess
        With ``stdout`` as bytes and ``stderr`` as text.

    Raises
    ------
    FFmpegError
        If FFmpeg exits non-zero; the message carries FFmpeg's last error line.
    """
    if isinstance(args, str):  # a string would need a shell; refuse it outright
        raise TypeError("run_ffmpeg takes a list of arguments, not a string")
    cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    if input_bytes is not None:
        cmd.remove("-nostdin")
    proc = subprocess.run(
        cmd,
        input=input_bytes,
        stdin=None if input_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    proc.stderr = stderr
    if proc.returncode != 0:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit code {proc.returncode}"
        raise FFmpegError(f"{what} failed: {last}")
    return proc
