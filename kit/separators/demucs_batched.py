"""Demucs inference with many segments per network call.

Demucs's ``demucs.apply.apply_model`` cuts a song into overlapping segments
and sends them through the network one at a time; on a GPU that leaves most
of the chip idle. :func:`apply_batched` cuts the song into exactly the same
segments, runs them through the network in batches, and overlap-adds them with
the same triangular transition weights, the same random "shift trick"
offsets (drawn from ``random.Random(seed)`` as apply_model draws them after
``random.seed(seed)``, including the draws its network calls make in between)
and the same bag-of-models weighting. The stems equal apply_model's up to
float rounding (about 1e-7 in fp32).

How apply_model's nesting maps onto one flat list of segments: for every
network of a bag, and every shift, the song is padded by ``max_shift`` (half a
second) on both sides and read from ``offset``; a segment that starts at ``c``
in that shifted read starts at ``c - lead`` in the song, where ``lead =
max_shift - offset``. Each segment's contribution is its output times
``transition_weight / sum_of_weights_there`` (what apply_model divides by at
the end) times the bag weight over the bag total and ``1 / shifts``, so all of
them add into ONE output buffer, in any order. Memory: the mix, that buffer
and one batch of segment outputs; never a full-length copy per shift or per
network.

See also
--------
notebooks/06_demucs.ipynb
"""

from __future__ import annotations

import contextlib
import random
import warnings
from dataclasses import dataclass

from ..heap import reuse_freed_memory
from ..progress import Progress, report

__all__ = ["apply_batched", "plan_segments", "pick_batch_size", "CPU_BATCH", "MAX_BATCH"]

# On a CPU one 7.8 s segment already keeps every core busy, so more per call gain nothing
# measurable and cost memory and progress updates (benchmarks/bench_gpu.py prints the CPU
# comparison with apply_model).
CPU_BATCH = 1
MAX_BATCH = 256
_GPU_MEMORY_SHARE = 0.7  # of the free memory a batch may take: the allocator needs slack


@dataclass(frozen=True)
class Segment:
    """One network input: output samples ``start .. start + length`` of the song
    (``start`` can be negative in a shifted pass), fed as ``width`` samples centred on them."""

    start: int
    length: int
    width: int
    coef: object  # torch.Tensor (length,): transition weight / sum of weights there
    key: tuple  # segments with equal keys have equal coef


