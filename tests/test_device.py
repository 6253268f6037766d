"""The GPU paths, run on a GPU: CUDA (or Apple MPS) separation, bf16 autocast, batched Demucs, unet's fast form.

Marked ``gpu``. Where no CUDA or MPS device is present they are skipped, and pytest
lists them as skipped with the reason (``-ra``): the CI runners have no GPU, so run
``pytest -m gpu`` on a machine that has one. ``KIT_TEST_DEVICE=cpu pytest -m gpu``
runs them on the CPU, to check the tests themselves (the comparisons are then trivial).

The Demucs models are RANDOM-weight models of the real HTDemucs class
(``model_fixtures.py``): these tests compare the device with the CPU, not quality.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from model_fixtures import STEMS_4, make_random_htdemucs

import kit
from kit.separators import demucs_batched as kb
from kit.separators import spleeter_net as sn
from kit.separators.unet import UNetSeparator


def _present_device() -> str | None:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return None


PRESENT = _present_device()
DEVICE = os.environ.get("KIT_TEST_DEVICE") or PRESENT
SR = 44100

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(DEVICE is None, reason="no CUDA or MPS device on this machine (run pytest -m gpu on one)"),
]
not_on_mps = pytest.mark.skipif(DEVICE == "mps", reason="bf16 is a CUDA option (and runs on the CPU for a dry run)")


def snr_db(estimate, reference) -> float:
    estimate, reference = (np.asarray(a, dtype=np.float64) for a in (estimate, reference))
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum((estimate - reference) ** 2), 1e-30)))


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=6.0)


@pytest.fixture(autouse=True)
def _full_precision(monkeypatch):
    """Compare in fp32 proper: TF32 (on by default for cuDNN convolutions) rounds to 10 bits."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(old)


def test_auto_picks_the_device_and_unet_there_agrees_with_the_cpu(song):
    y, sr = song
    assert kit.pick_device("auto") == (PRESENT or "cpu")
    sep = UNetSeparator(device=DEVICE)
    assert sep.device == DEVICE
    on_device = sep.separate(y, sr)
    on_cpu = UNetSeparator(device="cpu").separate(y, sr)
    for name in ("vocals", "accompaniment"):
        assert on_device[name].shape == y.shape
        assert snr_db(on_device[name], on_cpu[name]) > 60, name  # measured on CUDA: 77 dB


def test_cli_separates_on_the_device_and_says_so(song, tmp_path):
    y, sr = song
    path = kit.save(tmp_path / "song.wav", y[:, : 3 * sr], sr)
    proc = subprocess.run([sys.executable, "-m", "kit", "separate", str(path), "--model", "unet",
                           "--device", DEVICE, "--out", str(tmp_path / "stems"), "--no-cache"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"kit: separating with unet on {DEVICE}" in proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "stems" / f"{s}.wav") for s in ("vocals", "accompaniment")]


@not_on_mps
def test_bf16_autocast_runs_the_convolutions_in_bf16_and_keeps_the_quality():
    mix, truth = kit.examples.make_multitrack(6.0)
    fp32 = UNetSeparator(device=DEVICE).separate(mix, SR)
    bf16_sep = UNetSeparator(device=DEVICE, precision="bf16")
    dtypes = set()
    hooks = [m.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
             for net in bf16_sep.load_nets().values() for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        bf16 = bf16_sep.separate(mix, SR)
    finally:
        for h in hooks:
            h.remove()
    assert torch.bfloat16 in dtypes  # autocast reached the convolutions
    assert not np.array_equal(bf16["vocals"], fp32["vocals"])
    # measured on the CPU: bf16 moved the vocals' SDR by 0.001 dB
    assert snr_db(bf16["vocals"], truth["vocals"]) == pytest.approx(snr_db(fp32["vocals"], truth["vocals"]), abs=0.2)
    np.testing.assert_allclose(bf16["vocals"] + bf16["accompaniment"], mix, atol=1e-4)


def test_unet_fast_form_on_the_device_equals_its_layers():
    slow = sn.load_unet("vocals", device=DEVICE, fast=False)
    fast = sn.load_unet("vocals", device=DEVICE, fast=True)
    mag = torch.rand(2, 2, 64, 128, generator=torch.Generator().manual_seed(0)).mul_(4).to(DEVICE)
    with torch.inference_mode():
        a, b = slow(mag), fast(mag)
    assert a.device.type == torch.device(DEVICE).type
    assert torch.allclose(a.cpu(), b.cpu(), atol=1e-4)


@pytest.fixture(scope="module")
def demucs_mix(song):
    y, _ = song
    wav = torch.from_numpy(np.ascontiguousarray(y[:, : int(2.3 * SR)]))
    ref = wav.mean(0)
    return (wav - ref.mean()) / (ref.std() + 1e-8)


@pytest.mark.parametrize("batch_size", [3, None], ids=["batch-3", "batch-sized-to-memory"])
def test_batched_demucs_on_the_device_equals_apply_model_on_the_cpu(demucs_mix, batch_size):
    from demucs.apply import apply_model

    if batch_size is None and not DEVICE.startswith("cuda"):
        pytest.skip("batches are sized to the free memory on CUDA only")
    model = make_random_htdemucs(STEMS_4, seed=0)[0]
    random.seed(3)  # the shift offsets apply_batched draws with seed=3
    expected = apply_model(model, demucs_mix[None], shifts=1, overlap=0.25)[0]
    got = kb.apply_batched(model, demucs_mix, shifts=1, overlap=0.25, seed=3, device=DEVICE, batch_size=batch_size)
    assert got.shape == expected.shape
    for i in range(len(STEMS_4)):
        assert snr_db(got[i].cpu().numpy(), expected[i].numpy()) > 60, STEMS_4[i]


@not_on_mps
def test_demucs_separator_on_the_device_fp32_and_bf16(demucs_model_dir):
    y, sr = kit.examples.load_song(duration_s=3.0)
    cpu = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0).separate(y, sr)
    fp32 = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device=DEVICE, shifts=0)
    assert fp32.device == DEVICE
    got = fp32.separate(y, sr)
    bf16 = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device=DEVICE, shifts=0,
                             precision="bf16").separate(y, sr)
    for name in STEMS_4:
        assert snr_db(got[name], cpu[name]) > 60, name
        if DEVICE.startswith("cuda"):  # bf16 is a CUDA option: close to fp32, not equal
            assert 10 < snr_db(bf16[name], got[name]) < 200, name
