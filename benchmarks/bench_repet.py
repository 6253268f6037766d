"""REPET-SIM on whole songs: kit's blocked version against librosa's plain recipe.

Measures, on a synthetic song (mono, 22 050 Hz: what ``librosa.load`` gives the
recipe by default; the music of :func:`kit.examples.make_multitrack`, a fresh
seed every minute):

- the largest difference between kit's masks and the recipe's at 60 s
  (kit promises <= 1e-4; it is built to be bit-identical up to 60 s);
- time and peak memory of kit at 60 s and at 12 min, and their time ratio
  (linear growth would be 12x; the target is at most 14x);
- time and peak memory of kit and of the plain recipe at 300 s, and their ratios.

Each case runs in its own Python process, so the peak resident memory
(VmHWM) it reports is that case's alone; it includes the ~300 MB that
importing numpy, librosa and scikit-learn takes, printed as "after imports"
(measured after a 6 s warm-up run, so lazy imports are not timed either).
The timed part is the same for both: ``y -> |stft| -> masks``.

Run: ``.venv/bin/python benchmarks/bench_repet.py`` (about 4 minutes on two
idle cores; ``--quick`` for a 20 s / 60 s / 120 s version; ``--separator-s 240``
also times the whole separator, stereo 44.1 kHz in and out, on a 4-minute song).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SR = 22050


def _peak_mb() -> float:
    """This process's peak resident memory, in MB.

    VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child started
    by a big parent would report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(method: str, audio_path: str, mask_path: str) -> None:
    import librosa

    from kit.separators.classical import compute_repet_sim_masks

    def masks_of(y):
        mag = np.abs(librosa.stft(y))
        if method == "recipe":  # librosa's "Vocal separation" recipe, verbatim
            s_filter = librosa.decompose.nn_filter(mag, aggregate=np.median, metric="cosine",
                                                   width=int(librosa.time_to_frames(2, sr=SR)))
            s_filter = np.minimum(mag, s_filter)
            margin_i, margin_v, power = 2, 10, 2
            mask_i = librosa.util.softmask(s_filter, margin_i * (mag - s_filter), power=power)
            mask_v = librosa.util.softmask(mag - s_filter, margin_v * s_filter, power=power)
        else:
            mask_i, mask_v = compute_repet_sim_masks(mag, sr=SR)
        return mag.shape[-1], mask_i, mask_v

    y = np.load(audio_path)
    masks_of(y[: 6 * SR])  # warm up: lazy imports (scikit-learn) are not what we measure
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    n_frames, mask_i, mask_v = masks_of(y)
    seconds = time.perf_counter() - t0
    peak_mb = _peak_mb()
    if mask_path:
        np.savez(mask_path, mask_i=mask_i, mask_v=mask_v)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imports_mb": base_mb, "frames": n_frames}))


def _separator_worker(audio_path: str) -> None:
    """The whole RepetSimSeparator, stereo 44.1 kHz in, two stereo stems out."""
    import kit

    y = np.load(audio_path)
    kit.separate(y[:, : 6 * 44100], 44100, model="repet")  # warm up
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    stems = kit.separate(y, 44100, model="repet")
    seconds = time.perf_counter() - t0
    peak_mb = _peak_mb()
    assert np.allclose(stems["vocals"] + stems["accompaniment"], y, atol=1e-5)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "imports_mb": base_mb, "frames": 1 + y.shape[1] // 512}))


def _make_song(seconds: float, path: str, *, sr: int = SR, stereo: bool = False) -> None:
    import kit

    parts, left, seed = [], seconds, 0
    while left > 0:
        mix, _ = kit.examples.make_multitrack(min(60.0, left), sr=sr, seed=seed)
        parts.append(mix if stereo else mix[np.newaxis].mean(axis=1))
        left -= 60.0
        seed += 1
    song = np.concatenate(parts, axis=-1).astype(np.float32)
    np.save(path, song if stereo else song[0])