def _transition_weight(segment_length: int):
    """apply_model's weight: a triangle peaking mid-segment, scaled to a maximum of 1."""
    import torch

    weight = torch.cat([torch.arange(1, segment_length // 2 + 1),
                        torch.arange(segment_length - segment_length // 2, 0, -1)])
    return weight / weight.max()


def _valid_length(net, n: int, segment) -> int:
    """The input width apply_model feeds the network for a segment of ``n`` samples."""
    from demucs.htdemucs import HTDemucs

    if isinstance(net, HTDemucs) and segment is not None:
        return int(segment * net.samplerate)
    if hasattr(net, "valid_length"):
        return int(net.valid_length(n))
    return n


def plan_segments(net, length: int, *, lead: int = 0, overlap: float = 0.25, segment=None) -> list[Segment]:
    """The segments apply_model runs for one network and one shift.

    Parameters
    ----------
    net : demucs model (HTDemucs, HDemucs, Demucs)
    length : int
        Song length in samples.
    lead : int
        ``max_shift - offset`` of a shifted pass (0 without shifts).
    overlap : float
        Segment overlap in [0, 1).
    segment : float, optional
        Segment length in seconds (default: the network's own).

    Returns
    -------
    segments : list of Segment, in apply_model's order.

    Examples
    --------
    >>> from kit.separators.demucs_batched import plan_segments  # doctest: +SKIP
    >>> [s.start for s in plan_segments(net, 44100 * 20)]  # doctest: +SKIP
    [0, 257985, 515970, 773955]
    """
    import torch

    seg_s = segment if segment is not None else net.segment
    seg_len = int(net.samplerate * seg_s)
    stride = int((1 - overlap) * seg_len)
    weight = _transition_weight(seg_len)
    total = length + lead  # the shifted read apply_model splits
    starts = list(range(0, total, stride))
    lengths = [min(total - c, seg_len) for c in starts]
    reach = seg_len // max(1, stride) + 1  # how many neighbours on each side can overlap
    out = []
    for i, (c, n) in enumerate(zip(starts, lengths, strict=True)):
        # the segments overlapping this one, in apply_model's order, so that the sum of
        # weights is added up exactly as apply_model adds it
        near = [j for j in range(max(0, i - reach), min(len(starts), i + reach + 1))
                if starts[j] < c + n and starts[j] + lengths[j] > c]
        key = (n, tuple((starts[j] - c, lengths[j]) for j in near))
        out.append(Segment(c - lead, n, _valid_length(net, n, segment), None, key))
    coefs = {}
    for s in out:
        if s.key not in coefs:
            n = s.key[0]
            total_w = torch.zeros(n)
            for rel, n2 in s.key[1]:
                lo, hi = max(0, rel), min(n, rel + n2)
                total_w[lo:hi] += weight[lo - rel:hi - rel]
            coefs[s.key] = weight[:n] / total_w
    return [Segment(s.start, s.length, s.width, coefs[s.key], s.key) for s in out]


def _skip_draws_of_forwards(rng: random.Random, net, n_calls: int) -> None:
    """Advance ``rng`` as ``n_calls`` forward passes of ``net`` advance Python's ``random``.

    HTDemucs's transformer draws ``random.randrange(sin_random_shift + 1)`` for its
    position embedding on every call, even when that can only be 0 (the pretrained
    models), and apply_model draws the next shift offset from the same generator
    after the calls of the previous shift. Batched, there are fewer calls, so the
    draws are replayed here to land on apply_model's offsets. (A model with
    ``sin_random_shift > 0`` is random at every call; no two runs agree there.)
    """
    encoder = getattr(net, "crosstransformer", None)
    if encoder is None or getattr(encoder, "emb", None) != "sin":
        return
    for _ in range(n_calls):
        rng.randrange(encoder.sin_random_shift + 1)


def pick_batch_size(free_bytes: int, per_segment_bytes: int, *, n_segments: int,
                    share: float = _GPU_MEMORY_SHARE, most: int = MAX_BATCH) -> int:
    """How many segments fit in ``share`` of the free memory (at least 1, at most what is left).

    Examples
    --------
    >>> pick_batch_size(10 * 2**30, 200 * 2**20, n_segments=100)
    35
    >>> pick_batch_size(2**30, 2**31, n_segments=100)
    1
    """
    fit = int(share * max(0, free_bytes) // max(1, per_segment_bytes))
    return max(1, min(fit, most, n_segments))


def _cuda_free_bytes(device) -> int:
    """Free memory on a CUDA device, counting what torch's allocator holds but does not use."""
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _forward(net, x, *, device, precision: str):
    """The network on one batch (B, channels, width) -> (B, sources, channels, width), float32."""
    import torch

    if precision == "bf16" and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return net(x).float()
    return net(x)


def _gather(mix, batch, *, device):
    """The zero-padded input windows of ``batch`` as one tensor, as TensorChunk.padded cuts them."""
    import torch

    channels, length = mix.shape
    width = batch[0].width
    x = torch.zeros(len(batch), channels, width, device=device)
    for b, seg in enumerate(batch):
        first = seg.start - (width - seg.length) // 2
        lo, hi = max(0, first), min(length, first + width)
        if lo < hi:
            x[b, :, lo - first:hi - first] = mix[:, lo:hi]
    return x


class _Runner:
    """Runs batches of one network, shrinking the batch when memory runs out."""

    def __init__(self, net, device, *, batch_size, precision):
        self.net, self.device, self.precision = net, device, precision
        self.batch_size = batch_size  # None on CUDA: measured on the first segment

    def run(self, mix, batch):
        import torch

        while True:
            try:
                return _forward(self.net, _gather(mix, batch, device=self.device), device=self.device,
                                precision=self.precision)
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                if len(batch) == 1 or not _is_oom(exc):
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self.batch_size = max(1, len(batch) // 2)
                warnings.warn(f"Out of memory with {len(batch)} Demucs segments at once; "
                              f"trying {self.batch_size}.", _kit_warning(), stacklevel=4)
                return torch.cat([self.run(mix, batch[:self.batch_size]),
                                  self.run(mix, batch[self.batch_size:])])

    def calibrate(self, mix, first, n_left: int):
        """Run one segment alone and size the batches from the memory it took (CUDA)."""
        import torch

        before = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        out = self.run(mix, [first])
        per_segment = torch.cuda.max_memory_allocated(self.device) - before
        self.batch_size = pick_batch_size(_cuda_free_bytes(self.device), per_segment, n_segments=n_left)
        return out


@contextlib.contextmanager
def _fused_attention(device):
    """On the CPU, send ``nn.MultiheadAttention`` to ``scaled_dot_product_attention``.

    In eval mode without autograd, ``nn.MultiheadAttention`` takes torch's "fast
    path" (``torch._native_multi_head_attention``), which on the CPU computes
    attention as two ``bmm`` and a softmax over the whole (8, 2688, 2688) matrix of
    htdemucs's frequency self-attention: about a third of a segment's time. With
    the fast path off, the same layers call the fused (flash) kernel; the stems
    change by float rounding only (4e-7). About 1.1x per segment
    (benchmarks/bench_demucs_cpu.py). On CUDA the fast path already fuses.
    """
    import torch

    mha = getattr(torch.backends, "mha", None)
    if device.type != "cpu" or mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def _kit_warning():
    from ..errors import KitWarning

    return KitWarning


def apply_batched(model, mix, *, shifts: int = 1, overlap: float = 0.25, segment=None, seed: int = 0,
                  device="cpu", batch_size: int | None = None, precision: str = "fp32",
                  runtime: str = "torch", progress: Progress = None):
    """Apply a Demucs model (or bag of models) to a normalised mix, many segments per call.

    Same stems as ``demucs.apply.apply_model(model, mix[None], shifts=shifts,
    overlap=overlap, segment=segment)[0]`` after ``random.seed(seed)``, up to
    float rounding.

    Parameters
    ----------
    model : demucs.apply.BagOfModels or a Demucs network
    mix : torch.Tensor, shape (channels, samples), float32
        The normalised mix (the song minus its mean, over its standard deviation).
    shifts : int
        Random time shifts averaged (0: none); offsets drawn as apply_model draws them.
    overlap : float
        Segment overlap in [0, 1).
    segment : float, optional
        Segment length in seconds (default: each network's own).
    seed : int
        Seed of the shift offsets.
    device : str or torch.device
        Where the networks run; the networks are moved there.
    batch_size : int, optional
        Segments per call. Default: sized to the free memory on CUDA (one
        segment is run alone first to measure what a segment takes),
        ``CPU_BATCH`` elsewhere. Halved when memory runs out.
    precision : {"fp32", "bf16"}
        ``bf16`` runs the networks under bfloat16 autocast, on CUDA only
        (elsewhere fp32 is used).
    runtime : {"torch", "onnx"}
        ``onnx`` runs HTDemucs networks on the CPU through ONNX Runtime
        (:mod:`kit.separators.demucs_onnx`: exported once per model and kept on
        disk; torch, with a note, where that is not possible). Ignored on other devices.
    progress : callable, optional
        Called with a fraction 0..1 after each batch.

    Returns
    -------
    stems : torch.Tensor, shape (sources, channels, samples), float32, on the CPU

    Examples
    --------
    >>> import torch
    >>> from kit.separators.demucs_batched import apply_batched
    >>> stems = apply_batched(model, torch.randn(2, 44100 * 10), shifts=0)  # doctest: +SKIP
    >>> stems.shape  # doctest: +SKIP
    torch.Size([4, 2, 441000])
    """
    import torch
    from demucs.apply import BagOfModels

    device = torch.device(device)
    nets = list(model.models) if isinstance(model, BagOfModels) else [model]
    bag_weights = model.weights if isinstance(model, BagOfModels) else [[1.0] * len(model.sources)]
    totals = [sum(w[k] for w in bag_weights) for k in range(len(model.sources))]
    channels, length = mix.shape
    rng = random.Random(seed)
    max_shift = int(0.5 * model.samplerate)
    work = []  # (network index, segments of all its shifts)
    for net in nets:
        if not shifts:
            work.append(plan_segments(net, length, overlap=overlap, segment=segment))
            continue
        segments = []
        for _ in range(shifts):
            lead = max_shift - rng.randint(0, max_shift)
            planned = plan_segments(net, length, lead=lead, overlap=overlap, segment=segment)
            _skip_draws_of_forwards(rng, net, len(planned))
            segments += planned
        work.append(segments)
    n_total, n_done = sum(len(w) for w in work), 0
    scale = 1.0 / max(1, shifts)

    mix_dev = mix.to(device)
    out_bytes = len(model.sources) * channels * length * 4
    keep_out_on_device = device.type != "cuda" or out_bytes < 0.3 * _cuda_free_bytes(device)
    out = torch.zeros(len(model.sources), channels, length,
                      device=device if keep_out_on_device else "cpu")
    for net, net_weights, segments in zip(nets, bag_weights, work, strict=True):
        net.to(device)
        net.eval()
        source_scale = torch.tensor([w / t * scale for w, t in zip(net_weights, totals, strict=True)])
        factors = {}  # segment key -> (sources, 1, length) factor, on the output's device
        size = batch_size or (None if device.type == "cuda" else CPU_BATCH)
        call = None
        if runtime == "onnx" and device.type == "cpu":
            from .demucs_onnx import onnx_forward

            call = onnx_forward(net)
        runner = _Runner(call or net, device, batch_size=size, precision=precision)
        queue = list(segments)
        # inference_mode, not no_grad: no version counters or view tracking on the
        # network's activations (benchmarks/bench_demucs_cpu.py). ``out`` is made outside,
        # so it stays an ordinary tensor the caller can scale in place. On the CPU, large
        # activations come from memory the previous segment freed, not fresh pages from the
        # kernel (kit.heap; bench_demucs_cpu.py --no-heap-reuse).
        reuse = reuse_freed_memory() if device.type == "cpu" else contextlib.nullcontext()
        with torch.inference_mode(), _fused_attention(device), reuse:
            while queue:
                if runner.batch_size is None:
                    batch, y = queue[:1], runner.calibrate(mix_dev, queue[0], len(queue) - 1)
                else:
                    # one network call takes one input width (the last segment of an
                    # HDemucs pass can be narrower)
                    width = queue[0].width
                    batch = []
                    for seg in queue[:runner.batch_size]:
                        if seg.width != width:
                            break
                        batch.append(seg)
                    y = runner.run(mix_dev, batch)
                queue = queue[len(batch):]
                y = y.to(out.device)
                for b, seg in enumerate(batch):
                    if seg.key not in factors:
                        factors[seg.key] = (source_scale[:, None, None] * seg.coef[None, None, :]).to(out.device)
                    trim = (seg.width - seg.length) // 2  # center_trim: the odd sample goes on the right
                    lo, hi = max(0, seg.start), min(length, seg.start + seg.length)
                    a, z = lo - seg.start, hi - seg.start
                    out[:, :, lo:hi].addcmul_(y[b, :, :, trim + a:trim + z], factors[seg.key][:, :, a:z])
                del y
                n_done += len(batch)
                report(progress, min(0.99, n_done / n_total))
        if len(nets) > 1:
            net.to("cpu")  # as apply_model does for a bag: one network on the GPU at a time
    return out.cpu()
