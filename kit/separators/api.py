"""The front door: ``kit.separate(audio_or_path, ...)``, with the stem cache and a cache of built models."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import PurePath

import numpy as np

from ..audio import check_audio, load
from ..errors import OptionError
from ..progress import Progress, report
from ..vocal_split import check_split
from .registry import get_separator

__all__ = ["separate", "separate_with", "separate_file", "get_cached_separator", "clear_models", "MAX_CACHED_MODELS"]

# Separators kit.separate built, with their networks loaded, by (model, device, options).
# A few at most: each can hold a network (and its GPU memory) until clear_models().
MAX_CACHED_MODELS = 3
_MODELS: OrderedDict = OrderedDict()


def _freeze(value):
    """A hashable stand-in for an option value, or raise TypeError if it has none."""
    if isinstance(value, PurePath):
        return ("path", str(value))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    hash(value)  # arrays, dicts...: TypeError, and the separator is built afresh
    return value


def get_cached_separator(model: str = "auto", *, device: str = "auto", **options):
    """The separator for ``model`` on ``device`` with ``options``, built once and then reused.

    :func:`kit.separate` calls this, so separating ten excerpts with the same
    model reads its weights once. The last :data:`MAX_CACHED_MODELS` separators
    are kept (least recently used leaves first); :func:`clear_models` frees them.

    Parameters
    ----------
    model, device, **options
        As for :func:`kit.get_separator`.

    Returns
    -------
    separator : kit.separators.base.Separator

    Examples
    --------
    >>> from kit.separators.api import get_cached_separator
    >>> get_cached_separator("center", device="cpu") is get_cached_separator("center", device="cpu")
    True
    """
    from ..devices import pick_device
    from ..errors import OptionError
    from .registry import best_available_model

    if model == "auto":
        model = best_available_model(device=device, **options)
    try:
        where = pick_device(device)
    except OptionError:  # a family that runs only on the CPU may accept it: get_separator decides
        where = device
    try:
        key = (model, where, tuple(sorted((k, _freeze(v)) for k, v in options.items())))
    except TypeError:
        return get_separator(model, device=device, **options)
    if key in _MODELS:
        _MODELS.move_to_end(key)
        return _MODELS[key]
    separator = get_separator(model, device=device, **options)
    _MODELS[key] = separator
    while len(_MODELS) > MAX_CACHED_MODELS:
        _MODELS.popitem(last=False)
    return separator


def clear_models() -> int:
    """Forget the separators :func:`kit.separate` keeps, freeing their networks (and GPU memory).

    Returns
    -------
    n : int
        How many were freed.

    Examples
    --------
    >>> import kit
    >>> kit.clear_models() >= 0
    True

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb
    """
    import gc
    import sys

    n = len(_MODELS)
    devices = {key[1] for key in _MODELS}
    _MODELS.clear()
    if "kit.separators.demucs_weights" in sys.modules:  # it keeps the last Demucs network it read
        sys.modules["kit.separators.demucs_weights"].clear_loaded()
    gc.collect()
    if "torch" in sys.modules:  # nothing to give back if torch never ran
        from .base import free_device_memory

        for device in devices:
            free_device_memory(str(device))
    return n


def separate_with(
    separator,
    y: np.ndarray,
    sr: int,
    *,
    progress: Progress = None,
    cache: bool = True,
    cache_dir=None,
    options: dict | None = None,
    split_vocals: str | bool | None = None,
) -> dict[str, np.ndarray]:
    """Run a separator that is already built, serving the stems from the cache when it can.

    Parameters
    ----------
    separator : kit.separators.base.Separator
        From :func:`kit.get_separator`.
    y : np.ndarray, shape (channels, samples)
        The mixture.
    sr : int
        Its sample rate in Hz.
    progress : callable, optional
        Called with a fraction 0..1 (jumps to 1 on a cache hit).
    cache : bool
        Read and write the stem cache (see :mod:`kit.cache`).
    cache_dir : str or Path, optional
        Cache folder (default ``$KIT_CACHE_DIR`` or ``~/.cache/kit/stems``).
    options : dict, optional
        The options the separator was made with; they key the cache for
        separators that do not describe their own settings.
    split_vocals : str or bool, optional
        Replace ``vocals`` by ``lead_vocals`` and ``backing_vocals``
        (:func:`kit.split_vocals`; a method name, or True for ``"auto"``). The
        split is cached too, keyed by the stems' entry and the method.

    Returns
    -------
    stems : dict of str to np.ndarray, float32, shape like ``y``

    Examples
    --------
    >>> import kit
    >>> from kit.separators.api import separate_with
    >>> y, sr = kit.examples.load_song(duration_s=1.0)
    >>> sorted(separate_with(kit.get_separator("center"), y, sr, cache=False))
    ['accompaniment', 'vocals']
    """
    method = check_split(split_vocals, separator.stems, model=separator.name)
    progress, split_progress = _share_progress(progress, method)
    stems, key = _separate_cached(separator, y, sr, progress=progress, cache=cache, cache_dir=cache_dir,
                                  options=options)
    return _split(stems, sr, method, key=key, cache_dir=cache_dir, model=separator.name, progress=split_progress)


def _share_progress(progress, method):
    """Progress for the separation and for the vocal split after it (a few seconds a song: the last 15 %).

    Stems from the cache report 1.0 at once, and a caller may read that as "from the cache"
    (``kit separate`` says so): then 1.0 is passed on as it is, and the split reports nothing more.
    """
    if method is None or progress is None:
        return progress, None
    state = {"started": False, "cached": False}

    def separation(fraction: float) -> None:
        if not state["started"] and fraction >= 1.0:
            state["cached"] = True
            report(progress, 1.0)
        else:
            report(progress, _SEPARATION_SHARE * fraction)
        state["started"] = True

    def split(fraction: float) -> None:
        if not state["cached"]:
            report(progress, _SEPARATION_SHARE + (1.0 - _SEPARATION_SHARE) * fraction)

    return separation, split


_SEPARATION_SHARE = 0.85


def _split(stems, sr, method, *, key, cache_dir, model, progress: Progress = None):
    """``stems`` with the vocals split by ``method`` (None: as they are); cached beside entry ``key``."""
    if method is None:
        return stems
    from .. import cache as stem_cache
    from ..vocal_split import STEMS, split_stems

    split_key = stem_cache.make_split_key(key, method) if key is not None else None
    parts = stem_cache.load_stems(split_key, cache_dir=cache_dir) if split_key is not None else None
    out = split_stems(stems, sr, method=method, model=model, parts=parts, progress=progress)
    report(progress, 1.0)
    if split_key is not None and parts is None:
        stem_cache.store_stems(split_key, {k: out[k] for k in STEMS}, cache_dir=cache_dir,
                               info={"model": model, "sr": int(sr), "split_vocals": method})
    return out


def _separate_cached(separator, y, sr, *, progress, cache, cache_dir, options):
    """Stems, and the cache key they are stored under (None when not cached)."""
    key = None
    if cache:
        from .. import cache as stem_cache

        identity = stem_cache.separator_identity(separator, options)
        if identity is not None:
            y = check_audio(y, what=f"The input to '{separator.name}'")
            key = stem_cache.make_key(stem_cache.hash_audio(y, sr), identity)
            stems = stem_cache.load_stems(key, cache_dir=cache_dir)
            if stems is not None:
                report(progress, 1.0)
                return stems, key
    stems = separator.separate(y, sr, progress=progress)
    if key is not None:
        stored = stem_cache.store_stems(key, stems, cache_dir=cache_dir,
                                        info={"model": identity["model"], "sr": int(sr)})
        key = key if stored is not None else None
    return stems, key


def separate_file(
    separator,
    path,
    *,
    progress: Progress = None,
    cache: bool = True,
    cache_dir=None,
    options: dict | None = None,
    split_vocals: str | bool | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Separate a song file with a separator already built, using the stem cache.

    A file separated before is found by the fingerprint of its bytes, so it
    is not even decoded again. ``kit separate`` uses this.

    Parameters
    ----------
    separator : kit.separators.base.Separator
    path : str or Path
        Any audio file :func:`kit.load` reads.
    progress, cache, cache_dir, options, split_vocals
        As for :func:`separate_with`.

    Returns
    -------
    stems : dict of str to np.ndarray, float32, shape (channels, samples)
    sr : int
        The file's sample rate, which the stems have.

    Examples
    --------
    >>> import kit
    >>> from kit.separators.api import separate_file
    >>> stems, sr = separate_file(kit.get_separator("center"), kit.examples.song_path(), cache=False)
    >>> sorted(stems), sr
    (['accompaniment', 'vocals'], 44100)
    """
    method = check_split(split_vocals, separator.stems, model=separator.name)
    progress, split_progress = _share_progress(progress, method)
    alias = identity = None
    if cache:
        from .. import cache as stem_cache

        identity = stem_cache.separator_identity(separator, options)
        if identity is not None:
            try:
                alias = stem_cache.make_key(stem_cache.hash_file(path), identity)
            except OSError:  # missing or unreadable: kit.load below says so properly
                alias = None
            if alias is not None:
                hit = stem_cache.load_alias(alias, cache_dir=cache_dir)
                if hit is not None:
                    report(progress, 1.0)
                    stems, sr = hit
                    return _split(stems, sr, method, key=alias, cache_dir=cache_dir, model=separator.name,
                                  progress=split_progress), sr
    y, sr = load(path)
    stems, key = _separate_cached(separator, y, sr, progress=progress, cache=cache, cache_dir=cache_dir,
                                  options=options)
    if alias is not None and key is not None:
        stem_cache.store_alias(alias, key, sr, cache_dir=cache_dir)
    split_key = alias if alias is not None and key is not None else None  # as the alias hit above keys it
    return _split(stems, sr, method, key=split_key, cache_dir=cache_dir, model=separator.name,
                  progress=split_progress), sr


