"""kit.automix on a whole song: seconds per mixing step, x-realtime, against a reference run alongside.

A 3-minute synthetic song (kit.examples.make_multitrack, 120 BPM; 30 s made and
repeated, since synthesising 3 minutes takes longer than mixing them) gives a
backing track (drums + bass + pad) and the true vocal stem. The "take" is that
vocal 120 ms late, 10 dB quieter, 18 dB softer every other 8 s (so the compressor
has work to do), with a little room noise; the true stem is the reference vocal for
the timing step. First the whole ``kit.automix`` call is timed (the first call in
the process: it includes importing librosa and the reverb's once-per-session
calibration), then a second call (a singer's next take), then each public step
of :mod:`kit.automix`, in automix's order.

References, measured in the same run on the same machine:

* always: pyloudnorm's own BS.1770 meter on the 3-minute stereo mix; "automix = N
  meters" is how many full-length loudness measurements the whole mix costs, a
  number that changes little with how busy the machine is;
* with ``--against REV`` (e.g. ``--against 9b04178``, the code before the speed-up):
  the same benchmark on ``kit/`` as it was at that git revision, in a subprocess,
  and the ratio per step. The two mixes' reports are compared too.

Run: .venv/bin/python benchmarks/bench_automix.py [--minutes 3] [--against REV]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _make_song(seconds: float, sr: int):
    import numpy as np

    import kit

    _, stems = kit.examples.make_multitrack(min(seconds, 30.0), sr, tempo_bpm=120.0)
    reps, n = int(np.ceil(seconds / 30.0)), int(round(seconds * sr))
    backing = np.tile(stems["drums"] + stems["bass"] + stems["other"], reps)[:, :n].astype(np.float32)
    reference = np.tile(stems["vocals"], reps)[:, :n]
    take = np.pad(reference[:1] * np.float32(10 ** (-10 / 20)), ((0, 0), (int(0.120 * sr), 0)))[:, :n]
    soft = (np.arange(n) // (8 * sr)) % 2 == 0
    take = take * np.where(soft, 0.12, 1.0).astype(np.float32)
    noise = np.random.default_rng(0).standard_normal(take.shape).astype(np.float32) * np.float32(3e-4)
    return (take + noise).astype(np.float32), backing, reference


def measure(seconds: float) -> dict:
    """Time kit.automix and its steps on the song; returns seconds and the report."""
    import numpy as np
    import pyloudnorm

    import kit
    from kit.loudness import measure_loudness

    am = importlib.import_module("kit.automix")  # `kit.automix` itself is the function
    warnings.simplefilter("ignore", kit.KitWarning)
    sr = 44100
    take, backing, reference = _make_song(seconds, sr)
    mix_in = np.asarray((backing + take).T, dtype=np.float64)
    meter = min(_timed(pyloudnorm.Meter(sr).integrated_loudness, mix_in)[1] for _ in range(2))
    kit_meter = min(_timed(measure_loudness, backing + take, sr)[1] for _ in range(2))

    (_, rep), total = _timed(kit.automix, take, backing, sr, reference_vocal=reference)
    _, again = _timed(kit.automix, take, backing, sr, reference_vocal=reference)  # the singer's next take

    steps: dict[str, float] = {}
    v = take
    (v, _), steps["alignment"] = _timed(am.align_vocal, v, reference, sr, against="the original vocal")
    v = np.ascontiguousarray(np.broadcast_to(v, backing.shape), dtype=np.float32)
    t0 = time.perf_counter()
    v, _ = am.apply_noise_gate(v, sr)
    b_gated, _ = am.apply_noise_gate(backing, sr, what="the backing (for analysis only)")
    steps["noise gate"] = time.perf_counter() - t0
    (v, _), steps["level"] = _timed(am.balance_levels, v, backing, sr)
    (v, _), steps["compression"] = _timed(am.compress_vocal, v, sr)
    (v, _), steps["eq"] = _timed(am.unmask_vocal, v, b_gated, sr)
    _, steps["final level check"] = _timed(measure_loudness, v, sr)
    (wet, _), steps["reverb"] = _timed(am.add_reverb, v, backing, sr)
    _, steps["output"] = _timed(am.finish_mix, v, backing, sr, wet=wet)
    return {"seconds": seconds, "total_s": total, "again_s": again, "steps_s": steps, "pyloudnorm_s": meter,
            "kit_meter_s": kit_meter, "report": json.loads(json.dumps(rep))}


def _run_at(rev: str, minutes: float) -> dict:
    """This benchmark on kit/ as it was at git revision ``rev``, in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="bench_automix_") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "kit"],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp}
        out = subprocess.run([sys.executable, __file__, "--minutes", str(minutes), "--json"],
                             capture_output=True, text=True, env=env, cwd=tmp, check=True).stdout
    return json.loads(out)


