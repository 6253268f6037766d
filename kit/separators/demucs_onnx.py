"""An HTDemucs segment through ONNX Runtime on the CPU (opt-in: ``runtime="onnx"``).

HTDemucs runs every segment at one fixed size (its training length), so its
network can be exported once to ONNX and run by ONNX Runtime. The STFT, the
complex-as-channels mask and the iSTFT stay in torch (ONNX has no complex
tensors); what is exported is everything between them: both encoders, the
cross-domain transformer and both decoders (:class:`_Core`).

The export takes about as long as one segment (10 CPU-s for the 42 M-parameter
htdemucs) and is kept on disk, keyed by a hash of the weights and the segment
length, so it is paid once per model and machine: ``$XDG_CACHE_HOME/kit/onnx``
(``~/.cache/kit/onnx``; 170 MB for htdemucs), or ``$KIT_ONNX_DIR``. Exporting needs the ``onnx``
package, running needs ``onnxruntime``; without them (or if the export
fails) :func:`onnx_forward` returns None after a one-line note, and the caller
runs torch.

ONNX Runtime's kernels round differently: on the full-size htdemucs (random
weights) the stems differ from ``apply_model``'s by up to 5.1e-4 (max abs, on
the normalised mix; torch's path: 5e-7), which is why this is opt-in and not
kit's default (issue 22 asks for 1e-4). Where the difference comes from: the
core's own outputs differ from torch's by 4e-6 on one segment (the iSTFT turns
that into 4e-5 there), spread over the whole graph. ONNX Runtime's GroupNorm
(an InstanceNormalization over the reshaped groups) is the least precise op
alone, 1e-5 to 2e-4 relative on Demucs's shapes where torch's is 1e-7, but
exporting a GroupNorm with its statistics in float64 left the stems' difference
where it was (and cost 1.5x the time), so it is not the cause. The speed is in
CONTRIBUTING's measured facts (``benchmarks/bench_demucs_cpu.py --onnx``).

See also
--------
kit.separators.demucs_batched.apply_batched
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

__all__ = ["onnx_forward", "onnx_dir", "weights_hash"]

_EXPORT_VERSION = "1"  # bump when _Core changes: older exports are then not reused
_SESSIONS: dict = {}  # (file, threads) -> onnxruntime.InferenceSession
_LOCK = threading.Lock()


def onnx_dir() -> Path:
    """Where exported networks are kept: ``$KIT_ONNX_DIR``, else ``~/.cache/kit/onnx``."""
    env = os.environ.get("KIT_ONNX_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kit" / "onnx"


def weights_hash(net) -> str:
    """A sha256 of the network's class, settings that shape the graph, and every weight."""
    import torch

    h = hashlib.sha256(f"{_EXPORT_VERSION} {type(net).__name__} {net.segment} {list(net.sources)} "
                       f"torch {torch.__version__}".encode())
    for name, tensor in net.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def supported(net) -> bool:
    """Whether ``net`` is an HTDemucs this export reproduces (eval, fixed length, fixed embedding)."""
    from demucs.htdemucs import HTDemucs

    encoder = getattr(net, "crosstransformer", None)
    return (isinstance(net, HTDemucs) and net.cac and net.use_train_segment
            and (encoder is None or encoder.emb != "sin" or encoder.sin_random_shift == 0))


def _note(text: str) -> None:
    from ..errors import KitWarning

    warnings.warn(text, KitWarning, stacklevel=3)


class _Core:
    """Builds the torch module HTDemucs.forward runs between its STFT and its iSTFT."""

    @staticmethod
    def module(net):
        import torch
        from einops import rearrange

        class Core(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, mix, mag):
                # HTDemucs.forward (demucs 4.1), eval mode, input at its training length
                m = self.net
                x = mag
                B, _, Fq, T = x.shape
                mean = x.mean(dim=(1, 2, 3), keepdim=True)
                std = x.std(dim=(1, 2, 3), keepdim=True)
                x = (x - mean) / (1e-5 + std)
                meant = mix.mean(dim=(1, 2), keepdim=True)
                stdt = mix.std(dim=(1, 2), keepdim=True)
                xt = (mix - meant) / (1e-5 + stdt)
                saved, saved_t, lengths, lengths_t = [], [], [], []
                for idx, encode in enumerate(m.encoder):
                    lengths.append(x.shape[-1])
                    inject = None
                    if idx < len(m.tencoder):
                        lengths_t.append(xt.shape[-1])
                        tenc = m.tencoder[idx]
                        xt = tenc(xt)
                        if not tenc.empty:
                            saved_t.append(xt)
                        else:
                            inject = xt
                    x = encode(x, inject)
                    if idx == 0 and m.freq_emb is not None:
                        frs = torch.arange(x.shape[-2], device=x.device)
                        emb = m.freq_emb(frs).t()[None, :, :, None].expand_as(x)
                        x = x + m.freq_emb_scale * emb
                    saved.append(x)
                if m.crosstransformer:
                    if m.bottom_channels:
                        f = x.shape[2]
                        x = rearrange(m.channel_upsampler(rearrange(x, "b c f t-> b c (f t)")),
                                      "b c (f t)-> b c f t", f=f)
                        xt = m.channel_upsampler_t(xt)
                    x, xt = m.crosstransformer(x, xt)
                    if m.bottom_channels:
                        x = rearrange(m.channel_downsampler(rearrange(x, "b c f t-> b c (f t)")),
                                      "b c (f t)-> b c f t", f=f)
                        xt = m.channel_downsampler_t(xt)
                for idx, decode in enumerate(m.decoder):
                    x, pre = decode(x, saved.pop(-1), lengths.pop(-1))
                    offset = m.depth - len(m.tdecoder)
                    if idx >= offset:
                        tdec = m.tdecoder[idx - offset]
                        length_t = lengths_t.pop(-1)
                        if tdec.empty:
                            xt, _ = tdec(pre[:, :, 0], None, length_t)
                        else:
                            xt, _ = tdec(xt, saved_t.pop(-1), length_t)
                S = len(m.sources)
                x = x.view(B, S, -1, Fq, T) * std[:, None] + mean[:, None]
                xt = xt.view(B, S, -1, mix.shape[-1]) * stdt[:, None] + meant[:, None]
                return x, xt

        return Core().eval()


