"""Pitch trackers (SwiftF0 "fast" and librosa's pYIN) and the singing score: speed and accuracy.

Voices whose pitch is known at every sample: kit's synthetic singer singing the
synthetic song's melody (``kit.examples.make_sung_melody``), alone and over the
synthetic song's backing (drums, bass, pad at their usual levels), and another
made-up singer's take (``make_sung_take``). Accuracy is the raw pitch accuracy
of MIREX: the share of truly voiced frames whose pitch is voiced and within 50
cents. Speed is x-realtime (seconds of audio per second of wall clock); pYIN's
speed, measured on a shorter piece in the same run, is the reference the fast
tracker's ratio is given against.

Then the score: a take with known mistakes (35 % of notes 60-150 cents off,
10 % missed) and a known latency, scored against the reference vocal, both
``--seconds`` long at 44.1 kHz: the wall time of :func:`kit.score_singing`, the
share of detuned notes flagged in the right direction, the share of in-tune
notes flagged, and the latency error.

Run: ``.venv/bin/python benchmarks/bench_pitch.py [--seconds 180] [--pyin-seconds 20]``.
On a machine with more cores, ``taskset -c 0,1`` gives the issue's two cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import kit
from kit.pitch_tracking import cents_between

SR = 44100


def accuracy(times_s, f0_hz, voiced, truth_hz, sr) -> tuple[float, float]:
    idx = np.clip(np.round(times_s * sr).astype(int), 0, truth_hz.size - 1)
    truth = truth_hz[idx]
    sung = np.isfinite(truth)
    close = voiced & sung & (np.abs(cents_between(np.nan_to_num(f0_hz, nan=1.0), truth)) <= 50)
    return float(np.mean(close[sung])), float(np.mean(voiced[~sung])) if np.any(~sung) else 0.0


def voices(seconds: float) -> dict:
    notes = kit.examples.multitrack_melody(seconds)
    clean, truth = kit.examples.make_sung_melody(notes, SR, duration_s=seconds)
    mix, stems = kit.examples.make_multitrack(seconds, SR)
    backing = kit.audio.to_mono(mix - stems["vocals"])
    in_mix = clean + backing[:, : clean.shape[1]]
    other, other_truth = kit.examples.make_sung_melody(notes, SR, duration_s=seconds, formant_scale=1.12,
                                                        vowels="oiuae", seed=3)
    return {"clean vocal": (clean, truth), "vocal in the mix": (in_mix, truth), "another voice": (other, other_truth)}


def best_time(fn, repeats: int) -> tuple[float, float, object]:
    """The fastest of ``repeats`` runs: wall seconds, this process's CPU seconds (all threads), the result."""
    runs, out = [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(runs)
    return wall, cpu, out


def bench_trackers(seconds: float, pyin_seconds: float) -> None:
    print(f"Pitch tracking, {os.cpu_count()} CPUs visible; fast on {seconds:g} s, pyin on {pyin_seconds:g} s")
    kit.track_pitch(np.zeros((1, SR)), SR)  # the ONNX session is built once, outside the timing
    speeds, cpu_speeds = {}, {}
    for method, length in (("fast", seconds), ("pyin", pyin_seconds)):
        for name, (y, truth) in voices(length).items():
            wall, cpu, (times_s, f0_hz, voiced) = best_time(lambda y=y, m=method: kit.track_pitch(y, SR, method=m),
                                                      3 if method == "fast" else 1)
            acc, false_voiced = accuracy(times_s, f0_hz, voiced, truth, SR)
            speeds.setdefault(method, []).append(length / wall)
            cpu_speeds.setdefault(method, []).append(length / cpu)
            print(f"  {method:>4} {name:<17} {length / wall:7.1f}x realtime ({length / cpu:7.1f}x per CPU second)  "
                  f"accuracy {100 * acc:5.1f} %  "
                  f"voiced where silent {100 * false_voiced:4.1f} %", flush=True)
    fast, pyin = np.median(speeds["fast"]), np.median(speeds["pyin"])
    fast_cpu = np.median(cpu_speeds["fast"])
    print(f"  fast: {fast:.0f}x realtime on the clock, {fast_cpu:.0f}x per CPU second (target >= 50x on 2 cores; "
          f"the CPU figure is what one core alone would give, whatever else the machine runs)")
    print(f"  fast is {fast / pyin:.0f}x pyin's speed (pyin {pyin:.2f}x realtime)")


def bench_scoring(seconds: float) -> None:
    notes = kit.examples.multitrack_melody(seconds)
    reference, _ = kit.examples.make_sung_melody(notes, SR, duration_s=seconds)
    cents, missed = kit.examples.draw_take_mistakes(len(notes), seed=0)
    delay_s = 0.3
    take = kit.examples.make_sung_take(notes, SR, cents_off=cents, missed=missed, delay_s=delay_s)
    take = take[:, : reference.shape[1]]
    kit.score_singing(take[:, : 5 * SR], reference[:, : 5 * SR], SR)  # first calls out of the timing
    first_wall, first_cpu, report = best_time(lambda: kit.score_singing(take, reference, SR), 1)
    wall, cpu, _ = best_time(lambda: kit.score_singing(take, reference, SR), 2)  # the reference's track is kept
    truth = ["missed" if i in missed else "in tune" if abs(cents[i]) < 50 else "sharp" if cents[i] > 0 else "flat"
             for i in range(len(notes))]
    verdicts = [n["verdict"] for n in report["notes"]]
    if len(verdicts) != len(truth):
        print(f"  scoring: the melody found has {len(verdicts)} notes, the true one {len(truth)}")
        return
    detuned = [i for i, t in enumerate(truth) if t in ("flat", "sharp")]
    in_tune = [i for i, t in enumerate(truth) if t == "in tune"]
    right = np.mean([verdicts[i] == truth[i] for i in detuned])
    flagged = np.mean([verdicts[i] != "in tune" for i in in_tune])
    missed_right = np.mean([verdicts[i] == "missed" for i in missed]) if missed else 1.0
    print(f"Scoring a {seconds:g} s take against a {seconds:g} s reference vocal (44.1 kHz, {len(notes)} notes)")
    print(f"  first take: {first_wall:.2f} s wall, {first_cpu:.2f} CPU seconds (target < 5 s on 2 cores)")
    print(f"  next takes of the same song (reference pitch kept): {wall:.2f} s wall, {cpu:.2f} CPU seconds")
    print(f"  detuned notes (>= 60 cents) flagged with the right direction: {100 * right:.1f} % (target >= 90 %)")
    print(f"  in-tune notes flagged: {100 * flagged:.1f} % (target <= 10 %); missed notes found: "
          f"{100 * missed_right:.0f} %")
    print(f"  latency: {1000 * report['delay_s']:.1f} ms found, {1000 * delay_s:.0f} ms true "
          f"(error {1000 * abs(report['delay_s'] - delay_s):.1f} ms, target <= 20 ms); score {report['score']}/100")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="length for fast and scoring (default: %(default)s)")
    ap.add_argument("--pyin-seconds", type=float, default=20.0, help="length for pyin (default: %(default)s)")
    args = ap.parse_args()
    bench_trackers(args.seconds, args.pyin_seconds)
    bench_scoring(args.seconds)


if __name__ == "__main__":
    main()
