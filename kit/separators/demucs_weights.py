"""Where Demucs weights are, how they load, and how to download them.

The separator (:mod:`kit.separators.demucs`) asks this module for a model and
gets a loaded network back; everything about files, caches and the network
lives here. Where the weights come from, first hit wins:

1. a model folder (``model_dir=`` / ``--model-dir`` / ``$KIT_MODEL_DIR``) laid
   out as Demucs's ``LocalRepo`` reads it: ``NAME.yaml`` bags and
   ``SIG.th`` / ``SIG-CHECKSUM.th`` files (``kit models download NAME --to DIR``
   writes one; copy the folder to every laptop of a workshop);
2. the Hugging Face hub cache (where Demucs 4.1 downloads to);
3. the torch hub cache (where older Demucs versions downloaded to);
4. the internet, unless ``HF_HUB_OFFLINE=1`` or ``KIT_OFFLINE=1``, and only
   after a quick reachability check, so that an offline laptop gets one clear
   error in a second or two instead of a minute of retries.

This module imports nothing from the rest of ``kit.separators``: the registry
takes the model names from here, and the separator takes the weights.

See also
--------
notebooks/06_demucs.ipynb
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import atomic_output
from ..errors import DownloadError, KitError, ModelUnavailableError, OptionError

__all__ = [
    "DEMUCS_MODELS",
    "WeightsSource",
    "resolve_model_dir",
    "is_local_model",
    "find_weights",
    "locate_weights",
    "load_weights",
    "clear_loaded",
    "check_network",
    "check_diffq",
    "download_model",
]

# The pretrained Demucs names (Demucs 4.1's remote list); a custom model in a model folder
# is found by is_local_model.
DEMUCS_MODELS = (
    "htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi",
    "mdx", "mdx_extra", "mdx_q", "mdx_extra_q",
)
NEEDS_DIFFQ = ("mdx_q", "mdx_extra_q")  # quantised weights are unpacked by diffq

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
    >>> from kit.separators import demucs_weights
    >>> demucs_weights.is_local_model("my_model", model_dir=None)
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
    >>> from kit.separators import demucs_weights
    >>> demucs_weights.find_weights("not_a_model") is None
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


def locate_weights(name: str, *, model_dir=None, allow_download: bool = True) -> WeightsSource:
    """Find a model's weights, or decide to download them; fail at once if neither can be done.

    Raises
    ------
    ModelUnavailableError
        Not here and not downloadable now (offline, or the internet cannot be
        reached); the message says how to get the weights.
    OptionError
        ``name`` is neither a Demucs name nor a model in the model folder.

    Examples
    --------
    >>> from kit.separators import demucs_weights
    >>> demucs_weights.locate_weights("htdemucs", model_dir="models").kind  # doctest: +SKIP
    'model_dir'
    """
    if name in NEEDS_DIFFQ:
        check_diffq(name)
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


def check_diffq(name: str) -> None:
    """Raise ModelUnavailableError (with the pip command) if ``name`` needs diffq and it is missing."""
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


def load_weights(source: WeightsSource):
    """Load the model (a demucs BagOfModels or single model) on the CPU, in eval mode.

    The last model loaded is kept, so a second separation with it reads no file;
    :func:`clear_loaded` frees it.
    """
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
                check_diffq(source.name)
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


def clear_loaded() -> None:
    """Forget the model kept by :func:`load_weights` (frees its memory once nothing else holds it)."""
    with _LOAD_LOCK:
        _LOADED.clear()


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
    >>> from kit.separators import demucs_weights
    >>> demucs_weights.download_model("htdemucs", to="models")  # doctest: +SKIP
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
