"""kit.devices: CUDA, then MPS, then CPU; clear errors for absent devices."""

import pytest
import torch

import kit
from kit.errors import OptionError


def test_cpu_is_always_there():
    assert kit.pick_device("cpu") == "cpu"
    assert "cpu" in kit.devices.describe_device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert kit.pick_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert kit.pick_device("auto") == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert kit.pick_device("auto") == "cpu"


def test_absent_or_unknown_devices_are_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(OptionError, match="no CUDA GPU"):
        kit.pick_device("cuda")
    with pytest.raises(OptionError, match="Unknown device 'tpu'"):
        kit.pick_device("tpu")
