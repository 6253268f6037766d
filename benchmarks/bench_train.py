"""Train the tiny U-Net for 5 minutes on the CPU; compare it with REPET-SIM and the pretrained U-Net.

Prints three figures, each the vocals SDR (museval BSSEval v4, median of 1 s
windows, mean over songs) on synthetic songs whose seeds training never draws
(seeds 100, 101, ... with their own keys and tempi, 44.1 kHz stereo):

- ``tiny-unet``: trained here for ``--minutes`` (default 5);
- ``repet``: kit's REPET-SIM, no training;
- ``unet``: the pretrained Spleeter 2-stem U-Net (trained on real music).

and checks the goals: tiny-unet >= repet + 3 dB, and tiny-unet >= unet - 6 dB.

The bundled real song has no true stems, so no SDR can be computed on it.
What is printed instead, honestly labelled: how much each method's vocals
agree with the pretrained U-Net's (an SDR with the unet's vocals standing in
for the truth), and how loud each vocal stem is in the first 2 s of the clip,
where nobody sings (a leak: lower is better).

The figures depend on the machine: training runs for a fixed time, so a
busy machine trains fewer steps (measured here on 2 shared cores: 110 steps
gave 1.8 dB, 396 steps 10.7 dB). The load average and the steps taken are
printed with them; ``--clock cpu`` counts this process's CPU time instead.

Run: ``.venv/bin/python benchmarks/bench_train.py`` (about 8 minutes on two
cores; ``--minutes 1`` for a quick look; ``--save tiny.safetensors`` keeps the model).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _rms_db(y) -> float:
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    parser.add_argument("--songs", type=int, default=4, help="unseen songs to score on (default 4)")
    parser.add_argument("--song-s", type=float, default=8.0, help="length of each song in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what --minutes counts: wall-clock time, or this process's CPU time (on a shared "
                             "machine, --clock cpu --minutes 10 gives what 5 minutes of 2 idle cores would)")
    parser.add_argument("--save", default=None, help="write the trained model here (.safetensors)")
    args = parser.parse_args()

    import kit
    from kit.evaluate import compute_sdr
    from kit.train import make_validation_songs

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores, load average before training {os.getloadavg()[0]:.1f} "
          "(a shared machine trains fewer steps in the same time)", flush=True)
    t = time.perf_counter()
    model = kit.train.train_unet(minutes=args.minutes, seed=args.seed, clock=args.clock)
    h = model.history
    print(f"trained {time.perf_counter() - t:.0f} s wall ({h['train_s']:.0f} s on the {args.clock} clock): "
          f"{h['steps']} steps, {h['songs']} songs made, "
          f"{h['threads']} thread(s), {h['n_parameters']:,} parameters, "
          f"best validation SDR {h['best_val_sdr_db']:.2f} dB; load average now {os.getloadavg()[0]:.1f}",
          flush=True)
    if args.save:
        print(f"saved {model.save(args.save)}")

    sr = 44100
    songs = make_validation_songs(args.songs, duration_s=args.song_s, sr=sr, first_seed=100)
    methods = {"tiny-unet": model, "repet": kit.get_separator("repet"), "unet": kit.get_separator("unet", device="cpu")}
    scores = {m: [] for m in methods}
    for song in songs:
        line = [f"song seed {song['seed']} (key {song['key']:+.1f}, {song['tempo_bpm']:.0f} BPM):"]
        for name, sep in methods.items():
            est = sep.separate(song["mix"], sr)["vocals"]
            scores[name].append(compute_sdr(song["stems"]["vocals"], est, sr=sr, window_s=1.0))
            line.append(f"{name} {scores[name][-1]:6.2f}")
        print("  ".join(line), flush=True)
    mean = {m: float(np.mean(v)) for m, v in scores.items()}
    print("\nvocals SDR on unseen synthetic songs (museval BSSEval v4, median of 1 s windows, mean over "
          f"{len(songs)} songs):")
    for name in methods:
        print(f"  {name:<10} {mean[name]:6.2f} dB")
    beat_repet = mean["tiny-unet"] - mean["repet"]
    gap_unet = mean["unet"] - mean["tiny-unet"]
    print(f"  tiny-unet - repet = {beat_repet:+.2f} dB (goal >= +3: {'met' if beat_repet >= 3 else 'NOT met'})")
    print(f"  unet - tiny-unet  = {gap_unet:+.2f} dB (goal <= 6: {'met' if gap_unet <= 6 else 'NOT met'})")

    y, sr = kit.examples.load_song()
    stems = {name: sep.separate(y, sr)["vocals"] for name, sep in methods.items()}
    intro = int(2.0 * sr)
    print("\nbundled real song (10.9 s, no true stems, so no true SDR):")
    print(f"  {'method':<10} {'agreement with unet vocals':>27} {'vocal level in 0-2 s (no singing)':>35}")
    for name, v in stems.items():
        agree = "(itself)" if name == "unet" else f"{compute_sdr(stems['unet'], v, sr=sr, window_s=1.0):6.2f} dB"
        leak = _rms_db(v[:, :intro]) - _rms_db(y[:, :intro])
        print(f"  {name:<10} {agree:>27} {leak:31.1f} dB re mix")


if __name__ == "__main__":
    main()
