"""The batched Demucs path equals Demucs's own apply_model, on RANDOM-weight models.

The networks are the real ``HTDemucs`` class with shrunk channels and seeded
random weights (``model_fixtures.py``), not the pretrained models: these tests
check that the segments, transition weights, shift offsets and bag weighting
are apply_model's, never separation quality.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from model_fixtures import STEMS_4, STEMS_6, apply_model_seeded, make_random_htdemucs, normalised_song

import kit
from kit.errors import KitWarning, OptionError
from kit.separators import demucs as kd
from kit.separators import demucs_batched as kb

SR = 44100


@pytest.fixture(scope="module")
def mix():
    """2.3 s of the bundled song, normalised as Demucs expects: two or three segments per pass."""
    return normalised_song(2.3)


def make_model(kind: str):
    from demucs.apply import BagOfModels

    if kind == "4-stem":
        return make_random_htdemucs(STEMS_4, seed=0)[0]
    if kind == "6-stem":
        return make_random_htdemucs(STEMS_6, seed=1)[0]
    # like htdemucs_ft (one model per stem), with mixed weights so that every term counts
    nets = [make_random_htdemucs(STEMS_4, seed=s)[0] for s in (2, 3)]
    return BagOfModels(nets, [[1, 0, 1, 0.5], [0, 1, 1, 0.5]])


@pytest.mark.parametrize("kind, shifts, segment", [
    ("4-stem", 0, None),
    ("4-stem", 2, 1.5),  # two shifts: the second offset is drawn after the first pass's network calls
    ("6-stem", 1, None),
    ("bag", 1, None),  # the second network's offset is drawn after the first network's calls
])
def test_equals_apply_model(mix, kind, shifts, segment):
    model = make_model(kind)
    expected = apply_model_seeded(model, mix, shifts=shifts, segment=segment, seed=3)
    got = kb.apply_batched(model, mix, shifts=shifts, segment=segment, overlap=0.25, seed=3, batch_size=3)
    assert got.shape == expected.shape == (len(model.sources), 2, mix.shape[1])
    assert torch.max(torch.abs(got - expected)).item() <= 1e-4
    # the network runs under inference_mode, but the stems are an ordinary tensor: the
    # separator scales them in place afterwards, which an inference tensor refuses
    assert not got.is_inference()
    got *= 1.0
    # and the seed matters: another seed draws other offsets
    if kind == "6-stem":
        other = kb.apply_batched(model, mix, shifts=shifts, segment=segment, seed=4, batch_size=3)
        assert torch.max(torch.abs(other - got)).item() > 1e-3


def test_segments_go_through_the_network_in_batches_into_one_buffer(mix, monkeypatch):
    model = make_model("bag")
    calls, full_length = [], []
    real_forward, real_zeros = kb._forward, torch.zeros

    def counting_forward(net, x, **kw):
        calls.append(x.shape[0])
        return real_forward(net, x, **kw)

    def watching_zeros(*shape, **kw):
        dims = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if dims and dims[-1] >= mix.shape[1]:
            full_length.append(tuple(dims))
        return real_zeros(*shape, **kw)

    monkeypatch.setattr(kb, "_forward", counting_forward)
    monkeypatch.setattr(torch, "zeros", watching_zeros)
    kb.apply_batched(model, mix, shifts=2, batch_size=8)
    # one call per network, with all its segments: 2 shifts x 2 segments of 1.95 s
    assert calls == [4, 4]
    # one full-length buffer for all stems, shifts and networks; no copy per pass
    assert full_length == [(4, 2, mix.shape[1])]


def test_cpu_attention_goes_to_the_fused_kernel_not_the_bmm_fast_path(mix, monkeypatch):
    # torch's MultiheadAttention "fast path" computes attention with two bmm and a full
    # softmax on the CPU; kit turns it off there so that the fused kernel runs (1.1x)
    model = make_model("4-stem")
    calls = []
    real = torch._native_multi_head_attention

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(torch, "_native_multi_head_attention", counting)
    with torch.inference_mode():
        model(mix[None, :, :int(model.segment * SR)])
    assert calls, "the fast path is not taken any more: this test checks nothing"
    calls.clear()
    kb.apply_batched(model, mix, shifts=0)
    assert calls == []
    assert torch.backends.mha.get_fastpath_enabled()  # the setting is given back


def test_out_of_memory_halves_the_batch_and_gives_the_same_stems(mix, monkeypatch):
    model = make_model("4-stem")
    expected = kb.apply_batched(model, mix, shifts=1, batch_size=1)
    real_forward, seen = kb._forward, []

    def small_memory(net, x, **kw):
        seen.append(x.shape[0])
        if x.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return real_forward(net, x, **kw)

    monkeypatch.setattr(kb, "_forward", small_memory)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = kb.apply_batched(model, mix, shifts=1, batch_size=4)
    assert seen[0] > 1 and 1 in seen
    assert any("Out of memory" in str(w.message) and issubclass(w.category, KitWarning) for w in caught)
    assert torch.equal(got, expected)


def test_out_of_memory_inside_the_batched_path_finishes_on_the_cpu(demucs_model_dir, monkeypatch):
    """A GPU that runs out of memory even for one segment: the separator finishes on the CPU.

    No GPU here: the 'GPU' run is the real batched path on the CPU whose network calls all
    raise torch.OutOfMemoryError, as CUDA would.
    """
    y, sr = kit.examples.load_song(duration_s=2.0)  # two segments: one batch of 2, then halved
    sep = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0, batch_size=2)
    expected = sep.separate(y, sr)
    real_apply, real_forward = kd.apply_batched, kb._forward
    devices = []

    def oom_forward(net, x, **kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def pretend_gpu(model, mix, *, device, **kw):
        devices.append(device)
        if device == "cpu":
            return real_apply(model, mix, device=device, **kw)
        with monkeypatch.context() as m:
            m.setattr(kb, "_forward", oom_forward)
            return real_apply(model, mix, device="cpu", **kw)

    monkeypatch.setattr(kd, "apply_batched", pretend_gpu)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    sep.device = "cuda"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stems = sep.separate(y, sr)
    notes = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
    assert devices == ["cuda", "cpu"]
    assert "trying 1" in " ".join(notes) and "on the CPU" in notes[-1]
    assert kb._forward is real_forward
    for name in STEMS_4:
        assert np.array_equal(stems[name], expected[name])


def test_kit_separate_uses_the_batched_path(demucs_model_dir, monkeypatch):
    import demucs.apply

    def not_this(*a, **k):
        raise AssertionError("apply_model was called")

    monkeypatch.setattr(demucs.apply, "apply_model", not_this)
    y, sr = kit.examples.load_song(duration_s=1.0)
    stems = kit.separate(y, sr, model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0,
                         cache=False)
    assert list(stems) == list(STEMS_4) and all(s.shape == y.shape for s in stems.values())


def test_bf16_on_the_cpu_runs_fp32_with_a_note(demucs_model_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kd._NOTES_SHOWN.discard("precision-cpu")
        sep = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", precision="bf16")
    assert sep.precision == "fp32" and "precision" not in sep.cache_settings
    assert any("needs a CUDA GPU" in str(w.message) for w in caught)
    with pytest.raises(OptionError, match="precision='fp16' is not one of fp32, bf16"):
        kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", precision="fp16")


@pytest.mark.parametrize("free_gb, per_segment_mb, n, expected", [
    (10, 200, 100, 35),   # 0.7 * 10 GiB / 200 MiB
    (100, 200, 30, 30),   # never more than the segments left
    (1, 2048, 30, 1),     # at least one
    (1000, 1, 10_000, kb.MAX_BATCH),
])
def test_batch_size_follows_free_memory(free_gb, per_segment_mb, n, expected):
    assert kb.pick_batch_size(free_gb * 2**30, per_segment_mb * 2**20, n_segments=n) == expected


def test_segments_cover_the_song_like_apply_model():
    net = make_random_htdemucs(STEMS_4)[0]
    seg_len = int(SR * net.segment)
    stride = int(0.75 * seg_len)
    length = 3 * SR
    plain = kb.plan_segments(net, length)
    assert [s.start for s in plain] == list(range(0, length, stride))
    assert all(s.width == seg_len for s in plain)
    # a shifted pass reads 0.3 s earlier: its segments start that much before the song
    lead = int(0.3 * SR)
    shifted = kb.plan_segments(net, length, lead=lead)
    assert [s.start for s in shifted] == [c - lead for c in range(0, length + lead, stride)]
    # the weights of overlapping segments add up to one everywhere
    total = torch.zeros(length + lead)
    for s in shifted:
        total[s.start + lead:s.start + lead + s.length] += s.coef
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)
