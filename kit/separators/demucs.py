"""Demucs (Meta's waveform/spectrogram separators) behind the kit interface.

Every pretrained Demucs name works (``htdemucs`` default, ``htdemucs_ft``,
``htdemucs_6s``, ``hdemucs_mmi``, ``mdx``, ``mdx_extra``, ``mdx_q``,
``mdx_extra_q``), through Demucs 4.1's own loader and ``apply_model``. The kit
decodes the song itself (:func:`kit.load`) and hands Demucs a tensor, so the
stems line up with the input sample for sample (Demucs's own reader returns MP3
audio about 25 ms late).

Where the weights come from, first hit wins:

1. a model folder (``model_dir=`` / ``--model-dir`` / ``$KIT_MODEL_DIR``) laid
   out as Demucs's ``LocalRepo`` reads it: ``NAME.yaml`` bags and
   ``SIG.th`` / ``SIG-CHECKSUM.th`` files (``kit models download NAME --to DIR``
   writes one; copy the folder to every laptop of a workshop);
2. the Hugging Face hub cache (where Demucs 4.1 downloads to);
3. the torch hub cache (where older Demucs versions downloaded to);
4. the internet, unless ``HF_HUB_OFFLINE=1`` or ``KIT_OFFLINE=1``, and only
   after a quick reachability check, so that an offline laptop gets one clear
   error in a second or two instead of a minute of retries.

See also
--------
notebooks/05_neural_separation.ipynb
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import socket
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import atomic_output
from ..errors import DownloadError, KitError, ModelUnavailableError, OptionError
from ..progress import Progress, report
from .base import Separator
from .registry import DEMUCS_MODELS

__all__ = [
    "DemucsSeparator",
    "make_separator",
    "stems_for",
    "offline_status",
    "is_local_model",
    "find_weights",
    "download_model",
    "resolve_model_dir",
    "DEFAULT_MODEL",
]

DEFAULT_MODEL = "htdemucs"
STEMS_4 = ("drums", "bass", "other", "vocals")
STEMS_6 = ("drums", "bass", "other", "vocals", "guitar", "piano")
_STEMS = {name: STEMS_4 for name in DEMUCS_MODELS}
_STEMS["htdemucs_6s"] = STEMS_6
# Transformer models cannot see more than they were trained on (Fraction(39, 5) s).
_MAX_SEGMENT_S = {"htdemucs": 7.8, "htdemucs_ft": 7.8, "htdemucs_6s": 7.8}
_NEEDS_DIFFQ = ("mdx_q", "mdx_extra_q")  # quantised weights are unpacked by diffq
_MIN_SEGMENT_S = 1.0
_HF_NAMESPACE = "adefossez"
_PROBE_HOSTS = ("huggingface.co", "dl.fbaipublicfiles.com")
_PROBE_TIMEOUT_S = 3.0
_NAME_OK = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _hint(name: str) -> str:
    return (
        f"on a machine with internet run `kit models download {name} --to DIR`, copy DIR here "
        "and pass --model-dir DIR (or set KIT_MODEL_DIR); `--model unet` works offline now."
    )


# --- where the weights are --------------------------------------------------

@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights are: ``kind`` is model_dir, hf_cache, torch_hub or download."""

    name: str
    kind: str
    where: str
    files: tuple[Path, ...] = field(default=())

    def identity(self) -> str:
        """A short fingerprint of the weight files (names, sizes, mtimes) for the stem cache.

        Cheap: the files are not read, so a cache hit never costs a weight load.
        """
        h = hashlib.sha256(f"{self.name}|{self.kind}".encode())
        for f in self.files:
            try:
                st = f.stat()
                h.update(f"|{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
            except OSError:
                h.update(f"|{f.name}|missing".encode())
        return h.hexdigest()[:16]

    def describe(self) -> str:
        labels = {"model_dir": "model folder", "hf_cache": "Hugging Face cache",
                  "torch_hub": "torch hub cache", "download": "to download from"}
        return f"{labels.get(self.kind, self.kind)} {self.where}"


def resolve_model_dir(model_dir=None) -> Path | None:
    """The model folder to use: ``model_dir``, else ``$KIT_MODEL_DIR``, else None.

    Raises :class:`OptionError` if the folder named does not exist.
    """
    if model_dir is None or str(model_dir) == "":
        model_dir = os.environ.get("KIT_MODEL_DIR") or None
    if model_dir is None:
        return None
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise OptionError(
            f"Model folder '{path}' does not exist or is not a folder; fix --model-dir / KIT_MODEL_DIR."
        )
    return path


def _safe_name(name: str) -> bool:
    return bool(_NAME_OK.match(name)) and name not in (".", "..")


def is_local_model(name: str, model_dir=None) -> bool:
    """True if the model folder has ``NAME.yaml`` or ``NAME.th`` (a custom Demucs model).

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.is_local_model("my_model", model_dir=None)
    False
    """
    try:
        folder = resolve_model_dir(model_dir)
    except OptionError:
        return False
    if folder is None or not _safe_name(name):
        return False
    return (folder / f"{name}.yaml").is_file() or (folder / f"{name}.th").is_file()


def _read_bag(yaml_path: Path) -> dict:
    import yaml

    try:
        bag = yaml.safe_load(yaml_path.read_text())
        if not isinstance(bag, dict) or not isinstance(bag.get("models"), list) or not bag["models"]:
            raise ValueError("no 'models' list")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ModelUnavailableError(
            f"'{yaml_path}' is not a Demucs model list ({exc}); download the model again with "
            f"`kit models download {yaml_path.stem} --to {yaml_path.parent}`."
        ) from None
    bag["models"] = [str(s) for s in bag["models"]]
    return bag


def _local_sig_files(folder: Path) -> dict[str, Path]:
    """Signature -> .th file, as Demucs's LocalRepo maps them (SIG.th or SIG-CHECKSUM.th)."""
    found = {}
    for f in folder.iterdir():
        if f.suffix == ".th":
            found[f.stem.rsplit("-", 1)[0] if "-" in f.stem else f.stem] = f
    return found


def _from_model_dir(name: str, folder: Path) -> WeightsSource | None:
    sigs = _local_sig_files(folder)
    if name in sigs:  # a single model file named after the model
        return WeightsSource(name, "model_dir", str(folder), (sigs[name],))
    yaml_path = folder / f"{name}.yaml"
    if not yaml_path.is_file():
        return None
    bag = _read_bag(yaml_path)
    missing = [s for s in bag["models"] if s not in sigs]
    if missing:
        raise ModelUnavailableError(
            f"Model folder '{folder}' has {name}.yaml but not the weight file(s) {', '.join(missing)}*.th; "
            f"copy the whole folder written by `kit models download {name} --to DIR`."
        )
    return WeightsSource(name, "model_dir", str(folder),
                         (yaml_path, *(sigs[s] for s in bag["models"])))


def _hf_repo_id(name: str) -> str:
    from demucs.hf import hf_repo_name

    return f"{_HF_NAMESPACE}/{hf_repo_name(name)}"


def _from_hf_cache(name: str) -> WeightsSource | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo_id = _hf_repo_id(name)

    def cached(filename):
        path = try_to_load_from_cache(repo_id, filename)
        return Path(path) if isinstance(path, str) and Path(path).is_file() else None

    yaml_path = cached(f"{name}.yaml")
    if yaml_path is None:
        return None
    files = [cached(f"{sig}.safetensors") for sig in _read_bag(yaml_path)["models"]]
    if any(f is None for f in files):
        return None
    return WeightsSource(name, "hf_cache", str(yaml_path.parent), (yaml_path, *files))


def _remote_files() -> dict[str, str]:
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

    return _parse_remote_files(REMOTE_ROOT / "files.txt")


def _from_torch_hub(name: str) -> WeightsSource | None:
    from demucs.pretrained import REMOTE_ROOT

    yaml_path = REMOTE_ROOT / f"{name}.yaml"
    if not yaml_path.is_file():
        return None
    import torch

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    urls = _remote_files()
    files = []
    for sig in _read_bag(yaml_path)["models"]:
        if sig not in urls:
            return None
        f = folder / urls[sig].rsplit("/", 1)[-1]
        if not f.is_file():
            return None
        files.append(f)
    return WeightsSource(name, "torch_hub", str(folder), (yaml_path, *files))


def find_weights(name: str, *, model_dir=None) -> WeightsSource | None:
    """Find a model's weights on this machine without loading them (None if absent).

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.find_weights("not_a_model") is None
    True
    """
    folder = resolve_model_dir(model_dir)
    if folder is not None and _safe_name(name):
        found = _from_model_dir(name, folder)
        if found is not None:
            return found
    if name not in DEMUCS_MODELS:
        return None
    return _from_hf_cache(name) or _from_torch_hub(name)


def _offline_mode() -> bool:
    truthy = ("1", "true", "yes", "on")
    return any(os.environ.get(v, "").strip().lower() in truthy
               for v in ("HF_HUB_OFFLINE", "KIT_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_network(hosts=_PROBE_HOSTS, *, timeout_s: float = _PROBE_TIMEOUT_S) -> str | None:
    """Return None if one of ``hosts`` answers on port 443 within ``timeout_s``, else why not.

    The probe runs in a thread so a hanging DNS lookup (which ignores socket
    timeouts) cannot stall the caller beyond ``timeout_s``.
    """
    result = {}

    def probe():
        errors = []
        for host in hosts:
            try:
                socket.create_connection((host, 443), timeout=timeout_s).close()
                result["ok"] = True
                return
            except OSError as exc:
                errors.append(f"{host}: {exc.strerror or exc}")
        result["why"] = "; ".join(errors)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s)
    if result.get("ok"):
        return None
    return result.get("why", f"no answer within {timeout_s:g} s")


def _locate(name: str, *, model_dir=None, allow_download: bool = True) -> WeightsSource:
    """Find the weights or decide to download them; raise ModelUnavailableError otherwise."""
    if name in _NEEDS_DIFFQ:
        _check_diffq(name)
    found = find_weights(name, model_dir=model_dir)
    if found is not None:
        return found
    if name not in DEMUCS_MODELS:
        raise OptionError(f"Unknown model '{name}': no {name}.yaml or {name}.th in the model folder; "
                          "check the name or --model-dir.")
    if not allow_download or _offline_mode():
        raise ModelUnavailableError(
            f"Demucs model '{name}' is not on this machine and offline mode is on (HF_HUB_OFFLINE); "
            + _hint(name)
        )
    why = check_network()
    if why is not None:
        raise ModelUnavailableError(
            f"Demucs model '{name}' is not on this machine and the internet cannot be reached ({why}); "
            + _hint(name)
        )
    return WeightsSource(name, "download", f"huggingface.co/{_hf_repo_id(name)}")


def _check_diffq(name: str) -> None:
    try:
        import diffq  # noqa: F401
    except ImportError:
        raise ModelUnavailableError(
            f"'{name}' has quantised weights that need the diffq package: pip install diffq "
            f"(or use '{name.replace('_q', '')}', the same model unquantised)."
        ) from None


# --- loading --------------------------------------------------------------

_LOADED: dict = {}  # (source identity) -> model; one at a time, a model is ~100-300 MB
_LOAD_LOCK = threading.Lock()


def _load_hf_files(source: WeightsSource):
    from demucs.apply import BagOfModels
    from demucs.hf import load_safetensors_model

    bag = _read_bag(source.files[0])
    models = [load_safetensors_model(f) for f in source.files[1:]]
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def _load_torch_hub_files(source: WeightsSource):
    from demucs.apply import BagOfModels
    from demucs.repo import check_checksum
    from demucs.states import load_model

    bag = _read_bag(source.files[0])
    models = []
    for f in source.files[1:]:
        check_checksum(f, f.stem.rsplit("-", 1)[1])
        models.append(load_model(f))
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def _load(source: WeightsSource):
    """Load the model (a demucs BagOfModels or single model) on the CPU, in eval mode."""
    key = source.identity()
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        _LOADED.clear()  # free the previous model before loading the next
        try:
            if source.kind == "model_dir":
                from demucs.pretrained import get_model

                model = get_model(source.name, repo=Path(source.where))
            elif source.kind == "hf_cache":
                model = _load_hf_files(source)
            elif source.kind == "torch_hub":
                model = _load_torch_hub_files(source)
            else:
                download_model(source.name)  # into the Hugging Face cache, where Demucs looks
                fetched = _from_hf_cache(source.name)
                if fetched is None:
                    raise ModelUnavailableError(
                        f"Downloaded '{source.name}' but cannot find it in the Hugging Face cache; "
                        + _hint(source.name))
                model = _load_hf_files(fetched)
        except KitError:
            raise
        except ImportError as exc:
            if "diffq" in str(exc):
                _check_diffq(source.name)
            raise
        except Exception as exc:  # corrupt / truncated / wrong files: say which and how to fix
            raise ModelUnavailableError(
                f"Could not load Demucs model '{source.name}' from the {source.describe()} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                f"download it again with `kit models download {source.name} --to DIR`."
            ) from None
        model.eval()
        _LOADED[key] = model
        return model


def _max_segment_s(model) -> float:
    from demucs.htdemucs import HTDemucs

    if hasattr(model, "max_allowed_segment"):
        return float(model.max_allowed_segment)
    if isinstance(model, HTDemucs):
        return float(model.segment)
    return float("inf")


# --- the separator --------------------------------------------------------

@contextlib.contextmanager
def _seeded_python_random(seed: int):
    """apply_model draws its random time shifts from the ``random`` module: seed it so
    the same song gives the same stems (and the stem cache stays honest)."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class DemucsSeparator(Separator):
    """A Demucs model as a kit separator. Build it with :func:`make_separator`.

    The weights are located when the object is made (so a missing model fails
    at once) and loaded on first use (so a stem-cache hit never loads them).

    Parameters
    ----------
    source : WeightsSource
        Where the weights are (see :func:`find_weights`).
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    segment : float, optional
        Length in seconds of the chunks the song is cut into; default: the
        model's own (7.8 s for htdemucs, its maximum). Smaller chunks use less
        memory with hdemucs/mdx models; HTDemucs pads every chunk to 7.8 s anyway.
    shifts : int
        Number of random time shifts averaged (Demucs's "shift trick"); 0 is
        fastest, each extra one costs a full pass. Shifts are seeded: the same
        song gives the same stems.
    overlap : float
        Overlap of consecutive chunks, in [0, 1).
    jobs : int
        CPU worker threads (0: none).

    Examples
    --------
    >>> import kit
    >>> sep = kit.get_separator("htdemucs", model_dir="models")  # doctest: +SKIP
    >>> stems = sep.separate(*kit.examples.load_song())  # doctest: +SKIP
    >>> list(stems)  # doctest: +SKIP
    ['drums', 'bass', 'other', 'vocals']

    See also
    --------
    notebooks/05_neural_separation.ipynb
    """

    sample_rate = 44100
    stereo = True
    min_duration_s = 0.1

    def __init__(self, source: WeightsSource, *, stems, device: str = "auto", segment=None,
                 shifts: int = 1, overlap: float = 0.25, jobs: int = 0, seed: int = 0):
        from ..devices import pick_device

        self.name = source.name
        self.source = source
        self.stems = tuple(stems)
        self.segment = segment
        self.shifts = shifts
        self.overlap = overlap
        self.jobs = jobs
        self.seed = seed
        self.requested_device = device or "auto"
        self.device = pick_device(self.requested_device)
        self._model = None

    # What the stem cache keys on (kit.cache): everything that changes the stems.
    @property
    def cache_settings(self) -> dict:
        return {"segment": None if self.segment is None else float(self.segment),
                "shifts": self.shifts, "overlap": self.overlap, "seed": self.seed}

    @property
    def weights_id(self) -> str:
        return self.source.identity()

    @property
    def model(self):
        """The loaded Demucs model (loads it on first access)."""
        if self._model is None:
            model = _load(self.source)
            if tuple(model.sources) != self.stems:
                self.stems = tuple(model.sources)
            if model.samplerate != self.sample_rate:
                self.sample_rate = int(model.samplerate)
            self._check_segment(_max_segment_s(model))
            self._model = model
        return self._model

    def load(self) -> DemucsSeparator:
        """Load the weights now (otherwise the first separation does)."""
        _ = self.model
        return self

    def _check_segment(self, max_s: float) -> None:
        if self.segment is not None and self.segment > max_s + 1e-9:
            raise OptionError(
                f"segment={self.segment:g} s is longer than '{self.name}' was trained on; "
                f"use a segment between {_MIN_SEGMENT_S:g} and {max_s:g} s (or leave it unset)."
            )

    def _apply(self, buf, length: int, device: str, segment, progress: Progress):
        """Demucs's ``apply_model``, with its bag and shift levels done here to save memory.

        ``buf`` is the normalised mix, (channels, samples), zero-padded by half a
        second on each side when shifts are used. The chunked work is
        ``demucs.apply.apply_model(..., shifts=0, split=True)``; the bag weighting
        and the shift trick around it follow apply_model step by step (same random
        offsets, same arithmetic), so the result equals apply_model's. What differs
        is memory: apply_model keeps two full-length copies of the stems (``0. +
        out``) and pads the mix again; here the stems exist once, which keeps a
        12-minute song within a laptop's memory.
        """
        from demucs.apply import BagOfModels

        model = self.model
        subs = list(model.models) if isinstance(model, BagOfModels) else [model]
        weights = model.weights if isinstance(model, BagOfModels) else [[1.0] * len(model.sources)]
        seg_s = float(segment) if segment is not None else _model_segment_s(model)
        stride = max(1, int((1 - self.overlap) * int(model.samplerate * seg_s)))
        pad = int(0.5 * model.samplerate) if self.shifts else 0
        total = len(subs) * max(1, self.shifts) * max(1, -(-(length + pad) // stride))
        done = [0]

        def on_chunk(info):
            if info.get("state") == "end":
                done[0] += 1
                report(progress, min(0.99, done[0] / total))

        callback = on_chunk if progress is not None else None
        with _seeded_python_random(self.seed):
            if len(subs) == 1 and all(w == 1 for w in weights[0]):
                # weights of 1 and a sum over one model are exact no-ops in apply_model
                return self._apply_one(subs[0], buf, length, device, segment, callback)
            estimates, totals = None, [0.0] * len(model.sources)
            for sub, sub_weights in zip(subs, weights, strict=True):
                out = self._apply_one(sub, buf, length, device, segment, callback)
                for k, w in enumerate(sub_weights):
                    out[:, k] *= w
                    totals[k] += w
                if estimates is None:
                    estimates = out
                else:
                    estimates += out
                del out
            for k in range(estimates.shape[1]):
                estimates[:, k] /= totals[k]
            return estimates

    def _apply_one(self, model, buf, length: int, device: str, segment, callback):
        """One network, with the shift trick; returns (1, sources, channels, length) on the CPU."""
        from demucs.apply import TensorChunk, apply_model

        kwargs = dict(shifts=0, split=True, overlap=self.overlap, device=device, num_workers=self.jobs,
                      segment=segment, callback=callback)
        mix = buf[None]
        if not self.shifts:
            return apply_model(model, mix, **kwargs)
        max_shift = int(0.5 * model.samplerate)
        out = res = None
        for _ in range(self.shifts):
            offset = random.randint(0, max_shift)
            shifted = TensorChunk(mix, offset, length + max_shift - offset)
            part_res = apply_model(model, shifted, **kwargs)
            part = part_res[..., max_shift - offset:]
            if out is None:
                out, res = part, part_res
            else:
                out += part
            del part_res, part
        if self.shifts > 1:
            out /= self.shifts
        return _compact_last_axis(res, res.shape[-1] - length, length)

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        import torch

        model = self.model
        wav = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        # Demucs's usual normalisation (as demucs.api does): the mix mean over channels
        # is the reference; the model was trained on standardised input.
        ref = wav.mean(0)
        mean, std = ref.mean(), ref.std() + 1e-8
        del ref
        length = wav.shape[-1]
        pad = int(0.5 * model.samplerate) if self.shifts else 0
        # the zero padding apply_model's shift trick adds, built in so the mix is copied once
        buf = torch.zeros(wav.shape[0], length + 2 * pad) if pad else torch.empty(wav.shape)
        body = buf[:, pad:pad + length]
        body.copy_(wav)
        body.sub_(mean)
        body.div_(std)
        del body
        out = self._apply_with_fallback(buf, length, progress)
        del buf
        out = out[0]
        out *= std  # in place: on a 12-minute song each copy of the stems is 1 GB
        out += mean
        return {src: out[i].numpy() for i, src in enumerate(model.sources)}

    def _apply_with_fallback(self, buf, length: int, progress: Progress):
        """On a GPU out-of-memory: retry with half the segment (where that helps), then on the CPU."""
        import torch

        device, segment = self.device, self.segment
        while True:  # apply_model moves the network to `device` itself
            try:
                return self._apply(buf, length, device, segment, progress)
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                if device == "cpu" or not _is_oom(exc):
                    raise
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                current = float(segment) if segment is not None else _model_segment_s(self.model)
                if _segment_saves_memory(self.model) and current / 2 >= _MIN_SEGMENT_S:
                    segment = current / 2
                    warnings.warn(
                        f"The GPU ({device}) ran out of memory; retrying '{self.name}' with "
                        f"segment={segment:g} s.", _kit_warning(), stacklevel=2)
                else:
                    warnings.warn(
                        f"The GPU ({device}) ran out of memory; finishing '{self.name}' on the CPU "
                        "(slower). Close other GPU programs, or use --device cpu.", _kit_warning(), stacklevel=2)
                    device, segment = "cpu", self.segment
                    self.model.to("cpu")

    def __repr__(self) -> str:
        return (f"DemucsSeparator(name={self.name!r}, stems={self.stems}, device={self.device!r}, "
                f"weights={self.source.describe()!r})")


def _segment_saves_memory(model) -> bool:
    """HTDemucs pads every chunk to its training length, so a shorter segment saves
    nothing there; the older HDemucs / Demucs models do use less memory."""
    from demucs.htdemucs import HTDemucs

    return not any(isinstance(m, HTDemucs) for m in getattr(model, "models", [model]))


def _compact_last_axis(t, start: int, length: int):
    """``t[..., start:start + length]`` made contiguous in place, without a second full copy.

    Rows move towards the front of the buffer one at a time (numpy copies
    overlapping ranges safely), so the extra memory is one row, not the tensor.
    """
    import torch

    if start == 0 and t.shape[-1] == length:
        return t
    shape = (*t.shape[:-1], length)
    width = t.shape[-1]
    rows = t.numpy().reshape(-1, width)
    flat = rows.reshape(-1)
    for r in range(rows.shape[0]):
        flat[r * length:(r + 1) * length] = rows[r, start:start + length]
    return torch.from_numpy(flat[: rows.shape[0] * length]).view(shape)


def _kit_warning():
    from ..errors import KitWarning

    return KitWarning


def _model_segment_s(model) -> float:
    inner = getattr(model, "models", [model])[0]
    return float(inner.segment)


_CPU_NOTE_SHOWN = False


def make_separator(name: str = DEFAULT_MODEL, *, device: str = "auto", model_dir=None, segment=None,
                   shifts: int = 1, overlap: float = 0.25, jobs: int = 0, seed: int = 0,
                   **options) -> DemucsSeparator:
    """Make a Demucs separator; its weights are found now and loaded on first use.

    Parameters
    ----------
    name : str
        A Demucs name (``htdemucs``, ``htdemucs_ft``, ``htdemucs_6s``, ``hdemucs_mmi``,
        ``mdx``, ``mdx_extra``, ``mdx_q``, ``mdx_extra_q``) or a custom model in ``model_dir``.
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    model_dir : str or Path, optional
        Folder of Demucs model files (default ``$KIT_MODEL_DIR``).
    segment : float, optional
        Chunk length in seconds, at most the model's training length (7.8 s for htdemucs).
    shifts : int
        Random time shifts averaged, >= 0 (seeded by ``seed``).
    overlap : float
        Chunk overlap in [0, 1).
    jobs : int
        CPU worker threads.
    **options
        Accepted and ignored (other families' options).

    Returns
    -------
    separator : DemucsSeparator

    Raises
    ------
    ModelUnavailableError
        Weights not here and not downloadable now; the message says how to get them.
    OptionError
        Invalid segment, shifts, overlap or device.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.stems_for("htdemucs_6s")
    ('drums', 'bass', 'other', 'vocals', 'guitar', 'piano')
    """
    global _CPU_NOTE_SHOWN
    _check_options(name, segment=segment, shifts=shifts, overlap=overlap, jobs=jobs)
    source = _locate(name, model_dir=model_dir)
    stems = _STEMS.get(name) or stems_for(name, model_dir=model_dir)
    sep = DemucsSeparator(source, stems=stems, device=device, segment=segment, shifts=shifts,
                          overlap=overlap, jobs=jobs, seed=seed)
    if (device or "auto") == "auto" and sep.device == "cpu" and not _CPU_NOTE_SHOWN:
        _CPU_NOTE_SHOWN = True
        warnings.warn(f"No CUDA or Apple GPU found: '{name}' runs on the CPU, which takes "
                      "about as long as the song or longer.", _kit_warning(), stacklevel=2)
    return sep


def _check_options(name, *, segment, shifts, overlap, jobs) -> None:
    if segment is not None:
        try:
            segment = float(segment)
        except (TypeError, ValueError):
            raise OptionError(f"segment={segment!r} is not a number of seconds; e.g. segment=7.") from None
        max_s = _MAX_SEGMENT_S.get(name)
        top = f"{max_s:g}" if max_s else "the song length"
        if not segment >= _MIN_SEGMENT_S:
            raise OptionError(f"segment={segment:g} s is too short; use {_MIN_SEGMENT_S:g} to {top} s.")
        if max_s is not None and segment > max_s:
            raise OptionError(
                f"segment={segment:g} s is longer than '{name}' was trained on; "
                f"use a segment between {_MIN_SEGMENT_S:g} and {max_s:g} s (or leave it unset)."
            )
    if not isinstance(shifts, (int, np.integer)) or isinstance(shifts, bool) or shifts < 0:
        raise OptionError(f"shifts={shifts!r} must be a whole number >= 0 (0 fastest, 1 default, 2-10 better).")
    try:
        ok = 0.0 <= float(overlap) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise OptionError(f"overlap={overlap!r} must be at least 0 and below 1 (default 0.25).")
    if not isinstance(jobs, (int, np.integer)) or jobs < 0:
        raise OptionError(f"jobs={jobs!r} must be a whole number >= 0.")


def stems_for(name: str, *, model_dir=None, **options) -> tuple[str, ...]:
    """The stems a Demucs model gives, in order, without loading its weights.

    A custom model in the model folder is read once to learn its sources.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.stems_for("htdemucs")
    ('drums', 'bass', 'other', 'vocals')
    """
    if name in _STEMS:
        return _STEMS[name]
    source = find_weights(name, model_dir=model_dir)
    if source is None:
        raise OptionError(f"Unknown model '{name}'; choose one of: {', '.join(DEMUCS_MODELS)}.")
    import torch

    th = next(f for f in source.files if f.suffix == ".th")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = torch.load(th, map_location="cpu", weights_only=False, mmap=True)
    return tuple(package["kwargs"]["sources"])


def offline_status(name: str, **options) -> tuple[bool, str]:
    """Whether ``name`` can run now without network, and a one-line reason.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> ok, detail = demucs.offline_status("htdemucs", model_dir=None)
    >>> isinstance(ok, bool)
    True
    """
    if name in _NEEDS_DIFFQ:
        try:
            _check_diffq(name)
        except ModelUnavailableError as exc:
            return False, str(exc)
    try:
        source = find_weights(name, model_dir=options.get("model_dir"))
    except (OptionError, ModelUnavailableError) as exc:
        return False, str(exc)
    if source is None:
        return False, (f"not downloaded: on a machine with internet `kit models download {name} --to DIR`, "
                       "then --model-dir DIR")
    return True, f"weights in the {source.describe()}"


# --- downloading --------------------------------------------------------------

def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def _download_hf(name: str, to: Path) -> list[Path]:
    """Hugging Face (where Demucs 4.1 looks first): yaml + safetensors -> NAME.yaml + SIG-CHECKSUM.th."""
    import io
    import json
    import tempfile

    import torch
    from demucs.hf import _decode_json, _unflatten_state
    from huggingface_hub import hf_hub_download
    from safetensors import safe_open

    repo_id = _hf_repo_id(name)
    written = []
    with tempfile.TemporaryDirectory(dir=to, prefix=".download-") as tmp:
        yaml_tmp = Path(hf_hub_download(repo_id, f"{name}.yaml", local_dir=tmp, etag_timeout=10))
        bag = _read_bag(yaml_tmp)
        for sig in bag["models"]:
            st = hf_hub_download(repo_id, f"{sig}.safetensors", local_dir=tmp, etag_timeout=10)
            with safe_open(st, framework="pt") as f:
                meta = f.metadata()
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            state = (_unflatten_state(tensors, json.loads(meta["structure"]))
                     if "structure" in meta else tensors)
            module, klass_name = meta["klass"].rsplit(".", 1)
            import importlib

            klass = getattr(importlib.import_module(module), klass_name)
            package = {"klass": klass, "args": _decode_json(json.loads(meta["args"])),
                       "kwargs": _decode_json(json.loads(meta["kwargs"])), "state": state}
            buf = io.BytesIO()
            torch.save(package, buf)
            checksum = hashlib.sha256(buf.getvalue()).hexdigest()[:8]
            for old in to.glob(f"{sig}*.th"):  # LocalRepo refuses two files for one signature
                old.unlink()
            target = to / f"{sig}-{checksum}.th"
            _atomic_write_bytes(target, buf.getvalue())
            written.append(target)
        yaml_out = to / f"{name}.yaml"
        _atomic_write_bytes(yaml_out, yaml_tmp.read_bytes())
        written.append(yaml_out)
    return written


def _download_aws(name: str, to: Path) -> list[Path]:
    """The legacy Demucs repository (dl.fbaipublicfiles.com): SIG-CHECKSUM.th files as they are."""
    import torch
    from demucs.pretrained import REMOTE_ROOT

    yaml_src = REMOTE_ROOT / f"{name}.yaml"
    urls = _remote_files()
    written = []
    for sig in _read_bag(yaml_src)["models"]:
        url = urls[sig]
        filename = url.rsplit("/", 1)[-1]
        target = to / filename
        if not target.is_file():
            with atomic_output(target) as tmp:
                torch.hub.download_url_to_file(url, str(tmp), hash_prefix=filename.rsplit("-", 1)[1][:-3],
                                               progress=True)
        written.append(target)
    yaml_out = to / f"{name}.yaml"
    _atomic_write_bytes(yaml_out, yaml_src.read_bytes())
    written.append(yaml_out)
    return written


def download_model(name: str, *, to=None) -> Path:
    """Download a pretrained Demucs model.

    Parameters
    ----------
    name : str
        One of the Demucs names (``htdemucs``...).
    to : str or Path, optional
        Write a model folder here (``NAME.yaml`` + ``SIG-CHECKSUM.th``, what
        ``--model-dir`` reads; copy it to other machines). Default: the
        Hugging Face cache, where Demucs itself looks.

    Returns
    -------
    folder : Path

    Raises
    ------
    DownloadError
        No network, or the servers refused. Checked first with a quick
        connection test, so an offline machine fails in seconds.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.download_model("htdemucs", to="models")  # doctest: +SKIP
    PosixPath('models')
    """
    if name not in DEMUCS_MODELS:
        raise OptionError(f"Unknown Demucs model '{name}'; choose one of: {', '.join(DEMUCS_MODELS)}.")
    if _offline_mode():
        raise DownloadError(f"Cannot download '{name}': offline mode is on (HF_HUB_OFFLINE/KIT_OFFLINE); "
                            "unset it on a machine with internet.")
    why = check_network()
    if why is not None:
        raise DownloadError(f"Cannot download '{name}': the internet cannot be reached ({why}); "
                            f"run `kit models download {name} --to DIR` on a machine with internet.")
    if to is None:
        from huggingface_hub import hf_hub_download

        repo_id = _hf_repo_id(name)
        try:
            yaml_path = Path(hf_hub_download(repo_id, f"{name}.yaml", etag_timeout=10))
            for sig in _read_bag(yaml_path)["models"]:
                hf_hub_download(repo_id, f"{sig}.safetensors", etag_timeout=10)
        except Exception as exc:
            raise DownloadError(f"Downloading '{name}' from huggingface.co failed "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                                "try again later, or copy a model folder and use --model-dir.") from None
        return yaml_path.parent
    to = Path(to).expanduser()
    to.mkdir(parents=True, exist_ok=True)
    errors = []
    for fetch in (_download_hf, _download_aws):
        try:
            fetch(name, to)
            return to
        except Exception as exc:  # try the other server before giving up
            errors.append(f"{fetch.__name__[10:]}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}")
    raise DownloadError(f"Downloading '{name}' failed ({'; '.join(errors)}); try again later.")
