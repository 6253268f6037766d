"""The fast form of the ``unet`` networks computes what the layers as trained compute.

Speed itself is measured by benchmarks/bench_unet_speed.py, never here. These
tests check that the faster form (transposed convolutions split by output
phase, batch norm folded into the weights, one inverse STFT) changes nothing
that matters: the masks below 11 kHz (the band the networks see) and the stems.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kit
from kit.separators import spleeter_net as sn
from kit.separators.unet import UNetSeparator, iter_masked_batches

SR = 44100


def make_block(n_in, n_out, *, seed, negative_scale=False):
    """An UpBlock with random weights and batch-norm statistics, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    block = sn.UpBlock(n_in, n_out).eval()
    with torch.no_grad():
        for p in (block.deconv.weight, block.deconv.bias, block.bn.bias, block.bn.running_mean):
            p.copy_(torch.randn(p.shape, generator=gen))
        block.bn.weight.copy_(torch.rand(n_out, generator=gen) + 0.5)
        block.bn.running_var.copy_(torch.rand(n_out, generator=gen) + 0.5)
        if negative_scale:
            block.bn.weight[0] = -1.0
    return block


@pytest.mark.parametrize("form", ["phases", "subpixel"])
@pytest.mark.parametrize("shape", [(1, 8, 6, 10), (2, 8, 5, 7), (1, 8, 1, 1)])
def test_fast_forms_equal_the_transposed_convolution(form, shape):
    block = make_block(shape[1], 5, seed=sum(shape))
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        plain = block(x)
        for fold in (False, True):
            block.use_fast_form(form, fold=fold)
            fast = block(x.clone())
            assert fast.shape == plain.shape == (shape[0], 5, 2 * shape[2], 2 * shape[3])
            torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
            channels_last = x.contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(block(channels_last), plain, atol=1e-5, rtol=1e-5)
            block.use_fast_form("plain")


def test_a_negative_batch_norm_scale_is_not_folded():
    block = make_block(4, 3, seed=7, negative_scale=True)
    assert sn.fold_batch_norm(block.deconv, block.bn) is None  # relu then a negative scale cannot be folded
    x = torch.randn(1, 4, 6, 6)
    with torch.inference_mode():
        plain = block(x)
        block.use_fast_form("phases", fold=True)
        assert block.clamp_min is None
        torch.testing.assert_close(block(x), plain, atol=1e-5, rtol=1e-5)


def test_training_runs_the_layers_as_trained():
    block = make_block(4, 3, seed=3)
    block.use_fast_form("phases")
    block.train()
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    block(x).sum().backward()  # gradients reach the real weights, not the precomputed copies
    assert block.deconv.weight.grad is not None and x.grad is not None


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=6.0)[0]


@pytest.fixture(scope="module")
def masks(song):
    """Vocal masks of the song through the fast networks and through the layers as trained."""
    out = {}
    for fast in (True, False):
        nets = {name: sn.load_unet(name, fast=fast) for name in ("vocals", "accompaniment")}
        with torch.inference_mode():
            out[fast] = torch.cat([m for _, _, m, _ in iter_masked_batches(song, nets)], dim=2).numpy()
    return out


def test_pretrained_fast_form_gives_the_same_masks_below_11_khz(masks):
    fast, plain = masks[True][:, :sn.N_BINS], masks[False][:, :sn.N_BINS]
    assert fast.shape == plain.shape
    assert np.corrcoef(fast.ravel(), plain.ravel())[0, 1] >= 0.999
    assert np.max(np.abs(fast - plain)) < 1e-4
    assert 0.05 < plain.mean() < 0.95  # the masks say something: not all vocals, not all accompaniment


def test_fast_networks_use_the_phase_form_on_cpu():
    net = sn.load_unet("vocals")
    forms = [block.form for block in net.up]
    assert forms[:-1] == ["phases"] * 5 and forms[-1] == "subpixel"
    assert all(block.clamp_min is not None for block in net.up)  # batch norms folded
    # the precomputed weights stay out of the state dict: it is still the file's
    assert set(net.state_dict()) == set(sn.SpleeterUNet().state_dict())


