"""Separation speed on a CUDA GPU, and the batched Demucs path against apply_model on the CPU.

GPU part (skipped, and said so, on a machine without CUDA):

- Demucs: a RANDOM-weight model of the full htdemucs architecture (the real
  ``HTDemucs`` class, ``bottom_channels=512, dconv_mode=3``, about 42 M
  parameters; same compute as the pretrained model, but it is not the
  pretrained model) on a 3-minute and a 12-minute song (the bundled clip
  repeated): seconds, x-realtime and peak GPU memory through ``kit.separate``
  (the batched path) and through ``demucs.apply.apply_model`` (one segment per
  call), their ratio (goal: kit >= 4x apply_model in fp32), and kit with
  bf16 autocast with the SNR of its stems against fp32.
- ``unet`` (the real pretrained Spleeter 2-stem weights) through ``kit.separate``:
  seconds, x-realtime, peak GPU memory (goal: >= 2000x realtime).

CPU part (always): ``DemucsSeparator.separate`` (batched path) against
``apply_model`` with the same normalisation, on a short song, runs interleaved;
the ratio kit / apply_model must be <= 1.0 (no slower).

Run: .venv/bin/python benchmarks/bench_gpu.py [--lengths 180 720] [--cpu-seconds 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from timing import time_interleaved  # noqa: E402 (beside this script)


def tiled_song(seconds: float):
    import numpy as np

    import kit

    y, sr = kit.examples.load_song()
    reps = int(np.ceil(seconds * sr / y.shape[1]))
    return np.ascontiguousarray(np.tile(y, reps)[:, : int(seconds * sr)]), sr


def direct_apply(model, y, *, shifts: int, device: str, seed: int = 0):
    """What a user of Demucs writes: normalise, apply_model, undo the normalisation."""
    import torch
    from demucs.apply import apply_model

    random.seed(seed)
    wav = torch.from_numpy(y)
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    out = apply_model(model, ((wav - mean) / std)[None], shifts=shifts, split=True, overlap=0.25,
                      device=device)[0]
    return out * std + mean


def timed(fn, *, cuda: bool):
    import torch

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = fn()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak_gb = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return result, seconds, peak_gb


def snr_db(ref, est) -> float:
    import numpy as np

    ref, est = np.asarray(ref, dtype=np.float64), np.asarray(est, dtype=np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-30)))


def gpu_part(folder: Path, lengths, shifts: int) -> None:
    import numpy as np
    import torch
    from demucs.pretrained import get_model

    import kit

    print(f"GPU: {torch.cuda.get_device_name(0)}")
    model = get_model("htdemucs", repo=folder)  # the same weights, for apply_model
    opts = dict(model="htdemucs", model_dir=folder, device="cuda", shifts=shifts, overlap=0.25, cache=False)
    warm, sr = tiled_song(20)
    kit.separate(warm, sr, **opts)  # loads the weights, picks kernels
    kit.separate(warm, sr, precision="bf16", **opts)
    direct_apply(model, warm, shifts=shifts, device="cuda")
    print(f"htdemucs architecture, random weights, shifts={shifts}, overlap 0.25")
    for seconds in lengths:
        y, sr = tiled_song(seconds)
        stems, t_kit, m_kit = timed(lambda: kit.separate(y, sr, **opts), cuda=True)  # noqa: B023
        _, t_ref, m_ref = timed(lambda: direct_apply(model, y, shifts=shifts, device="cuda"),  # noqa: B023
                                cuda=True)
        bf16, t_bf, m_bf = timed(lambda: kit.separate(y, sr, precision="bf16", **opts), cuda=True)  # noqa: B023
        snrs = [snr_db(stems[k], bf16[k]) for k in stems]
        label = f"{seconds / 60:g}-min song"
        print(f"  {label}: kit.separate {t_kit:.2f} s = {seconds / t_kit:.0f}x realtime, peak {m_kit:.1f} GB | "
              f"apply_model {t_ref:.2f} s = {seconds / t_ref:.0f}x, peak {m_ref:.1f} GB | "
              f"ratio kit/apply_model speed {t_ref / t_kit:.2f}x (goal >= 4)")
        print(f"  {label}: kit bf16 {t_bf:.2f} s = {seconds / t_bf:.0f}x realtime, peak {m_bf:.1f} GB; "
              f"bf16 stems vs fp32: SNR min {min(snrs):.1f} dB, median {np.median(snrs):.1f} dB")
        del stems, bf16
    print("unet (real pretrained Spleeter 2-stem weights)")
    kit.separate(warm, sr, model="unet", device="cuda", cache=False)
    for seconds in lengths:
        y, sr = tiled_song(seconds)
        _, t_unet, m_unet = timed(lambda: kit.separate(y, sr, model="unet", device="cuda", cache=False),  # noqa: B023
                                  cuda=True)
        print(f"  {seconds / 60:g}-min song: kit.separate {t_unet:.2f} s = {seconds / t_unet:.0f}x realtime "
              f"(goal >= 2000x), peak {m_unet:.1f} GB")


def cpu_part(folder: Path, seconds: float, repeats: int, shifts: int, threads: int) -> None:
    import torch

    import kit

    if threads:
        torch.set_num_threads(threads)
    sep = kit.get_separator("htdemucs", model_dir=folder, device="cpu", shifts=shifts).load()
    model = sep.model  # the very same object on both sides
    y, sr = tiled_song(seconds)
    print(f"CPU: {seconds:g} s song, shifts={shifts}, torch threads {torch.get_num_threads()}, "
          f"batched path {sep.batch_size or 'default'} segment(s) per call")
    direct_apply(model, y[:, : 2 * sr], shifts=0, device="cpu")  # warm-up
    times, cpu = time_interleaved({"apply_model": lambda: direct_apply(model, y, shifts=shifts, device="cpu"),
                                   "kit": lambda: sep.separate(y, sr)}, repeats)
    ref, ours = statistics.median(times["apply_model"]), statistics.median(times["kit"])
    ref_c, ours_c = statistics.median(cpu["apply_model"]), statistics.median(cpu["kit"])
    print(f"CPU ratio kit/apply_model: wall {ours / ref:.3f} (median {ours:.2f} s vs {ref:.2f} s), "
          f"CPU time {ours_c / ref_c:.3f} (target <= 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[180.0, 720.0],
                        help="song lengths on the GPU, seconds (default 180 720)")
    parser.add_argument("--shifts", type=int, default=1, help="Demucs shifts on the GPU (default 1)")
    parser.add_argument("--cpu-seconds", type=float, default=12.0, help="song length on the CPU (default 12)")
    parser.add_argument("--cpu-shifts", type=int, default=0, help="Demucs shifts on the CPU (default 0)")
    parser.add_argument("--repeats", type=int, default=2, help="CPU runs per side (default 2)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--small", action="store_true",
                        help="the small test architecture instead of the full one (a quick check)")
    args = parser.parse_args()

    import torch
    from model_fixtures import write_random_demucs_model

    import kit

    folder = Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    write_random_demucs_model(folder, name="htdemucs", size="small" if args.small else "full")
    model = kit.get_separator("htdemucs", model_dir=folder, device="cpu").load().model
    n_params = sum(p.numel() for p in model.parameters())
    print(f"random-weight HTDemucs ({'small test' if args.small else 'full htdemucs'} architecture): "
          f"{n_params / 1e6:.1f} M parameters (not the pretrained weights)")
    if torch.cuda.is_available():
        gpu_part(folder, args.lengths, args.shifts)
    else:
        print("no CUDA GPU: skipped the GPU part")
    cpu_part(folder, args.cpu_seconds, args.repeats, args.cpu_shifts, args.threads)


if __name__ == "__main__":
    main()