def _export(net, path: Path) -> None:
    """Export the network's core at its training length to ``path`` (atomically)."""
    import torch

    width = int(net.segment * net.samplerate)
    mix = torch.zeros(1, net.audio_channels, width)
    mix[..., ::7] = 0.1  # not all zeros: the std in the normalisation must not be 0
    core = _Core.module(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # the fast path's torch._native_multi_head_attention has no ONNX form; the plain path does
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on constant folding
            mag = net._magnitude(net._spec(mix))
            torch.onnx.export(core, (mix, mag), str(tmp), dynamo=False, opset_version=17,
                              input_names=["mix", "mag"], output_names=["x", "xt"])
        os.replace(tmp, path)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        tmp.unlink(missing_ok=True)


def _session(path: Path, threads: int):
    import onnxruntime as ort

    key = (str(path), threads)
    with _LOCK:
        if key not in _SESSIONS:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


def onnx_forward(net, *, folder=None):
    """A function doing ``net(x)`` for a CPU batch ``x`` through ONNX Runtime, or None.

    None (after a one-line note) when ``net`` is not an HTDemucs of the
    supported kind, when ``onnx``/``onnxruntime`` are missing, or when the
    export fails; then run ``net`` itself.

    Parameters
    ----------
    net : demucs.htdemucs.HTDemucs, in eval mode, on the CPU
    folder : str or Path, optional
        Where exports are kept (default :func:`onnx_dir`).

    Returns
    -------
    forward : callable or None
        ``forward(x)`` for ``x`` of shape (B, channels, width <= training length),
        returns (B, sources, channels, width), float32.

    Examples
    --------
    >>> forward = onnx_forward(net)  # doctest: +SKIP
    >>> forward(torch.randn(1, 2, 343980)).shape  # doctest: +SKIP
    torch.Size([1, 4, 2, 343980])
    """
    if not supported(net):
        _note(f"runtime='onnx' takes HTDemucs networks only; {type(net).__name__} runs in torch.")
        return None
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        _note(f"runtime='onnx' needs {exc.name}: Demucs runs in torch (pip install 'kit[onnx]').")
        return None
    path = Path(folder or onnx_dir()) / f"{type(net).__name__}-{weights_hash(net)}.onnx"
    if not path.exists():
        try:
            _export(net, path)
        except Exception as exc:  # noqa: BLE001  (any exporter failure: torch still works)
            _note(f"Could not export Demucs to ONNX ({type(exc).__name__}: {str(exc)[:120]}); "
                  "it runs in torch.")
            return None
    return _Forward(net, path)


class _Forward:
    """``net(x)`` with the core in ONNX Runtime (HTDemucs.forward's STFT side in torch)."""

    def __init__(self, net, path: Path):
        self.net, self.path = net, path

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        net = self.net
        width = int(net.segment * net.samplerate)
        length = x.shape[-1]
        if length < width:
            x = F.pad(x, (0, width - length))  # as HTDemucs pads a short segment
        session = _session(self.path, torch.get_num_threads())
        outs = []
        for one in x.split(1):  # exported for one segment: CPU batches are 1 anyway
            z = net._spec(one)
            mag = net._magnitude(z)
            spec, wave = session.run(None, {"mix": one.contiguous().numpy(), "mag": mag.contiguous().numpy()})
            zout = net._mask(z, torch.from_numpy(spec))
            outs.append(torch.from_numpy(wave) + net._ispec(zout, width))
        return torch.cat(outs)[..., :length]