def _run(method: str, audio_path: str, mask_path: str = "") -> dict:
    cmd = [sys.executable, __file__, "--worker", method, audio_path, mask_path]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{method} on {audio_path} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short-s", type=float, default=60.0)
    ap.add_argument("--mid-s", type=float, default=300.0)
    ap.add_argument("--long-s", type=float, default=720.0)
    ap.add_argument("--quick", action="store_true", help="20 s / 60 s / 120 s instead")
    ap.add_argument("--separator-s", type=float, default=0.0, metavar="S",
                    help="also time the whole separator on an S-second stereo 44.1 kHz song (default: skip)")
    args = ap.parse_args()
    if args.quick:
        args.short_s, args.mid_s, args.long_s = 20.0, 60.0, 120.0

    with tempfile.TemporaryDirectory() as tmp:
        songs = {}
        for s in sorted({args.short_s, args.mid_s, args.long_s}):
            songs[s] = os.path.join(tmp, f"song_{int(s)}.npy")
            _make_song(s, songs[s])
        masks = {m: os.path.join(tmp, f"masks_{m}.npz") for m in ("recipe", "kit")}

        short_recipe = _run("recipe", songs[args.short_s], masks["recipe"])
        short_kit = _run("kit", songs[args.short_s], masks["kit"])
        a, b = np.load(masks["recipe"]), np.load(masks["kit"])
        diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in ("mask_i", "mask_v"))
        identical = all(np.array_equal(a[k], b[k]) for k in ("mask_i", "mask_v"))
        long_kit = _run("kit", songs[args.long_s])
        mid_kit = _run("kit", songs[args.mid_s])
        mid_recipe = _run("recipe", songs[args.mid_s])
        separator = None
        if args.separator_s:
            path = os.path.join(tmp, "stereo.npy")
            _make_song(args.separator_s, path, sr=44100, stereo=True)
            separator = _run("separator", path)

    def line(label, r):
        return (f"{label:<28} {r['seconds']:8.1f} s  peak {r['peak_mb']:7.0f} MB "
                f"(after imports and loading the song {r['imports_mb']:.0f} MB)  {r['frames']} frames")

    print(f"REPET-SIM, mono {SR} Hz, n_fft 2048, hop 512; {os.cpu_count()} CPUs")
    print(line(f"recipe {args.short_s:g} s", short_recipe))
    print(line(f"kit    {args.short_s:g} s", short_kit))
    print(line(f"kit    {args.long_s:g} s", long_kit))
    print(line(f"kit    {args.mid_s:g} s", mid_kit))
    print(line(f"recipe {args.mid_s:g} s", mid_recipe))
    print()
    print(f"mask max abs diff vs recipe at {args.short_s:g} s: {diff:.3g} (bit-identical: {identical}; target <= 1e-4)")
    ratio = long_kit["seconds"] / short_kit["seconds"]
    print(f"time {args.long_s:g} s / {args.short_s:g} s (kit): {ratio:.1f}x "
          f"(length ratio {args.long_s / args.short_s:.0f}x; target <= 14x)")
    print(f"peak memory at {args.long_s:g} s (kit): {long_kit['peak_mb']:.0f} MB (target < 1024 MB)")
    print(f"at {args.mid_s:g} s, recipe / kit: time {mid_recipe['seconds'] / mid_kit['seconds']:.1f}x, "
          f"peak memory {mid_recipe['peak_mb'] / mid_kit['peak_mb']:.1f}x")
    print(f"at {args.short_s:g} s, recipe / kit: time {short_recipe['seconds'] / short_kit['seconds']:.1f}x")
    if separator:
        print(line(f"separator {args.separator_s:g} s stereo 44.1k", separator)
              + f"  ({separator['seconds'] / (args.separator_s / 60):.1f} s per minute of song)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "separator":
            _separator_worker(sys.argv[3])
        else:
            _worker(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
