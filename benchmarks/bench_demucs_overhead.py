"""How much wall time the kit adds around Demucs.

Reference: ``demucs.apply.apply_model`` called directly on the same model and
audio, with Demucs's usual normalisation around it, line for line as
``demucs.api.Separator.separate_tensor`` does it. (Feed apply_model the raw
audio instead and the network itself runs a few % faster or slower, because its
speed depends a little on the input's scale: denormal numbers in a
random-weight network. That is not kit overhead, so both sides get the same
normalised input.) Kit path: ``DemucsSeparator.separate`` (input checks, the
same normalisation, the batched segments and overlap-add, conversion to numpy,
length trimming). The model is a
RANDOM-weight model of the htdemucs architecture (real ``HTDemucs`` class, ~42 M
parameters) loaded from a model folder: same compute as the pretrained one, but
it is not the pretrained model. Runs are interleaved (direct, kit, direct, ...)
so that load from other processes hits both sides alike.

Run: .venv/bin/python benchmarks/bench_demucs_overhead.py [--seconds 24] [--repeats 3]
Target: kit / direct <= 1.03.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=24.0, help="audio length (default 24 s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--shifts", type=int, default=1, help="Demucs shifts on both sides (kit default 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 is steadier on a busy machine")
    args = parser.parse_args()

    import numpy as np
    import torch
    from demucs.apply import apply_model
    from model_fixtures import write_random_demucs_model

    import kit

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="bench_demucs_"))
    write_random_demucs_model(folder, name="htdemucs", size="full")
    sep = kit.get_separator("htdemucs", model_dir=folder, device="cpu", shifts=args.shifts).load()
    model = sep.model  # the very same object for both sides

    y, sr = kit.examples.load_song()
    reps = int(np.ceil(args.seconds * sr / y.shape[1]))
    y = np.ascontiguousarray(np.tile(y, reps)[:, : int(args.seconds * sr)])

    def direct():
        random.seed(0)  # same shift offsets as the kit path, so the same work is done
        wav = torch.from_numpy(y)
        ref = wav.mean(0)
        mean, std = ref.mean(), ref.std() + 1e-8
        out = apply_model(model, ((wav - mean) / std)[None], shifts=args.shifts, split=True,
                          overlap=0.25, device="cpu")
        return out * std + mean

    def via_kit():
        return sep.separate(y, sr)

    print(f"audio {args.seconds:g} s, htdemucs architecture (random weights), shifts={args.shifts}, "
          f"torch threads {torch.get_num_threads()}")
    direct()  # warm-up: first calls allocate and pick kernels
    times, cpu = time_interleaved({"direct": direct, "kit": via_kit}, args.repeats, width=6)
    d_med, k_med = statistics.median(times["direct"]), statistics.median(times["kit"])
    d_min, k_min = min(times["direct"]), min(times["kit"])
    dc, kc = statistics.median(cpu["direct"]), statistics.median(cpu["kit"])
    print(f"direct apply_model: median {d_med:.2f} s, min {d_min:.2f} s wall; median {dc:.2f} s CPU")
    print(f"kit separate:       median {k_med:.2f} s, min {k_min:.2f} s wall; median {kc:.2f} s CPU")
    print(f"ratio kit/direct: wall median {k_med / d_med:.3f}, wall min {k_min / d_min:.3f}, "
          f"CPU median {kc / dc:.3f} (target <= 1.03)")

    # The kit's own work alone: the same two paths with the network replaced by a stub
    # that returns zeros at once, so only what surrounds the model is timed. The direct
    # side stubs apply_model; the kit side (batched, no apply_model) stubs its network call
    # and still cuts segments and overlap-adds them, which apply_model's stub skips: this
    # overstates the kit's extra work a little.
    import demucs.apply

    import kit.separators.demucs_batched as batched

    real, real_forward = demucs.apply.apply_model, batched._forward

    def stub(model, mix, **kwargs):
        return torch.zeros(1, len(model.sources), mix.shape[1], mix.shape[-1])

    def stub_forward(net, x, **kwargs):
        return torch.zeros(x.shape[0], len(net.sources), x.shape[1], x.shape[-1])

    demucs.apply.apply_model = stub
    batched._forward = stub_forward
    try:
        t0 = time.perf_counter()
        for _ in range(5):
            via_kit()
        kit_only = (time.perf_counter() - t0) / 5
        t0 = time.perf_counter()
        for _ in range(5):
            direct()
        stub_only = (time.perf_counter() - t0) / 5
    finally:
        demucs.apply.apply_model = real
        batched._forward = real_forward
    extra = max(0.0, kit_only - stub_only)
    print(f"kit's own work around the model: {extra * 1e3:.0f} ms per call = {extra / d_min:.2%} of the "
          f"fastest direct run")


if __name__ == "__main__":
    main()
