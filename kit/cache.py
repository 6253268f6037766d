"""Stems cached on disk, so separating the same song twice is instant.

An entry is keyed by what decides the stems: the audio content (a hash of the
samples and the sample rate, not the file name), the model name, its settings
(segment, shifts, ...) and the identity of its weight files. Each entry is a
folder of ``.npy`` files (one per stem, read back in milliseconds) plus a
``meta.json`` written last; entries are written to a temporary folder and
renamed into place, so a crash never leaves a half entry that looks whole. A
damaged entry is ignored and recomputed.

Location: ``cache_dir=`` option, else ``$KIT_CACHE_DIR``, else
``~/.cache/kit/stems`` (``$XDG_CACHE_HOME/kit/stems`` where that is set).
Songs long enough to be separated a block at a time (:mod:`kit.separators.blocks`)
are not cached: their stems would take gigabytes, and the command says so.
The oldest-used entries are removed when the cache grows past
``$KIT_CACHE_MAX_GB`` (default 10 GB; a 4-minute song in 4 stems is ~340 MB).

Examples
--------
>>> import kit, tempfile
>>> y, sr = kit.examples.load_song(duration_s=1.0)
>>> folder = tempfile.mkdtemp()
>>> stems = kit.separate(y, sr, model="center", cache_dir=folder)   # computed
>>> again = kit.separate(y, sr, model="center", cache_dir=folder)   # read back
>>> kit.cache.cache_report(cache_dir=folder)["entries"]
1

See also
--------
notebooks/05_spectrogram_unet.ipynb
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = [
    "resolve_cache_dir",
    "hash_audio",
    "make_key",
    "separator_identity",
    "hash_file",
    "load_stems",
    "store_stems",
    "load_alias",
    "store_alias",
    "cache_report",
    "clear_cache",
]

_FORMAT = 1  # bump when the entry layout changes; old entries then simply miss
_META = "meta.json"
_ALIAS = ".alias"
_DEFAULT_MAX_GB = 10.0


def resolve_cache_dir(cache_dir=None) -> Path:
    """The cache folder: ``cache_dir``, else ``$KIT_CACHE_DIR``, else ``~/.cache/kit/stems``."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("KIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kit" / "stems"


