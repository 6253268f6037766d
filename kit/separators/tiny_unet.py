"""``tiny-unet``: a small spectrogram U-Net that students train themselves (see :mod:`kit.train`).

The network looks at the magnitude spectrogram of a stereo mixture, bins
0-11 kHz (256 bins 43 Hz apart, 11.6 ms hops, at any sample rate), and
predicts a soft vocal mask in 0..1 for each channel, bin and frame. The vocals
are the masked spectrogram turned back into sound with the mixture's own
phase; the accompaniment is the mixture minus the vocals, so the two stems add
up to the input exactly. Above 11 kHz, where the network does not look, each
frame carries on the mean vocal mask of its 8-11 kHz band (as ``unet`` does).

The architecture: an encoder of strided 3x3 convolutions that halve time and
frequency while the channels double, a decoder of transposed convolutions that
grow them back, each fed the matching encoder output through a skip
connection, and a 1x1 convolution with a sigmoid that gives the mask.

Weights are saved with safetensors: plain tensors plus a JSON header, so
loading a file runs no code from it.

See also
--------
kit.train.train_unet, notebooks/05_spectrogram_unet.ipynb
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputFileError, ModelUnavailableError, OptionError
from ..progress import Progress, report
from .base import Separator, fingerprint_weights

__all__ = [
    "TinyUNet", "TrainedUNet", "compute_features", "make_separator", "stems_for", "offline_status",
    "frame_settings", "STEMS",
]

STEMS = ("vocals", "accompaniment")
HIGH_BAND_HZ = 8000.0  # the band whose mean mask is carried on above 11 kHz
_FORMAT = "kit-tiny-unet-1"
_CHUNK_FRAMES = 512  # frames through the network at once when separating (6 s)
_CONTEXT_FRAMES = 32  # extra frames each side of a chunk, so chunk edges see their neighbours


def frame_settings(sr: int, *, n_fft_44k: int = 1024) -> tuple[int, int]:
    """``(n_fft, hop_length)`` at a sample rate: the same bin spacing and hop in seconds at any rate.

    ``n_fft_44k`` is the window length at 44.1 kHz; the hop is half of it.

    Examples
    --------
    >>> frame_settings(44100), frame_settings(22050)
    ((1024, 512), (512, 256))
    """
    n_fft = 2 * max(16, int(round(n_fft_44k / 2 * sr / 44100)))
    return n_fft, n_fft // 2


def compute_features(spec, *, n_fft: int, n_bins: int):
    """What the network reads: log-compressed magnitudes of left, right, mid and side.

    Parameters
    ----------
    spec : torch.Tensor, complex, shape (..., 2, bins, frames)
        A stereo spectrogram.
    n_fft : int
        Its window length: magnitudes are divided by the window's sum, so a
        full-scale sine reads about 0.5 whatever the sample rate.
    n_bins : int
        Bins kept (0-11 kHz); a spectrogram with fewer is padded with silence.

    Returns
    -------
    features : torch.Tensor, shape (..., 4, n_bins, frames)
        ``log(1 + 1000 |X|)`` of left, right, mid ``(L+R)/2`` and side ``(L-R)/2``.
        The side cancels whatever sits in the centre (most vocals): the
        cue that centre-channel cancellation uses, handed to the network.
    """
    spec = spec[..., :n_bins, :]
    if spec.shape[-2] < n_bins:  # a low sample rate: the missing top bins are silence
        spec = F.pad(spec, (0, 0, 0, n_bins - spec.shape[-2]))
    left, right = spec[..., 0, :, :], spec[..., 1, :, :]
    parts = torch.stack([left, right, (left + right) / 2, (left - right) / 2], dim=-3)
    return torch.log1p(parts.abs() * (1000.0 / (n_fft / 2)))


class Down(nn.Module):
    """Halve time and frequency: 3x3 convolution, stride 2, batch norm, leaky ReLU."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(n_out)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Up(nn.Module):
    """Double time and frequency, then join the encoder's skip connection (a cheap 1x1 mix)."""

    def __init__(self, n_in, n_skip, n_out):
        super().__init__()
        self.up = nn.ConvTranspose2d(n_in, n_out, 2, stride=2)
        # 1x1, not 3x3: the decoder's convolutions were most of the cost, and the
        # transposed convolution and the encoder already see the neighbourhood
        self.conv = nn.Conv2d(n_out + n_skip, n_out, 1)
        self.bn = nn.BatchNorm2d(n_out)
        self.act = nn.ReLU()

    def forward(self, x, skip):
        return self.act(self.bn(self.conv(torch.cat([self.up(x), skip], dim=1))))


