"""Pick the compute device (CUDA, then Apple MPS, then CPU) and describe it."""

from __future__ import annotations

import os
import platform
import sys

from .errors import OptionError

__all__ = ["pick_device", "describe_device", "describe_engine", "device_report", "DEVICE_CHOICES"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _torch():
    import torch

    return torch


def pick_device(requested: str = "auto") -> str:
    """Turn ``auto|cpu|cuda|mps`` into a device that works here.

    ``auto`` tries CUDA, then Apple MPS, then the CPU. Asking for a device that
    is not present is an error that says what is available.

    Examples
    --------
    >>> import kit
    >>> kit.pick_device("cpu")
    'cpu'
    """
    requested = (requested or "auto").lower()
    if requested.startswith("cuda:"):
        base = "cuda"
    else:
        base = requested
    if base not in DEVICE_CHOICES:
        raise OptionError(f"Unknown device '{requested}'; use one of: {', '.join(DEVICE_CHOICES)}.")
    if base == "cpu":
        return "cpu"
    torch = _torch()
    has_cuda = torch.cuda.is_available()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if base == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if base == "cuda" and not has_cuda:
        raise OptionError("--device cuda was asked for, but no CUDA GPU is visible; use --device auto or cpu.")
    if base == "mps" and not has_mps:
        raise OptionError("--device mps was asked for, but Apple MPS is not available; use --device auto or cpu.")
    return requested


def describe_device(device: str) -> str:
    """One line saying what a device is, e.g. ``'cuda (NVIDIA H100, 79.1 GiB free)'``."""
    if device.startswith("cuda"):
        torch = _torch()
        idx = torch.device(device).index or 0
        name = torch.cuda.get_device_name(idx)
        try:
            free, total = torch.cuda.mem_get_info(idx)
            return f"{device} ({name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free)"
        except RuntimeError:
            return f"{device} ({name})"
    if device == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({platform.processor() or platform.machine()}, no GPU in use)"


def describe_engine(device: str) -> str:
    """One line for people (the app's "Engine:" line): what was found and what will be used.

    Examples
    --------
    >>> describe_engine("cpu").startswith("No GPU - using CPU")
    True

    See also
    --------
    notebooks/09_karaoke_maker.ipynb
    """
    if device.startswith("cuda"):
        torch = _torch()
        idx = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(idx)
        return f"GPU: {props.name}, {props.total_memory / 1e9:.0f} GB - using CUDA"
    if device == "mps":
        return "Apple GPU - using MPS"
    return f"No GPU - using CPU ({os.cpu_count() or 1} cores)"


def device_report() -> dict:
    """Versions and the device ``auto`` would pick, as a dict for ``kit doctor``."""
    report = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        torch = _torch()
        report["torch"] = torch.__version__
        dev = pick_device("auto")
        report["device"] = describe_device(dev)
    except ImportError:
        report["torch"] = "not installed"
        report["device"] = "cpu (torch missing: neural models unavailable)"
    return report
