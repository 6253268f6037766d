"""Random-weight Demucs models of the real architecture, saved as a local model folder.

These are NOT the pretrained Demucs models: their weights are random (seeded),
so their stems are noise-like nonsense. They exist so that tests and benchmarks
run the real loading code (``demucs.pretrained.get_model(name, repo=DIR)``:
``LocalRepo`` + ``BagOnlyRepo``) and the real network class
(:class:`demucs.htdemucs.HTDemucs`) without downloading anything.

A model folder holds, exactly as Demucs's ``LocalRepo`` reads it:

- ``NAME.yaml``: a bag of models, ``models: [SIG]``;
- ``SIG-CHECKSUM.th``: ``torch.save({"klass", "args", "kwargs", "state"})``, where
  CHECKSUM is the first 8 hex digits of the file's sha256 (Demucs checks it on load).

Two network classes: ``klass="HTDemucs"`` (htdemucs, the default) and
``klass="HDemucs"`` (the older hybrid model of ``hdemucs_mmi`` / ``mdx``, which
has no transformer and takes any segment; the small one trains on 3.9 s).

Two sizes:

- ``size="small"`` (tests): the real ``HTDemucs`` class with fewer channels
  (8 instead of 48), a 16-channel transformer bottleneck instead of 512, 1
  transformer layer instead of 5, 1 residual conv per layer instead of 2, and a
  training segment of 1.95 s instead of 7.8 s (HTDemucs pads every chunk to its
  training segment, so this makes each chunk 4x cheaper; the kit's name-based
  limit for ``htdemucs`` stays 7.8 s, the model's own limit is 1.95 s). Same
  STFT (4096), depth (4), sample rate and sources as htdemucs.
- ``size="full"`` (benchmarks): the htdemucs hyper-parameters as we know them
  (channels 48, depth 4, 5 transformer layers, bottom_channels 512,
  dconv_mode 3, segment 39/5 s; about 42 M parameters, the size of the real one).

Example
-------
>>> import tempfile
>>> from model_fixtures import write_random_demucs_model  # tests/ is on sys.path under pytest
>>> folder = tempfile.mkdtemp()
>>> write_random_demucs_model(folder, name="htdemucs").name
'htdemucs.yaml'
"""

from __future__ import annotations

import hashlib
import io
from fractions import Fraction
from pathlib import Path

__all__ = [
    "write_random_demucs_model", "write_demucs_model_dir", "write_random_hf_cache", "make_random_htdemucs",
    "STEMS_4", "STEMS_6", "HTDEMUCS_SEGMENT", "SMALL_SEGMENT", "SMALL_HDEMUCS_SEGMENT",
]

STEMS_4 = ("drums", "bass", "other", "vocals")
STEMS_6 = ("drums", "bass", "other", "vocals", "guitar", "piano")
# htdemucs was trained on 7.8 s excerpts; a transformer cannot take longer segments
HTDEMUCS_SEGMENT = Fraction(39, 5)
# the small test models take a quarter of that: HTDemucs pads every chunk to its training
# length, so this is what makes each chunk 4x cheaper
SMALL_SEGMENT = Fraction(39, 20)
# the small HDemucs (no transformer, no padding to its training length): 3.9 s
SMALL_HDEMUCS_SEGMENT = Fraction(39, 10)

_FULL = dict(channels=48, depth=4, t_layers=5, bottom_channels=512, dconv_mode=3)
_SMALL = dict(channels=8, depth=4, t_layers=1, bottom_channels=16, dconv_mode=3, dconv_depth=1)
_SMALL_HDEMUCS = dict(channels=4, depth=6, dconv_depth=1, segment=SMALL_HDEMUCS_SEGMENT)


def _kwargs(sources, size: str, klass: str = "HTDemucs") -> dict:
    if size not in ("small", "full"):
        raise ValueError(f"size={size!r}; use 'small' (tests) or 'full' (benchmarks)")
    if klass not in ("HTDemucs", "HDemucs"):
        raise ValueError(f"klass={klass!r}; use 'HTDemucs' or 'HDemucs'")
    if klass == "HDemucs":
        if size != "small":
            raise ValueError("only a small random HDemucs is made here")
        return dict(sources=list(sources), audio_channels=2, samplerate=44100, **_SMALL_HDEMUCS)
    arch = _SMALL if size == "small" else _FULL
    return dict(sources=list(sources), audio_channels=2, samplerate=44100,
                segment=SMALL_SEGMENT if size == "small" else HTDEMUCS_SEGMENT, **arch)


def make_random_htdemucs(sources=STEMS_4, *, size: str = "small", seed: int = 0, klass: str = "HTDemucs",
                         segment=None):
    """Build a real :class:`demucs.htdemucs.HTDemucs` (or, ``klass="HDemucs"``, the older
    :class:`demucs.hdemucs.HDemucs`) with seeded random weights.

    ``segment`` (a Fraction, seconds) replaces the training segment of the size.
    Returns ``(model, package)`` where ``package`` is the dict Demucs serialises.
    """
    import torch
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    kwargs = _kwargs(sources, size, klass)
    if segment is not None:
        kwargs["segment"] = Fraction(segment)
    cls = HTDemucs if klass == "HTDemucs" else HDemucs
    torch.manual_seed(seed)
    model = cls(**kwargs)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    package = {"klass": cls, "args": (), "kwargs": kwargs, "state": state}
    return model.eval(), package


def normalised_song(duration_s: float):
    """The bundled song's first ``duration_s`` seconds as a torch tensor, normalised as Demucs expects."""
    import numpy as np
    import torch

    import kit

    y, _ = kit.examples.load_song(duration_s=duration_s)
    wav = torch.from_numpy(np.ascontiguousarray(y))
    ref = wav.mean(0)
    return (wav - ref.mean()) / (ref.std() + 1e-8)