def separate(
    audio,
    sr: int | None = None,
    *,
    model: str = "auto",
    device: str = "auto",
    progress: Progress = None,
    cache: bool = True,
    cache_dir=None,
    split_vocals: str | bool | None = None,
    **options,
) -> dict[str, np.ndarray]:
    """Separate a song into stems with any model.

    Parameters
    ----------
    audio : str, Path or np.ndarray
        A file path (decoded with :func:`kit.load`) or a waveform
        ``(channels, samples)``, in which case ``sr`` is required.
    sr : int, optional
        Sample rate of ``audio`` when it is an array.
    model : str
        ``"auto"`` picks the best model usable offline now; see :func:`kit.list_models`.
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    progress : callable, optional
        Called with a fraction 0..1.
    cache : bool
        Serve a song separated before (same samples, model, settings and
        weights) from the stem cache, and store new results there.
    cache_dir : str or Path, optional
        Cache folder (default ``$KIT_CACHE_DIR`` or ``~/.cache/kit/stems``).
    split_vocals : str or bool, optional
        ``True`` (or ``"auto"``, ``"pan"``, ``"pitch"``): give ``lead_vocals``
        and ``backing_vocals`` instead of ``vocals`` (see :func:`kit.split_vocals`).
    **options
        Model options such as ``model_dir``, ``segment``, ``shifts``.
        The model built for a model, device and options is kept and reused by
        the next call with the same ones; :func:`kit.clear_models` frees it.

    Returns
    -------
    stems : dict of str to np.ndarray, float32, shape (channels, samples)
        Same length and alignment as the input.

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.examples.load_song(duration_s=2.0)
    >>> stems = kit.separate(y, sr, model="unet")
    >>> sorted(stems)
    ['accompaniment', 'vocals']

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb
    """
    is_path = isinstance(audio, (str, os.PathLike))
    if not is_path and sr is None:
        raise OptionError("kit.separate got an array but no sample rate; call kit.separate(y, sr, ...).")
    # the model first: a wrong name should fail before a long song is decoded. The separator
    # (with its loaded network) is kept for the next call: see clear_models()
    separator = get_cached_separator(model, device=device, **options)
    if not is_path:
        return separate_with(separator, check_audio(audio), sr, progress=progress, cache=cache,
                             cache_dir=cache_dir, options=options, split_vocals=split_vocals)
    _warn_if_long(audio, separator)
    return separate_file(separator, audio, progress=progress, cache=cache, cache_dir=cache_dir,
                         options=options, split_vocals=split_vocals)[0]


def _warn_if_long(path, separator) -> None:
    """A file long enough for the command line to work on it in blocks: say what holding it whole costs."""
    import warnings

    from ..audio import format_duration, probe_audio, stream_threshold_s
    from ..errors import KitWarning

    try:
        info = probe_audio(path)
    except Exception:  # kit.load says what is wrong with the file, properly
        return
    if not info.duration_s or info.duration_s <= stream_threshold_s():
        return
    # float32 song and stems, and about as much again while the separator works
    gb = info.duration_s * (info.sr or 44100) * 2 * 4 * (2 * len(separator.stems) + 2) / 1e9
    warnings.warn(KitWarning(
        f"'{PurePath(path).name}' is {format_duration(info.duration_s)} long; kit.separate holds it and its "
        f"stems in memory (about {gb:.0f} GB). kit.separate_blocks(path) separates it a block at a time in "
        "flat memory."), stacklevel=3)
