"""Errors and warnings that reach the user.

Every user mistake raises a :class:`KitError` subclass whose message is one line
that names the bad value and says how to fix it. The command line prints that
line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

__all__ = [
    "KitError",
    "InputFileError",
    "AudioContentError",
    "OptionError",
    "ModelUnavailableError",
    "FFmpegError",
    "DownloadError",
    "KitWarning",
]


class KitError(Exception):
    """Base class of every error caused by input or options the user gave."""

    exit_code = 2


class InputFileError(KitError):
    """The input file is missing, empty, not audio, truncated or corrupt."""


class AudioContentError(KitError):
    """The audio decoded, but cannot be used: no samples, NaN/inf, too short."""


class OptionError(KitError):
    """An option has a value we do not support (format, stem, device, ...)."""


class ModelUnavailableError(KitError):
    """A model's weights are not on this machine and cannot be fetched now."""


class FFmpegError(KitError):
    """FFmpeg is missing or refused the job."""

    exit_code = 3


class DownloadError(KitError):
    """A download failed: offline, refused, or not a supported URL."""


class KitWarning(UserWarning):
    """Something worth telling the user that does not stop the job."""