def test_stems_add_up_to_the_input_exactly(song):
    stems = UNetSeparator(device="cpu").separate(song, SR)
    total = stems["vocals"] + stems["accompaniment"]
    assert np.max(np.abs(total - song)) < 1e-6
    assert 0.05 < np.std(stems["vocals"]) / np.std(song) < 0.95


def test_bf16_moves_the_vocals_only_a_little(song):
    clip = song  # the singing starts 2 s in: a shorter clip has almost no vocals to compare
    fp32 = kit.separate(clip, SR, model="unet", device="cpu", cache=False)
    bf16 = kit.separate(clip, SR, model="unet", device="cpu", precision="bf16", cache=False)
    error = bf16["vocals"].astype(np.float64) - fp32["vocals"]
    snr_db = 10 * np.log10(np.sum(fp32["vocals"].astype(np.float64) ** 2) / np.sum(error**2))
    assert 35 < snr_db < 120  # it did run in bf16 (not bit-equal), and stayed close
    kit.clear_models()


def test_an_unknown_precision_is_one_clear_line():
    with pytest.raises(kit.KitError, match="precision='fp16'.*fp32, bf16"):
        kit.get_separator("unet", device="cpu", precision="fp16")


def test_convolution_as_one_matrix_product_equals_conv2d():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 6, 13, 17, generator=gen).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(4, 6, 5, 5, generator=gen), torch.randn(4, generator=gen)
    out = sn.conv2d_as_matmul(x, weight, bias, stride=2)
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, weight, bias, stride=2), atol=1e-4, rtol=1e-4)
    assert out.shape == (2, 4, 5, 7)


def random_unet(seed):
    """A SpleeterUNet with random weights and positive batch-norm scales, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    net = sn.SpleeterUNet().eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            # weights scaled by their fan-in, so activations stay near 1 through all twelve layers
            scale = p[0].numel() ** -0.5 if name.endswith("weight") and p.dim() == 4 else 0.1
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return net


@pytest.mark.parametrize("channels_last", [True, False])
def test_fast_encoder_and_joined_decoder_equal_the_layers_as_trained(channels_last):
    net = random_unet(11)
    mag = torch.rand(2, 2, 128, 192, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        plain = net(mag)
        net.use_fast_form(bottom_as_matmul=True)
        assert net.fast_encoder and net.down[-1].as_matmul
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
            mag = mag.contiguous(memory_format=torch.channels_last)
        fast = net(mag)
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-4)
        net.use_fast_form(fold=False)  # batch norms kept: the encoder runs its plain layers again
        assert not net.fast_encoder
        torch.testing.assert_close(net(mag), plain, atol=1e-5, rtol=1e-4)


def test_joined_output_is_the_skip_then_the_block_output():
    block = make_block(6, 5, seed=4)
    x = torch.randn(1, 6, 4, 5, generator=torch.Generator().manual_seed(8))
    skip = torch.randn(1, 3, 8, 10, generator=torch.Generator().manual_seed(9))
    with torch.inference_mode():
        expected = torch.cat([skip, block(x)], dim=1)
        block.use_fast_form("phases")
        torch.testing.assert_close(block.forward_joined(x, skip), expected, atol=1e-5, rtol=1e-5)


def test_training_mode_runs_the_plain_encoder():
    net = random_unet(3).use_fast_form()
    net.train()
    assert not net.fast_encoder
    mag = torch.rand(2, 2, 64, 64, requires_grad=True)  # batch norm in training needs two values
    net(mag).sum().backward()
    assert net.down[0].conv.weight.grad is not None


@pytest.mark.parametrize("device_kind", ["cuda", "mps"])
def test_the_forms_chosen_for_gpus_compute_the_same(device_kind):
    # the forms load_unet picks on a GPU, run here on the CPU (no GPU on the test machines)
    net = random_unet(5)
    mag = torch.rand(1, 2, 64, 128, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        plain = net(mag)
        net.use_fast_form(phases=False, encoder=device_kind == "cuda", bottom_as_matmul=False)
        assert net.fast_encoder == (device_kind == "cuda")
        assert {block.form for block in net.up} == {"subpixel"}
        torch.testing.assert_close(net(mag), plain, atol=1e-5, rtol=1e-4)
