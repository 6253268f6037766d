"""Demucs on the CPU: kit's separation against Demucs's own ``apply_model``.

Both sides get the same normalised song, the same model object, segment,
overlap (0.25) and shifts (with the same seeded offsets), so they do the same
network work; the script prints the time ratio and the largest absolute
difference between their stems (goal of issue 22: kit >= 1.5x faster, stems
within 1e-4). The model is a RANDOM-weight model of the htdemucs architecture
(the real ``HTDemucs`` class, ~42 M parameters): the compute of the pretrained
model, not its stems.

Runs are interleaved (apply_model, kit, kit, apply_model, ...) in one process,
once per thread count, and both wall time and this process's CPU time
(``time.process_time``, all threads) are printed. On a machine shared with
other work, trust the CPU-time ratio: wall time there measures the neighbours.

Levers kept in kit's default path: ``inference_mode``, MultiheadAttention's fast
path off on the CPU (the fused attention kernel; ``--mha-fast-path`` adds a kit side
with the fast path on, to see that lever alone), and large allocations served from
memory freed by the previous segment (``kit.heap``; ``--no-heap-reuse`` adds a kit
side without it). apply_model runs with glibc's usual settings: after a kit run
they are left at the top of glibc's own dynamic range, as favourable to it as
glibc's defaults get. Opt-in: ``--onnx`` adds kit with
``runtime="onnx"`` (ONNX Runtime; the one-off export is timed and printed apart).

Run: .venv/bin/python benchmarks/bench_demucs_cpu.py [--seconds 180] [--threads 1,2] [--repeats 2]
     [--batch-size 2] [--channels-last] [--mha-fast-path] [--no-heap-reuse] [--onnx]
     (each adds a kit side: a lever measured on its own)
     .venv/bin/python benchmarks/bench_demucs_cpu.py --fresh-processes [--seconds 180] [--threads 1,2]
     (apply_model and kit each in a new process per run, as a user starts them)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from timing import time_interleaved  # noqa: E402 (beside this script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180 s)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts to try (default 1,2)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side and thread count (default 2)")
    parser.add_argument("--shifts", type=int, default=1, help="Demucs shifts on both sides (kit default 1)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="also time kit with this many segments per network call")
    parser.add_argument("--channels-last", action="store_true",
                        help="also time kit with the network's 4-d weights in channels-last layout")
    parser.add_argument("--mha-fast-path", action="store_true",
                        help="also time kit with torch's MultiheadAttention fast path on (the old way)")
    parser.add_argument("--no-heap-reuse", action="store_true",
                        help="also time kit with malloc's usual fresh pages (kit.heap's lever off)")
    parser.add_argument("--onnx", action="store_true", help="also time kit with runtime='onnx'")
    parser.add_argument("--fresh-processes", action="store_true",
                        help="run each side in a new process of its own instead (apply_model and kit only)")
    parser.add_argument("--one", choices=["apply_model", "kit"], help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fresh_processes:
        _fresh_processes(args)
        return

    import numpy as np
    import torch
    from demucs.apply import apply_model
    from model_fixtures import make_random_htdemucs

    import kit
    from kit.separators.demucs_batched import apply_batched

    model = make_random_htdemucs(size="full")[0]
    n_params = sum(p.numel() for p in model.parameters())
    y, sr = kit.examples.load_song()
    reps = int(np.ceil(args.seconds * sr / y.shape[1]))
    y = np.ascontiguousarray(np.tile(y, reps)[:, : int(args.seconds * sr)])
    wav = torch.from_numpy(y)
    ref = wav.mean(0)
    mix = (wav - ref.mean()) / (ref.std() + 1e-8)  # Demucs's normalisation, as both paths apply it

    def reference():
        random.seed(0)  # apply_model's shift offsets come from Python's random
        return apply_model(model, mix[None], shifts=args.shifts, split=True, overlap=0.25, device="cpu")[0]

    def via_kit(batch_size=None, net=model, runtime="torch"):
        return apply_batched(net, mix, shifts=args.shifts, overlap=0.25, seed=0, device="cpu",
                             batch_size=batch_size, runtime=runtime)

    sides = {"apply_model": reference, "kit": via_kit}
    if args.one:  # one run of one side in this process (--fresh-processes starts it)
        import json
        import time

        torch.set_num_threads(int(args.threads))
        t0, c0 = time.perf_counter(), time.process_time()
        stems = sides[args.one]()
        print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
        np.save(args.save, stems.numpy())
        return
    if args.batch_size:
        sides[f"kit batch {args.batch_size}"] = lambda: via_kit(args.batch_size)
    if args.channels_last:
        import copy

        last = copy.deepcopy(model).to(memory_format=torch.channels_last)
        sides["kit channels-last"] = lambda: via_kit(net=last)
    if args.mha_fast_path:
        import contextlib

        from kit.separators import demucs_batched

        def fast_path():
            kept = demucs_batched._fused_attention
            demucs_batched._fused_attention = lambda device: contextlib.nullcontext()
            try:
                return via_kit()
            finally:
                demucs_batched._fused_attention = kept

        sides["kit MHA fast path"] = fast_path
    if args.no_heap_reuse:
        import contextlib

        from kit.separators import demucs_batched

        def fresh_pages():
            kept = demucs_batched.reuse_freed_memory
            demucs_batched.reuse_freed_memory = contextlib.nullcontext
            try:
                return via_kit()
            finally:
                demucs_batched.reuse_freed_memory = kept

        sides["kit fresh pages"] = fresh_pages
    if args.onnx:
        import os
        import tempfile
        import time

        from kit.separators.demucs_onnx import onnx_forward

        os.environ["KIT_ONNX_DIR"] = tempfile.mkdtemp(prefix="kit-onnx-")
        t0, c0 = time.perf_counter(), time.process_time()
        if onnx_forward(model) is None:
            sys.exit("the ONNX export failed (see the note above)")
        print(f"ONNX export (once per model, kept on disk): {time.perf_counter() - t0:.1f} s wall, "
              f"{time.process_time() - c0:.1f} s CPU")
        sides["kit onnx"] = lambda: via_kit(runtime="onnx")

    print(f"song {args.seconds:g} s, htdemucs architecture ({n_params / 1e6:.1f} M parameters, random "
          f"weights), shifts={args.shifts}, overlap 0.25, torch {torch.__version__}")
    expected = reference()  # also the warm-up: first calls allocate and pick kernels
    diffs = {label: torch.max(torch.abs(fn() - expected)).item()
             for label, fn in sides.items() if label != "apply_model"}
    for label, diff in diffs.items():
        print(f"max |{label} - apply_model| = {diff:.2e} (goal <= 1e-4)")
    before = torch.get_num_threads()
    try:
        for n in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(n)
            print(f"torch threads {n}:")
            wall, cpu = time_interleaved(sides, args.repeats, width=max(map(len, sides)))
            ref_wall, ref_cpu = statistics.median(wall["apply_model"]), statistics.median(cpu["apply_model"])
            for label in sides:
                if label == "apply_model":
                    continue
                w, c = statistics.median(wall[label]), statistics.median(cpu[label])
                print(f"  speed-up {label} vs apply_model ({n} threads): wall {ref_wall / w:.3f}x, "
                      f"CPU {ref_cpu / c:.3f}x (goal >= 1.5x); apply_model {ref_wall:.1f} s wall, "
                      f"{ref_cpu:.1f} s CPU = {ref_cpu / args.seconds * 60:.1f} CPU s per minute of song")
                # the figure the app's time estimate starts from (kit.ui.engine_panel._SPEED)
                print(f"  {label}: {args.seconds / w:.2f} s of song per second on the clock, "
                      f"{args.seconds / c:.2f} per CPU-second ({n} threads)")
    finally:
        torch.set_num_threads(before)


def _fresh_processes(args) -> None:
    """apply_model and kit, each run in a process of its own, in turns: as a user meets them.

    In one process glibc's heap outlives a run: apply_model after kit finds the
    free memory kit's block left and reuses part of it (kit.heap). Here each run
    starts with malloc as a fresh program has it, and pays its own first segment
    (oneDNN picking kernels), as a fresh ``demucs`` or ``kit separate`` does.
    """
    import json
    import statistics
    import subprocess
    import tempfile

    import numpy as np

    print(f"song {args.seconds:g} s, htdemucs architecture (random weights), shifts={args.shifts}, "
          "overlap 0.25, every run in a fresh process")
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    for n in [int(t) for t in args.threads.split(",")]:
        print(f"torch threads {n}:")
        wall = {"apply_model": [], "kit": []}
        cpu = {"apply_model": [], "kit": []}
        for i in range(args.repeats):
            for side in ["apply_model", "kit"] if i % 2 == 0 else ["kit", "apply_model"]:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", side, "--threads", str(n), "--seconds", str(args.seconds),
                     "--shifts", str(args.shifts), "--save", str(folder / f"{side}.npy")],
                    capture_output=True, text=True, check=True)
                took = json.loads(done.stdout.strip().splitlines()[-1])
                wall[side].append(took["wall"])
                cpu[side].append(took["cpu"])
                print(f"  run {i + 1} {side:>11}: {took['wall']:.2f} s wall, {took['cpu']:.2f} s CPU", flush=True)
        diff = float(np.max(np.abs(np.load(folder / "kit.npy") - np.load(folder / "apply_model.npy"))))
        ref_w, ref_c = statistics.median(wall["apply_model"]), statistics.median(cpu["apply_model"])
        w, c = statistics.median(wall["kit"]), statistics.median(cpu["kit"])
        print(f"  speed-up kit vs apply_model ({n} threads, fresh processes): wall {ref_w / w:.3f}x, "
              f"CPU {ref_c / c:.3f}x (goal >= 1.5x); apply_model {ref_w:.1f} s wall; "
              f"max |kit - apply_model| = {diff:.2e} (goal <= 1e-4)")
        print(f"  kit: {args.seconds / w:.2f} s of song per second on the clock ({n} threads)")


if __name__ == "__main__":
    main()