def hash_audio(y: np.ndarray, sr: int) -> str:
    """A fingerprint of a waveform's samples, shape and rate (SHA-256: ~1 GB/s on CPUs with SHA instructions).

    Examples
    --------
    >>> import numpy as np
    >>> hash_audio(np.zeros((2, 10), np.float32), 44100) == hash_audio(np.zeros((2, 10), np.float32), 44100)
    True
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    h = hashlib.sha256(f"{y.shape}|{int(sr)}|".encode())
    h.update(memoryview(y).cast("B"))
    return h.hexdigest()


def hash_file(path) -> str:
    """A fingerprint of a file's bytes: the same bytes decode to the same samples.

    Lets a song file find its stems without being decoded again (hashing a
    3-minute MP3 takes milliseconds, decoding it a second or so).
    """
    h = hashlib.sha256(b"file|")
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def separator_identity(separator, options: dict | None = None) -> dict | None:
    """What identifies a separator's output, as a JSON-able dict; None if it cannot be cached.

    Separators may provide ``cache_settings`` (a dict of the settings that change
    the stems) and ``weights_id`` (a fingerprint of their weight files); otherwise
    the options they were made with stand in for the settings. Options that do
    not change the stems (device, model folder, cache folder) are left out.
    """
    settings = getattr(separator, "cache_settings", None)
    if settings is None:
        ignore = {"device", "model_dir", "cache_dir", "cache", "progress"}
        settings = {k: v for k, v in (options or {}).items() if k not in ignore}
    ident = {
        "format": _FORMAT,
        "code": _code_identity(type(separator)),
        "model": getattr(separator, "name", type(separator).__name__),
        "class": f"{type(separator).__module__}.{type(separator).__qualname__}",
        "stems": list(getattr(separator, "stems", ())),
        "settings": settings,
        "weights": str(getattr(separator, "weights_id", "") or ""),
    }
    try:
        json.dumps(ident, sort_keys=True)
    except (TypeError, ValueError):  # e.g. an oracle holding the true stems as arrays
        return None
    return ident


def _code_identity(cls) -> str:
    """kit's version and the separator's source file (size, mtime): edited code misses the cache."""
    import inspect

    from . import __version__

    try:
        st = os.stat(inspect.getfile(cls))
        return f"{__version__}|{st.st_size}|{st.st_mtime_ns}"
    except (TypeError, OSError):
        return __version__


def make_key(audio_hash: str, identity: dict) -> str:
    """The entry name for one song separated one way."""
    text = json.dumps({"audio": audio_hash, **identity}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def make_split_key(key: str, method: str) -> str:
    """The entry name for the vocals of entry (or alias) ``key`` split into lead and backing by ``method``.

    The splitting code is part of the key, as a separator's is, so an edited
    :mod:`kit.vocal_split` misses the cache instead of serving stale stems.
    """
    from . import vocal_split

    return make_key(key, {"split_vocals": str(method), "code": _code_identity(vocal_split)})


def load_stems(key: str, *, cache_dir=None) -> dict[str, np.ndarray] | None:
    """The cached stems for ``key``, or None if absent or damaged (a damaged entry is removed)."""
    entry = resolve_cache_dir(cache_dir) / key
    meta_path = entry / _META
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        shape = tuple(meta["shape"])
        stems = {}
        for name in meta["stems"]:
            arr = np.load(entry / f"{name}.npy", allow_pickle=False)
            if arr.shape != shape or arr.dtype != np.float32 or not np.all(np.isfinite(arr)):
                raise ValueError(f"stem {name!r} is damaged")
            stems[name] = arr
        os.utime(meta_path)  # mark as recently used, for eviction
        return stems
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        shutil.rmtree(entry, ignore_errors=True)
        return None


def load_alias(alias: str, *, cache_dir=None) -> tuple[dict[str, np.ndarray], int] | None:
    """``(stems, sr)`` an alias (e.g. a file's fingerprint) points to, or None."""
    link = resolve_cache_dir(cache_dir) / f"{alias}{_ALIAS}"
    try:
        key, sr = link.read_text().split()
        sr = int(sr)
    except (OSError, ValueError):
        link.unlink(missing_ok=True)
        return None
    if len(key) != 40 or any(c not in "0123456789abcdef" for c in key) or sr <= 0:
        link.unlink(missing_ok=True)
        return None
    stems = load_stems(key, cache_dir=cache_dir)
    return None if stems is None else (stems, sr)


def store_alias(alias: str, key: str, sr: int, *, cache_dir=None) -> None:
    """Point ``alias`` at entry ``key`` of rate ``sr`` (a few bytes on disk; written atomically)."""
    from .audio import atomic_output

    folder = resolve_cache_dir(cache_dir)
    try:
        with atomic_output(folder / f"{alias}{_ALIAS}") as tmp:
            tmp.write_text(f"{key} {int(sr)}")
    except OSError:  # an alias is only a shortcut: without it the file is decoded again
        pass


def store_stems(key: str, stems: dict[str, np.ndarray], *, cache_dir=None, info: dict | None = None) -> Path | None:
    """Write stems as one entry, atomically; returns its folder (None if the disk refused)."""
    folder = resolve_cache_dir(cache_dir)
    entry = folder / key
    arrays = {n: np.ascontiguousarray(s, dtype=np.float32) for n, s in stems.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or any(not _safe_stem(n) for n in arrays):
        return None
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", suffix=".partial", dir=folder))
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        meta = {"stems": list(arrays), "shape": list(shapes.pop()), "created": time.time(), **(info or {})}
        (tmp / _META).write_text(json.dumps(meta, default=str))  # last: an entry without it is not one
        try:
            os.replace(tmp, entry)
        except OSError:  # another process stored the same entry first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        tmp = None
        _evict(folder, keep=key)
        return entry
    except OSError:  # a full or read-only disk must not fail the separation itself
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _safe_stem(name) -> bool:
    return isinstance(name, str) and name.replace("_", "").replace("-", "").isalnum()


def _is_entry(p: Path) -> bool:
    name = p.name
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name) and p.is_dir()


def _entries(folder: Path):
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if _is_entry(p)]


def _size_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _evict(folder: Path, *, keep: str) -> None:
    try:
        max_bytes = float(os.environ.get("KIT_CACHE_MAX_GB", _DEFAULT_MAX_GB)) * 1e9
    except ValueError:
        max_bytes = _DEFAULT_MAX_GB * 1e9
    entries = []
    for e in _entries(folder):
        try:
            used = (e / _META).stat().st_mtime
        except OSError:
            used = 0.0
        entries.append((used, e, _size_bytes(e)))
    total = sum(s for _, _, s in entries)
    for _, e, size in sorted(entries, key=lambda t: t[0]):
        if total <= max_bytes:
            break
        if e.name != keep:
            shutil.rmtree(e, ignore_errors=True)
            total -= size


def cache_report(*, cache_dir=None) -> dict:
    """Where the cache is and how big: ``{"path", "size_mb", "entries"}``.

    Examples
    --------
    >>> import kit, tempfile
    >>> kit.cache.cache_report(cache_dir=tempfile.mkdtemp())["entries"]
    0
    """
    folder = resolve_cache_dir(cache_dir)
    entries = _entries(folder)
    size = sum(_size_bytes(e) for e in entries)
    return {"path": str(folder), "size_mb": size / 1e6, "entries": len(entries)}


def clear_cache(*, cache_dir=None) -> dict:
    """Delete every cached entry; returns what was removed, as :func:`cache_report` counts it.

    Only entry folders and leftovers of interrupted writes are removed, never
    other files a user may have put in the folder.
    """
    before = cache_report(cache_dir=cache_dir)
    folder = resolve_cache_dir(cache_dir)
    if folder.is_dir():
        for p in folder.iterdir():
            if _is_entry(p) or (p.is_dir() and p.name.startswith(".") and p.name.endswith(".partial")):
                shutil.rmtree(p, ignore_errors=True)
            elif p.is_file() and (p.name.endswith(_ALIAS) or (p.name.startswith(".") and p.name.endswith(".partial"))):
                p.unlink(missing_ok=True)
    return before