class TinyUNet(nn.Module):
    """Encoder/decoder with skip connections: stereo magnitude features in, a vocal mask out.

    Parameters
    ----------
    width : int
        Channels after the first down step; they double at each step.
    depth : int
        Down (and up) steps; frames and bins must be multiples of ``2**depth``.

    Shapes
    ------
    input : (batch, 4, n_fft_44k // 4, frames) features (:func:`compute_features`)
    output : (batch, 2, n_fft_44k // 4, frames), mask values in (0, 1)

    Examples
    --------
    >>> import torch
    >>> TinyUNet(width=8, depth=4)(torch.rand(1, 4, 256, 32)).shape
    torch.Size([1, 2, 256, 32])
    """

    def __init__(self, *, width: int = 12, depth: int = 5, channels: int = 2, n_fft_44k: int = 1024):
        super().__init__()
        if width < 4 or depth < 1:
            raise OptionError(f"TinyUNet(width={width}, depth={depth}): use width >= 4 and depth >= 1.")
        if n_fft_44k % (4 * 2**depth):
            raise OptionError(f"n_fft_44k={n_fft_44k} must be a multiple of {4 * 2**depth} for depth {depth}.")
        self.config = {"width": int(width), "depth": int(depth), "channels": int(channels),
                       "n_fft_44k": int(n_fft_44k)}
        self.n_bins = n_fft_44k // 4  # 0 to 11 kHz
        n_features = 2 * channels  # each channel's magnitude, plus mid and side (compute_features)
        widths = [n_features] + [width * 2**i for i in range(depth)]
        self.norm = nn.BatchNorm2d(n_features)
        self.down = nn.ModuleList(Down(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        # decoder: from the bottom up, each step joins the encoder output of its size
        self.up = nn.ModuleList(
            Up(widths[i + 1], widths[i], widths[i]) for i in reversed(range(1, depth))
        )
        self.last_up = nn.ConvTranspose2d(widths[1], 8, 2, stride=2)
        self.to_mask = nn.Conv2d(8 + n_features, channels, 1)

    def forward(self, x):
        x = self.norm(x)
        skips = [x]
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        skips.pop()  # the bottom of the U is h itself
        for block in self.up:
            h = block(h, skips.pop())
        h = torch.relu(self.last_up(h))
        return torch.sigmoid(self.to_mask(torch.cat([h, skips.pop()], dim=1)))


def _stft(x, n_fft, hop, window):
    return torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)


def predict_mask(net, spec, *, n_fft: int):
    """The vocal mask for a complex spectrogram ``(2, bins, frames)`` (torch), full band.

    The song goes through the network a chunk of frames at a time, each with
    some context either side, so memory stays small for long songs.
    """
    n_bins, n_frames = spec.shape[-2], spec.shape[-1]
    n_net = net.n_bins
    feats = compute_features(spec, n_fft=n_fft, n_bins=n_net)
    step = 2 ** net.config["depth"]
    mask = torch.empty(spec.shape[0], n_net, n_frames)
    for a in range(0, n_frames, _CHUNK_FRAMES):
        b = min(n_frames, a + _CHUNK_FRAMES)
        lo, hi = max(0, a - _CONTEXT_FRAMES), min(n_frames, b + _CONTEXT_FRAMES)
        chunk = feats[:, :, lo:hi]
        pad = (-chunk.shape[-1]) % step
        chunk = F.pad(chunk, (0, pad))
        out = net(chunk[None])[0, :, :, : hi - lo]
        mask[:, :, a:b] = out[:, :, a - lo:b - lo]
    if n_bins <= n_net:
        return mask[:, :n_bins]
    top = int(round(HIGH_BAND_HZ / 11025.0 * n_net))
    # no network looked above 11 kHz: carry on, frame by frame, what the top band says
    high = mask[:, top:].mean(dim=1, keepdim=True).expand(-1, n_bins - n_net, -1)
    return torch.cat([mask, high], dim=1)


class TrainedUNet(Separator):
    """A tiny U-Net separator (vocals / accompaniment), trained by :func:`kit.train.train_unet`.

    Parameters
    ----------
    net : TinyUNet
        The network (switched to eval mode here).
    history : dict, optional
        What training recorded (loss, validation SDR, settings); saved with the weights.

    Attributes
    ----------
    history : dict
        ``{"step", "time_s", "loss", "val_step", "val_time_s", "val_sdr_db", ...}``.

    Examples
    --------
    >>> import kit
    >>> model = kit.train.train_unet(minutes=0.05)  # doctest: +SKIP
    >>> model.save("tiny.safetensors")  # doctest: +SKIP
    >>> stems = kit.separate(y, sr, model="tiny-unet", weights="tiny.safetensors")  # doctest: +SKIP

    See also
    --------
    kit.train.train_unet, notebooks/05_spectrogram_unet.ipynb
    """

    name = "tiny-unet"
    stems = STEMS
    sample_rate = None  # any rate: n_fft follows it (frame_settings)
    stereo = True
    min_duration_s = 0.1

    def __init__(self, net, *, history: dict | None = None):
        self.net = net.eval()
        self.history = dict(history or {})
        self.cache_settings = {}  # the weights (weights_id) are all that changes the stems

    @property
    def weights_id(self) -> str:
        """A fingerprint of the weights, so the stem cache tells trained models apart."""
        return fingerprint_weights(self.net)

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        n_fft, hop = frame_settings(sr, n_fft_44k=self.net.config["n_fft_44k"])
        x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        window = torch.hann_window(n_fft)
        with torch.inference_mode():
            spec = _stft(x, n_fft, hop, window)
            report(progress, 0.2)
            mask = predict_mask(self.net, spec, n_fft=n_fft)
            report(progress, 0.8)
            vocals = torch.istft(spec * mask, n_fft, hop, window=window, center=True, length=x.shape[1])
        vocals = vocals.numpy()
        # the accompaniment is what is left: the two stems add up to the song
        return {"vocals": vocals, "accompaniment": y - vocals}

    def n_parameters(self) -> int:
        """How many numbers training adjusts."""
        return sum(p.numel() for p in self.net.parameters())

    def save(self, path) -> Path:
        """Write the weights and training history to a ``.safetensors`` file (atomically).

        Returns the path. :meth:`load` gives back bit-identical weights.
        """
        from safetensors.torch import save_file

        path = Path(path)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        meta = {"format": _FORMAT, "config": json.dumps(self.net.config), "history": json.dumps(self.history)}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            save_file(tensors, str(tmp), metadata=meta)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path) -> TrainedUNet:
        """Read a file written by :meth:`save`.

        Raises
        ------
        InputFileError
            The file is missing or is not tiny-unet weights.
        """
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"No tiny-unet weights at '{path}'; train and save some first: "
                                 "kit.train.train_unet().save(path).")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
            if meta.get("format") != _FORMAT:
                raise ValueError("not a tiny-unet file")
            config = json.loads(meta["config"])
            history = json.loads(meta.get("history", "{}"))
            net = TinyUNet(**config)
            net.load_state_dict(tensors, strict=True)
        except Exception as exc:  # foreign or damaged file: one clear line
            raise InputFileError(f"'{path}' is not tiny-unet weights ({type(exc).__name__}: {exc}); "
                                 "give a file saved by TrainedUNet.save().") from None
        return cls(net, history=history)


# --- the family interface ----------------------------------------------------


def make_separator(name: str = "tiny-unet", **options) -> TrainedUNet:
    """Load ``tiny-unet`` from ``weights=PATH`` (a file saved by :meth:`TrainedUNet.save`)."""
    if name != "tiny-unet":
        raise OptionError(f"Unknown model '{name}' for the tiny-unet family; use 'tiny-unet'.")
    weights = options.get("weights")
    if weights is None:
        raise ModelUnavailableError("tiny-unet needs weights=PATH: train with kit.train.train_unet(), "
                                    "save with .save(PATH), then pass weights=PATH.")
    return TrainedUNet.load(weights)


def stems_for(name: str = "tiny-unet", **options) -> tuple[str, ...]:
    """Stem names of ``tiny-unet`` (nothing is loaded)."""
    return STEMS


def offline_status(name: str = "tiny-unet", **options) -> tuple[bool, str]:
    """Usable when ``weights=PATH`` names a saved file; otherwise says how to make one."""
    weights = options.get("weights")
    if weights is None or not Path(weights).is_file():
        return False, "needs weights you train yourself: kit.train.train_unet().save(PATH), then weights=PATH"
    return True, f"tiny U-Net trained in class, weights '{weights}'"
