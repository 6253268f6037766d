"""Out of GPU memory is never a traceback: ``unet`` retries a smaller batch, then the CPU.

There is no GPU on the test machines, so the GPU is simulated: the separator is
told it runs on ``cuda`` (kit.devices.pick_device is patched), the networks load
on the CPU, and the segment loop raises torch's own ``OutOfMemoryError`` while
the "GPU" is asked for more than it can hold. Everything that does run, runs
the real pretrained networks on the real song clip on the CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kit
from kit.errors import KitError, KitWarning
from kit.separators import api, unet
from kit.separators import spleeter_net as sn

SR = 44100


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=1.5)[0]


@pytest.fixture(scope="module")
def cpu_stems(song):
    return unet.UNetSeparator(device="cpu", batch_segments=4).separate(song, SR)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A pretend CUDA device that holds at most ``state['max_batch']`` segments (0: nothing at all)."""
    state = {"max_batch": 0, "calls": []}
    real_loop, real_load = unet.separate_in_segments, sn.load_unet

    def loop(y, nets, *, device="cpu", batch_segments=2, progress=None):
        state["calls"].append((device, batch_segments))
        if device != "cpu" and batch_segments > state["max_batch"]:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real_loop(y, nets, device="cpu", batch_segments=batch_segments, progress=progress)

    monkeypatch.setattr(unet, "separate_in_segments", loop)
    monkeypatch.setattr(sn, "load_unet", lambda name, *, device="cpu", fast=True: real_load(name, fast=fast))
    monkeypatch.setattr(kit.devices, "pick_device", lambda requested="auto": "cuda" if requested != "cpu" else "cpu")
    api.clear_models()
    yield state
    api.clear_models()


def test_a_smaller_batch_is_tried_first(fake_gpu, song, cpu_stems):
    fake_gpu["max_batch"] = 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stems = unet.UNetSeparator(device="cuda", batch_segments=4).separate(song, SR)
    messages = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
    assert len(messages) == 2 and "batch_segments=2" in messages[0] and "batch_segments=1" in messages[1]
    assert not any("CPU" in m for m in messages)
    assert fake_gpu["calls"] == [("cuda", 4), ("cuda", 2), ("cuda", 1)]
    for name, stem in stems.items():
        np.testing.assert_allclose(stem, cpu_stems[name], atol=1e-5)


def test_then_the_cpu_finishes_with_a_warning(fake_gpu, song, cpu_stems):
    fake_gpu["max_batch"] = 0  # not even one segment fits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stems = kit.separate(song, SR, model="unet", device="cuda", batch_segments=4, cache=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
    assert any("finishing 'unet' on the CPU" in m for m in messages), messages
    assert all("\n" not in m for m in messages)
    assert fake_gpu["calls"][-1] == ("cpu", 4)  # the CPU gets the batch asked for
    assert [c[0] for c in fake_gpu["calls"]].count("cpu") == 1
    for name, stem in stems.items():
        np.testing.assert_array_equal(stem, cpu_stems[name])


def test_out_of_memory_everywhere_is_one_clear_line(fake_gpu, monkeypatch, song):
    def no_memory_anywhere(y, nets, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")

    monkeypatch.setattr(unet, "separate_in_segments", no_memory_anywhere)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KitWarning)
        with pytest.raises(KitError) as info:
            kit.separate(song, SR, model="unet", device="cuda", cache=False)
    message = str(info.value)
    assert "out of memory" in message and "\n" not in message
    assert "--device cpu" not in message  # it already was on the CPU: the fix offered fits


def test_other_errors_are_not_mistaken_for_memory(fake_gpu, monkeypatch, song):
    def broken(y, nets, **kw):
        raise RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR")

    monkeypatch.setattr(unet, "separate_in_segments", broken)
    with pytest.raises(RuntimeError, match="CUDNN_STATUS_INTERNAL_ERROR"):
        unet.UNetSeparator(device="cuda").separate(song, SR)


def test_the_command_line_says_one_line(fake_gpu, monkeypatch, tmp_path, capsys):
    from kit import cli

    monkeypatch.setattr(unet, "separate_in_segments",
                        lambda y, nets, **kw: (_ for _ in ()).throw(RuntimeError("MPS backend out of memory")))
    path = tmp_path / "song.wav"
    kit.save(path, kit.examples.load_song(duration_s=1.0)[0], SR)
    out = tmp_path / "stems"
    code = cli.main(["separate", str(path), "--model", "unet", "--device", "cuda", "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("kit: error:")]
    assert len(lines) == 1 and "out of memory" in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # no partial stems
