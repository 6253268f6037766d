"""A private temporary folder for one kernel (one app visitor), removed when the kernel ends.

Voila starts one kernel per visitor, so a folder per kernel process keeps two
visitors' uploads and exports apart. It is removed at interpreter exit (a kernel
that shuts down normally runs its exit handlers) and when its owner object is
garbage-collected.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import weakref
from pathlib import Path

__all__ = ["SessionFolder", "make_session_folder"]


class SessionFolder:
    """A temporary folder that deletes itself; ``path`` is the folder.

    Examples
    --------
    >>> from kit.ui.workdir import SessionFolder
    >>> folder = SessionFolder()
    >>> folder.path.is_dir()
    True
    >>> folder.cleanup(); folder.path.exists()
    False

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """

    def __init__(self, *, prefix: str = "kit-app-", dir=None):
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
        # weakref.finalize runs at garbage collection or, at the latest, at interpreter exit
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)

    def cleanup(self) -> None:
        """Remove the folder now."""
        self._finalizer()

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, other) -> Path:
        return self.path / other


_SESSION: SessionFolder | None = None


def make_session_folder() -> Path:
    """The temporary folder of this kernel, made on first use and removed when the kernel ends.

    Returns
    -------
    path : Path
        The same folder for every call in this process.
    """
    global _SESSION
    if _SESSION is None or not _SESSION.path.is_dir():
        _SESSION = SessionFolder()
    return _SESSION.path


@atexit.register
def _remove_session_folder() -> None:
    if _SESSION is not None:
        _SESSION.cleanup()