def _key_numbers(rep: dict) -> dict:
    comp = rep.get("compression", {})
    return {"offset ms": rep["alignment"]["offset_ms"], "level gain dB": rep["level"]["gain_db"],
            "compressor steps": len(comp.get("steps", [])), "threshold dB": comp.get("threshold_db"),
            "LRA after LU": comp.get("lra_after_lu"), "eq filters": [f["freq_hz"] for f in rep["eq"]["filters"]],
            "reverb room": rep["reverb"]["room_size"], "output gain dB": rep["output"]["gain_db"],
            "mix LUFS": rep["output"]["mix_lufs"], "true peak dBTP": rep["output"]["true_peak_dbtp"],
            "voice in mix LU": rep["output"]["vocal_in_mix_lu"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--against", metavar="REV", help="also run the benchmark on kit/ at this git revision")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # used by --against
    args = parser.parse_args()

    now = measure(60.0 * args.minutes)
    if args.json:
        print(json.dumps(now))
        return
    old = _run_at(args.against, args.minutes) if args.against else None
    seconds = now["seconds"]
    print(f"song: {seconds:.0f} s synthetic, 120 BPM, stereo backing; mono take 120 ms late, soft and loud passages")
    print(f"reference: pyloudnorm's BS.1770 meter on the stereo mix {now['pyloudnorm_s']:.2f} s; "
          f"kit.loudness.measure_loudness {now['kit_meter_s']:.2f} s "
          f"({now['pyloudnorm_s'] / now['kit_meter_s']:.1f}x the speed)")
    head = f"\n{'step':20s} {'now':>8s}"
    if old:
        head += f" {args.against:>10s} {'speed-up':>9s}"
    print(head)
    for name, s in now["steps_s"].items():
        line = f"{name:20s} {s:7.2f}s"
        if old:
            o = old["steps_s"][name]
            line += f" {o:9.2f}s {o / s:8.1f}x"
        print(line)
    line = f"{'kit.automix (first)':20s} {now['total_s']:7.2f}s"
    if old:
        line += f" {old['total_s']:9.2f}s {old['total_s'] / now['total_s']:8.1f}x"
    print(line)
    line = f"{'kit.automix (again)':20s} {now['again_s']:7.2f}s"
    if old:
        line += f" {old['again_s']:9.2f}s {old['again_s'] / now['again_s']:8.1f}x"
    print(line)
    print(f"\nkit.automix on {seconds:.0f} s: {now['total_s']:.1f} s = {seconds / now['total_s']:.1f}x realtime "
          f"= {now['total_s'] / now['pyloudnorm_s']:.1f} pyloudnorm meters")
    if old:
        print(f"at {args.against}: {old['total_s']:.1f} s = {seconds / old['total_s']:.1f}x realtime "
              f"= {old['total_s'] / old['pyloudnorm_s']:.1f} pyloudnorm meters")
    print("\nwhat the mix decided" + (f" (now / {args.against})" if old else "") + ":")
    a = _key_numbers(now["report"])
    b = _key_numbers(old["report"]) if old else {}
    for key, value in a.items():
        print(f"  {key:18s} {value}" + (f"   /   {b[key]}" + ("" if b[key] == value else "   <- differs")
                                        if old else ""))


if __name__ == "__main__":
    main()