def apply_model_seeded(model, mix, *, shifts, segment=None, seed=0):
    """Demucs's own ``apply_model`` on ``mix`` after ``random.seed(seed)`` (its shift offsets), leaving
    Python's random state as it was: the reference kit's batched path must equal."""
    import random

    from demucs.apply import apply_model

    state = random.getstate()
    random.seed(seed)
    try:
        return apply_model(model, mix[None], shifts=shifts, overlap=0.25, segment=segment)[0]
    finally:
        random.setstate(state)


def write_random_demucs_model(
    folder,
    *,
    name: str = "htdemucs",
    sources=STEMS_4,
    size: str = "small",
    seed: int = 0,
    n_models: int = 1,
    weights=None,
    klass: str = "HTDemucs",
    segment=None,
) -> Path:
    """Write a random-weight HTDemucs (or HDemucs) as ``folder/NAME.yaml`` + ``folder/SIG-CHECKSUM.th``.

    Parameters
    ----------
    folder : str or Path
        Model folder (created if missing); pass it as ``model_dir`` / ``--model-dir``.
    name : str
        Model name the folder will answer to (e.g. ``"htdemucs"``, ``"htdemucs_6s"``).
    sources : sequence of str
        Stem names, in the model's output order.
    size : {"small", "full"}
        ``"small"``: shrunk channels for fast tests; ``"full"``: htdemucs size.
    seed : int
        Seed of the random weights; the same seed gives the same file.
    n_models : int
        Models in the bag (``htdemucs_ft`` is a bag of 4), seeds ``seed, seed + 1, ...``.
    weights : list of list of float, optional
        Per-model, per-source weights of the bag (``htdemucs_ft`` uses one-hot rows).
    klass : {"HTDemucs", "HDemucs"}
        The network class: HTDemucs (htdemucs*) or the older HDemucs (``hdemucs_mmi``, ``mdx``).
    segment : Fraction, optional
        Training segment in seconds, instead of the size's (HTDemucs pads every chunk to it).

    Returns
    -------
    path : Path
        The ``NAME.yaml`` written.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sigs = []
    for i in range(n_models):
        _, package = make_random_htdemucs(sources, size=size, seed=seed + i, klass=klass, segment=segment)
        # signature: 8 hex digits, like Demucs's, unique per (name, sources, size, seed, class)
        key = f"{name}|{','.join(sources)}|{size}|{seed + i}" + ("" if klass == "HTDemucs" else f"|{klass}")
        key += "" if segment is None else f"|{segment}"
        sig = hashlib.sha256(key.encode()).hexdigest()[:8]
        buf = io.BytesIO()
        torch.save(package, buf)
        checksum = hashlib.sha256(buf.getvalue()).hexdigest()[:8]
        for old in folder.glob(f"{sig}*.th"):  # LocalRepo refuses two files for one signature
            old.unlink()
        (folder / f"{sig}-{checksum}.th").write_bytes(buf.getvalue())
        sigs.append(sig)
    text = f"models: {sigs!r}\n"
    if weights is not None:
        text += "weights: " + repr([[float(w) for w in row] for row in weights]) + "\n"
    yaml_path = folder / f"{name}.yaml"
    yaml_path.write_text(text)
    return yaml_path


def write_demucs_model_dir(folder, *, size: str = "small", seed: int = 0) -> Path:
    """Write random-weight ``htdemucs`` (4 stems) and ``htdemucs_6s`` (6 stems) into ``folder``.

    Returns the folder. Random weights: not the pretrained models.
    """
    folder = Path(folder)
    write_random_demucs_model(folder, name="htdemucs", sources=STEMS_4, size=size, seed=seed)
    write_random_demucs_model(folder, name="htdemucs_6s", sources=STEMS_6, size=size, seed=seed + 1)
    return folder


def write_random_hf_cache(cache_dir, *, name: str = "htdemucs", sources=STEMS_4, seed: int = 0,
                          namespace: str = "adefossez") -> Path:
    """Lay out a random-weight model as a Hugging Face hub cache holds Demucs 4.1's files.

    ``cache_dir/models--adefossez--HTDemucs/snapshots/<commit>/{NAME.yaml, SIG.safetensors}``
    plus ``refs/main``, with the class and init arguments as JSON in the
    safetensors metadata (the format ``demucs.hf.load_safetensors_model`` reads).
    Random weights, same seed as :func:`write_random_demucs_model` gives the same model.
    Returns the snapshot folder.
    """
    import json

    from demucs.hf import hf_repo_name
    from safetensors.torch import save_file

    _, package = make_random_htdemucs(sources, size="small", seed=seed)
    kwargs = dict(package["kwargs"])
    seg = Fraction(kwargs["segment"])
    kwargs["segment"] = {"_type": "fraction", "numerator": seg.numerator, "denominator": seg.denominator}
    sig = hashlib.sha256(f"hf|{name}|{seed}".encode()).hexdigest()[:8]
    commit = hashlib.sha1(f"{name}|{seed}".encode()).hexdigest()
    repo = Path(cache_dir) / f"models--{namespace}--{hf_repo_name(name)}"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    meta = {"klass": "demucs.htdemucs.HTDemucs", "args": "[]", "kwargs": json.dumps(kwargs)}
    save_file({k: v.contiguous() for k, v in package["state"].items()}, str(snap / f"{sig}.safetensors"),
              metadata=meta)
    (snap / f"{name}.yaml").write_text(f"models: ['{sig}']\n")
    return snap
