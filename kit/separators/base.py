"""The one interface every separation method shares.

A separator is an object with ``separate(y, sr, *, progress=None)`` returning
stems keyed by name, each shaped like the input. Subclasses implement
:meth:`Separator._separate` at the model's own sample rate and channel count;
this base class checks the input, converts it there and back, and keeps every
stem the same length and alignment as the input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..audio import check_audio, resample, to_stereo
from ..errors import AudioContentError, KitError
from ..progress import Progress, report

__all__ = ["Separator", "BlockPlan", "DeviceOutOfMemoryError", "is_out_of_memory", "free_device_memory",
           "make_memory_error"]


class DeviceOutOfMemoryError(KitError):
    """The device (a GPU, or at last the CPU) ran out of memory, and the separator could not work around it."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA's own class, or a RuntimeError saying so, as MPS raises)."""
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def make_memory_error(name: str, device: str) -> DeviceOutOfMemoryError:
    """The one-line error for a separator that ran out of memory on ``device`` and cannot go on."""
    fix = ("use a shorter clip, or close other programs" if str(device) == "cpu"
           else "close other programs using the GPU, or run on the CPU (--device cpu)")
    return DeviceOutOfMemoryError(f"'{name}' ran out of memory on {device}; {fix}.")


def free_device_memory(device: str) -> None:
    """Give the memory torch holds in its cache on ``device`` back, before a retry."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif str(device) == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def fingerprint_weights(net) -> str:
    """16 hex digits of the sha256 of a torch module's weights: the stem cache's ``weights_id`` for trained nets."""
    import hashlib

    h = hashlib.sha256()
    for key, value in sorted(net.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class BlockPlan(NamedTuple):
    """How a long song is cut into blocks for a separator, in samples at its working rate.

    Block starts fall on multiples of ``align``; each block is separated with
    ``left`` samples before it and ``right`` after it as context, and the first
    ``fade`` samples of a block are cross-faded with the end of the block before.
    """

    align: int
    left: int
    right: int
    fade: int


class Separator:
    """Base class: subclasses set the attributes below and implement ``_separate``.

    Attributes
    ----------
    name : str
        Model name as the command line spells it (``"unet"``, ``"htdemucs"``...).
    stems : tuple of str
        Names of the stems returned, in order.
    sample_rate : int or None
        Rate the model works at; input is resampled there and back. None: any.
    stereo : bool
        The model needs two channels; mono input is copied to both and the
        stems are averaged back to mono.
    min_duration_s : float
        Shorter input is refused with a clear message.
    """

    name: str = "separator"
    stems: tuple[str, ...] = ()
    sample_rate: int | None = None
    stereo: bool = False
    min_duration_s: float = 0.0

    #: Context on each side of a block of a long song (seconds), and the cross-fade at each join:
    #: longer than a Demucs segment (7.8 s for htdemucs), whose own overlap is a quarter of one.
    block_context_s: float = 10.0
    block_fade_s: float = 1.0

    def plan_blocks(self, sr: int) -> BlockPlan:
        """How :func:`kit.separate_blocks` cuts a long song for this separator, at rate ``sr``.

        Subclasses whose result depends on where a segment starts (``unet``)
        align the blocks to their segment grid so the joins are exact.
        """
        context, fade = round(self.block_context_s * sr), round(self.block_fade_s * sr)
        return BlockPlan(align=1, left=context, right=context, fade=min(fade, context))

    def check_input(self, y: np.ndarray, sr: int) -> None:
        """Refuse audio this method cannot work on, before any work starts (and before progress says 0)."""

    def separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        """Split a waveform into stems.

        Parameters
        ----------
        y : np.ndarray, shape (channels, samples) or (samples,)
            The mixture.
        sr : int
            Its sample rate in Hz.
        progress : callable, optional
            Called with a fraction 0..1 as work proceeds.

        Returns
        -------
        stems : dict of str to np.ndarray, float32, shape like ``y`` (2-D)
        """
        y = check_audio(y, what=f"The input to '{self.name}'")
        seconds = y.shape[1] / sr
        if seconds < self.min_duration_s:
            raise AudioContentError(
                f"'{self.name}' needs at least {self.min_duration_s:g} s of audio, got {seconds:.2f} s; "
                "use a longer clip."
            )
        self.check_input(y, sr)
        n_in, ch_in = y.shape[1], y.shape[0]
        x = to_stereo(y) if self.stereo else y
        work_sr = self.sample_rate or sr
        if work_sr != sr:
            x = resample(x, sr, sr=work_sr)
        report(progress, 0.0)
        try:
            stems = self._separate(x, work_sr, progress=progress)
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            # what a separator could not work around itself: one line, not a traceback
            raise make_memory_error(self.name, getattr(self, "device", "cpu")) from None
        out = {}
        for name, s in stems.items():
            s = np.asarray(s, dtype=np.float32)
            if work_sr != sr:
                s = resample(s, work_sr, sr=sr)
            if s.shape[1] >= n_in:
                s = s[:, :n_in]
            else:  # resampling can come back a sample short
                s = np.pad(s, ((0, 0), (0, n_in - s.shape[1])))
            if s.shape[0] != ch_in:
                s = np.mean(s, axis=0, keepdims=True) if ch_in == 1 else np.repeat(s, ch_in, axis=0)
            out[name] = np.ascontiguousarray(s, dtype=np.float32)
        report(progress, 1.0)
        return out

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, stems={self.stems})"
