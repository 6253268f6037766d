"""The front door: ``kit.separate(audio_or_path, ...)``."""

from __future__ import annotations

import os

import numpy as np

from ..audio import check_audio, load
from ..errors import OptionError
from ..progress import Progress
from .registry import get_separator

__all__ = ["separate"]


def separate(
    audio,
    sr: int | None = None,
    *,
    model: str = "auto",
    device: str = "auto",
    progress: Progress = None,
    **options,
) -> dict[str, np.ndarray]:
    """Separate a song into stems with any model.

    Parameters
    ----------
    audio : str, Path or np.ndarray
        A file path (decoded with :func:`kit.load`) or a waveform
        ``(channels, samples)``, in which case ``sr`` is required.
    sr : int, optional
        Sample rate of ``audio`` when it is an array.
    model : str
        ``"auto"`` picks the best model usable offline now; see :func:`kit.list_models`.
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    progress : callable, optional
        Called with a fraction 0..1.
    **options
        Model options such as ``model_dir``, ``segment``, ``shifts``.

    Returns
    -------
    stems : dict of str to np.ndarray, float32, shape (channels, samples)
        Same length and alignment as the input.

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.examples.load_song(duration_s=2.0)
    >>> stems = kit.separate(y, sr, model="unet")
    >>> sorted(stems)
    ['accompaniment', 'vocals']

    See also
    --------
    notebooks/05_neural_separation.ipynb
    """
    if isinstance(audio, (str, os.PathLike)):
        y, sr = load(audio)
    else:
        if sr is None:
            raise OptionError("kit.separate got an array but no sample rate; call kit.separate(y, sr, ...).")
        y = check_audio(audio)
    separator = get_separator(model, device=device, **options)
    return separator.separate(y, sr, progress=progress)
