"""`kit batch`: songs per minute on this machine vs on a two-node Ray cluster started here, and Ray's overhead.

Usage: python benchmarks/bench_batch.py [--songs 4] [--minutes 1.0]

Makes N synthetic songs of the given length, then separates them with `unet`, without
the stem cache: (1) embedded, `kit.batch(...)` in this process, one song after another
with torch on every core; (2) on a Ray cluster of two nodes on loopback (`ray start
--head` + `ray start --address`), each node one worker of cores/2 threads (the default
worker shape). Both runs happen in this process, one after the other, so they see the
same machine. Prints songs/minute for each, their ratio, and Ray's overhead per song:
the cluster's wall time minus the sum of the workers' own song times, per song.

On a 2-core machine the two Ray workers share the cores that the embedded run had to
itself, so the ratio shows the cost of the cluster, not a speed-up; the speed-up of a
real cluster is its number of nodes times this ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kit

RAY = str(Path(sys.executable).with_name("ray"))


def make_songs(folder: Path, n: int, minutes: float) -> list[Path]:
    songs = []
    for i in range(n):
        mix, _ = kit.examples.make_multitrack(60.0 * minutes, seed=i)
        songs.append(kit.save(folder / f"song{i}.wav", mix, 44100))
    return songs


def start_cluster(cpus_per_node: int) -> tuple[str, dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "KIT_RAY_CPUS": str(cpus_per_node),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    common = [f"--num-cpus={cpus_per_node}", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", *common], env=env,
                   check=True, capture_output=True)
    subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", *common], env=env, check=True,
                   capture_output=True)
    return f"127.0.0.1:{port}", env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=1.0)
    args = ap.parse_args()
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        songs = make_songs(tmp, args.songs, args.minutes)
        t0 = time.perf_counter()
        here = kit.batch(songs, model="unet", out_dir=tmp / "here", cache=False, device="cpu")
        embedded_s = time.perf_counter() - t0
        address, env = start_cluster(max(1, cores // 2))
        os.environ.update(env)
        try:
            t0 = time.perf_counter()
            on_ray = kit.batch(songs, model="unet", out_dir=tmp / "ray", cache=False, device="cpu", ray=address)
            ray_s = time.perf_counter() - t0
        finally:
            import ray

            ray.shutdown()
            subprocess.run([RAY, "stop", "--force"], capture_output=True)
    assert here["done"] == on_ray["done"] == args.songs, (here, on_ray)
    work_s = sum(e["seconds"] for e in on_ray["songs"]["done"])
    workers = 2
    overhead = (ray_s - work_s / workers) / args.songs
    per_song_here = embedded_s / args.songs
    print(f"{args.songs} songs of {args.minutes:g} min, unet, {cores} cores")
    print(f"embedded : {embedded_s:6.1f} s  {60 * args.songs / embedded_s:5.2f} songs/min")
    print(f"ray 2 nodes: {ray_s:6.1f} s  {60 * args.songs / ray_s:5.2f} songs/min "
          f"(workers' own time {work_s:.1f} s)")
    print(f"ratio ray/embedded songs per minute: {embedded_s / ray_s:.2f}x")
    print(f"Ray overhead per song: {overhead:.2f} s = {100 * overhead / per_song_here:.1f}% of an embedded song "
          "(goal <= 10% for songs of 1 minute or longer)")


if __name__ == "__main__":
    main()
