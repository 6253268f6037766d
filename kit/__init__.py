"""kit: a teaching kit for music source separation, and a karaoke maker.

The public API is re-exported here. Names are imported on first use so that
``import kit`` and ``kit --help`` stay fast (torch takes seconds to import).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load": "kit.audio",
    "save": "kit.audio",
    "KitError": "kit.errors",
    "KitWarning": "kit.errors",
    "separate": "kit.separators.api",
    "separate_blocks": "kit.separators.blocks",
    "probe_audio": "kit.audio",
    "clear_models": "kit.separators.api",
    "get_separator": "kit.separators.registry",
    "list_models": "kit.separators.registry",
    "pick_device": "kit.devices",
    "make_backing_track": "kit.mix",
    "write_backing_track": "kit.mix",
    "shift_pitch": "kit.pitch",
    "fetch_audio": "kit.fetch",
    "automix": "kit.automix",
    "evaluate": "kit.evaluate",
    "make_scoreboard": "kit.evaluate",
    "make_oracle": "kit.separators.oracle",
    "track_pitch": "kit.pitch_tracking",
    "extract_melody": "kit.melody",
    "score_singing": "kit.singing",
    "batch": "kit.batch",
    "split_vocals": "kit.vocal_split",
    "train_unet": "kit.train",
    "train_demucs": "kit.train_demucs",
}
_SUBMODULES = {
    "audio", "errors", "ffmpeg", "examples", "devices", "spectral", "masks", "separators",
    "cache", "mix", "pitch", "fetch", "musdb", "plot", "ui", "cli", "progress", "automix", "train", "train_demucs",
    "pitch_tracking", "melody", "singing", "vocal_split",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kit.{name}")
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


# `kit.evaluate` names both a module and its main function. Binding the function at
# import time means a later `import kit.evaluate` cannot shadow it (evaluate.py is light).
from .automix import automix  # noqa: E402, F401  (same clash as evaluate; automix.py is light too)
from .batch import batch  # noqa: E402, F401  (same clash; batch.py imports nothing heavy)
from .evaluate import evaluate  # noqa: E402, F401
