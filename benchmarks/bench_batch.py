"""`kit batch`: songs per minute on this machine vs on a two-node Ray cluster started here, and Ray's overhead.

Usage: python benchmarks/bench_batch.py [--songs 10] [--minutes 1.0]

Makes N synthetic songs of the given length, then separates them with `unet`, without
the stem cache: (1) embedded, `kit.batch(...)` in this process, one song after another
with torch on every core; (2) on a Ray cluster of two nodes on loopback (`ray start
--head` + `ray start --address`), each node one worker of cores/2 threads (the default
worker shape). Both runs happen in this process, one after the other, so they see the
same machine.

Ray's cost comes in two parts, told apart by when each song finishes:

* **start-up**, paid once per batch: joining the cluster, starting the workers, each
  loading the model: the time to the first two songs (one per worker) minus what two
  songs cost once running;
* **per song**: the time between finishes once both workers run (songs 3..N), against
  the embedded run's time between finishes (songs 2..N).

Also printed: the whole batch's overhead per song, start-up included, and the load
average before and after (the machine may be shared: the numbers are only as quiet as it).

On a 2-core machine the two Ray workers share the cores that the embedded run had to
itself (one thread each instead of two for one song), so the ratio shows the cost of the
cluster, not a speed-up; the speed-up of a real cluster is its number of nodes times this ratio.
The nodes run with ``--block`` under this process and are stopped by process id at the end.
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


def start_cluster(cpus_per_node: int) -> tuple[str, dict, list]:
    """A head node and a second node on loopback, each `ray start --block` run by this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # a raylet waits 15 s for its agents to report, and exits otherwise (ray-project/ray#65983): too
    # short on a busy 2-core machine, where most second nodes failed to come up
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "KIT_RAY_CPUS": str(cpus_per_node),
           "RAY_agent_register_timeout_ms": "120000", "RAY_raylet_start_wait_time_s": "180",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    common = [f"--num-cpus={cpus_per_node}", "--node-ip-address=127.0.0.1", "--disable-usage-stats", "--block"]
    address = f"127.0.0.1:{port}"
    nodes = []
    try:
        _start_node(["--head", f"--port={port}", "--include-dashboard=false", *common], address, 1, env, nodes)
        _start_node([f"--address={address}", *common], address, 2, env, nodes)
    except BaseException:
        stop_cluster(nodes)
        raise
    return address, env, nodes


def _start_node(args: list, address: str, n: int, env: dict, nodes: list, tries: int = 3) -> None:
    """Start a node and wait until the cluster has ``n``; again if it exits first.

    A node can still fail to come up on a busy machine; it is started again.
    """
    probe = (f"import ray; ray.init(address='{address}', logging_level='ERROR'); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    for _ in range(tries):
        node = subprocess.Popen([RAY, "start", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        nodes.append(node)
        deadline = time.monotonic() + 180
        while node.poll() is None and time.monotonic() < deadline:
            out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(n)]:
                return
            time.sleep(3.0)
        stop_cluster([node])
        nodes.remove(node)
    raise RuntimeError(f"a Ray node did not come up at {address} in {tries} tries")


def stop_cluster(nodes: list) -> None:
    """Stop the nodes this process started, and every process under them, by process id."""
    import psutil

    procs = []
    for node in nodes:
        try:
            parent = psutil.Process(node.pid)
            procs += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=30)
    for proc in alive:
        proc.kill()


def run_timed(songs, out_dir: Path, **options) -> tuple[float, list[float], dict]:
    """kit.batch with the time each song finished (seconds from the start) and the report."""
    finishes = []
    t0 = time.perf_counter()
    report = kit.batch(songs, model="unet", out_dir=out_dir, cache=False, device="cpu",
                       on_song=lambda kind, entry: finishes.append(time.perf_counter() - t0), **options)
    return time.perf_counter() - t0, finishes, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=1.0)
    args = ap.parse_args()
    if args.songs < 4:
        ap.error("--songs must be 4 or more, to tell the start-up from the cost per song")
    cores = os.cpu_count() or 2
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        songs = make_songs(tmp, args.songs, args.minutes)
        embedded_s, here_done, here = run_timed(songs, tmp / "here")
        print(f"embedded: {embedded_s:.1f} s, songs finished at {[round(t, 1) for t in here_done]} s", flush=True)
        address, env, nodes = start_cluster(max(1, cores // 2))
        os.environ.update(env)
        try:
            ray_s, ray_done, on_ray = run_timed(songs, tmp / "ray", ray=address)
            print(f"ray: {ray_s:.1f} s, songs finished at {[round(t, 1) for t in ray_done]} s", flush=True)
        finally:
            import ray

            ray.shutdown()
            stop_cluster(nodes)
    load_after = os.getloadavg()
    n = args.songs
    assert here["done"] == on_ray["done"] == n, (here, on_ray)
    here_per_song = (here_done[-1] - here_done[0]) / (n - 1)
    ray_per_song = (ray_done[-1] - ray_done[1]) / (n - 2)
    startup_s = ray_done[1] - 2 * ray_per_song
    here_startup_s = here_done[0] - here_per_song
    work_s = sum(e["seconds"] for e in on_ray["songs"]["done"])
    per_song_overhead = ray_per_song - here_per_song
    whole_overhead = (ray_s - embedded_s) / n
    print(f"{n} songs of {args.minutes:g} min, unet, {cores} cores; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)")
    print(f"embedded   : {embedded_s:6.1f} s  {60 * n / embedded_s:5.2f} songs/min; "
          f"{here_per_song:.1f} s per song, start-up {here_startup_s:.1f} s")
    print(f"ray 2 nodes: {ray_s:6.1f} s  {60 * n / ray_s:5.2f} songs/min; {ray_per_song:.1f} s per song "
          f"(workers' own time {work_s:.1f} s in all), start-up {startup_s:.1f} s")
    print(f"ratio ray/embedded songs per minute: {embedded_s / ray_s:.2f}x")
    print(f"Ray per song, once running: {per_song_overhead:+.2f} s = {100 * per_song_overhead / here_per_song:+.1f}% "
          "of an embedded song (goal <= 10% for songs of 1 minute or longer)")
    print(f"Ray start-up, once per batch: {startup_s:.1f} s = {startup_s / here_per_song:.1f} songs' time; "
          f"whole batch: {whole_overhead:+.2f} s per song = {100 * whole_overhead / (embedded_s / n):+.1f}%")


if __name__ == "__main__":
    main()
