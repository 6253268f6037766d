"""Model names -> separator objects.

Each family lives in its own module that provides three functions:
``make_separator(name, **options)``, ``stems_for(name)`` (no weights loaded)
and ``offline_status(name, **options) -> (usable: bool, detail: str)``.
"""

from __future__ import annotations

import difflib
import importlib

from ..errors import OptionError
from .demucs_weights import DEMUCS_MODELS  # the names live with the weights: no import cycle

__all__ = [
    "get_separator", "list_models", "stems_for", "offline_status", "best_available_model", "normalize_model_name",
    "DEMUCS_MODELS", "CLASSICAL_MODELS",
]

CLASSICAL_MODELS = ("repet", "hpss", "center")
_FAMILY = {"unet": "kit.separators.unet"}
_FAMILY["tiny-unet"] = "kit.separators.tiny_unet"  # weights you train: kit.train
_FAMILY.update({m: "kit.separators.classical" for m in CLASSICAL_MODELS})
_FAMILY.update({m: "kit.separators.demucs" for m in DEMUCS_MODELS})

# Best first: what "auto" picks when it can run offline now.
_PREFERENCE = ("htdemucs_ft", "htdemucs", "unet")


def list_models() -> list[str]:
    """Names accepted by ``--model``.

    Examples
    --------
    >>> import kit
    >>> "unet" in kit.list_models()
    True
    """
    return list(_FAMILY)


def _family(name: str, model_dir=None):
    if name in _FAMILY:
        return importlib.import_module(_FAMILY[name])
    # A custom Demucs model dropped into the model folder (name.th / name.yaml)
    demucs = importlib.import_module("kit.separators.demucs")
    if hasattr(demucs, "is_local_model") and demucs.is_local_model(name, model_dir=model_dir):
        return demucs
    close = difflib.get_close_matches(str(name).lower(), list_models(), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise OptionError(f"Unknown model '{name}'; {hint}choose one of: {', '.join(list_models())}.")


def normalize_model_name(name: str, *, model_dir=None) -> str:
    """The model name as kit spells it: ``"UNet"`` -> ``"unet"``; a custom local model keeps its case.

    Examples
    --------
    >>> from kit.separators.registry import normalize_model_name
    >>> normalize_model_name(" HTDemucs_6s ")
    'htdemucs_6s'
    """
    text = str(name).strip()
    low = text.lower()
    if low in _FAMILY or low == "auto":
        return low
    return text


def stems_for(name: str, *, model_dir=None) -> tuple[str, ...]:
    """The stem names a model produces, without loading it."""
    name = normalize_model_name(name, model_dir=model_dir)
    return tuple(_family(name, model_dir).stems_for(name, model_dir=model_dir))


def offline_status(name: str, **options) -> tuple[bool, str]:
    """Whether ``name`` can run right now without network, and why (one line)."""
    name = normalize_model_name(name, model_dir=options.get("model_dir"))
    return _family(name, options.get("model_dir")).offline_status(name, **options)


def best_available_model(**options) -> str:
    """The best model that runs offline now (Demucs if its weights are here, else unet)."""
    for name in _PREFERENCE:
        try:
            if offline_status(name, **options)[0]:
                return name
        except (ImportError, OptionError):
            continue
    return "unet"


def get_separator(name: str = "auto", **options):
    """Build the separator for a model name.

    Parameters
    ----------
    name : str
        ``"auto"`` (best available offline), ``"unet"``, a Demucs name, or
        ``"repet"``, ``"hpss"``, ``"center"``.
    **options
        Passed to the family: ``device``, ``model_dir``, ``segment``, ``shifts``...

    Returns
    -------
    separator : kit.separators.base.Separator
    """
    name = normalize_model_name(name, model_dir=options.get("model_dir"))
    if name == "auto":
        name = best_available_model(**options)
    return _family(name, options.get("model_dir")).make_separator(name, **options)
