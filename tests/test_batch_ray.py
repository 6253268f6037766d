"""`kit batch --ray` on a real two-node Ray cluster started on this machine (loopback), no mock.

The head node and a second node (`ray start --address`) have one CPU each, so the
batch runs on two workers, one per node. One worker process is killed (SIGKILL)
while it separates a song: the batch must still finish every good song, and say
that one song took a second try. Both nodes are stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_kit

import kit

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'kit[cluster]'")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(args, env, tries=3):
    """`ray start ARGS`, tried again when a node fails to come up.

    A raylet gives its agents a fixed 15 s to report their ports and exits otherwise
    (ray-project/ray#65983); a busy 2-core machine sometimes takes longer to start them.
    """
    for _attempt in range(tries):
        proc = subprocess.run([RAY, "start", *args], env=env, capture_output=True, text=True, timeout=240)
        if proc.returncode == 0:
            return
    pytest.fail(f"ray start {' '.join(args)} failed {tries} times:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """HOST:PORT of a head node and a worker node on loopback, 1 CPU each; stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0",
           "KIT_CACHE_DIR": str(tmp_path_factory.mktemp("ray_cache"))}
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    address = f"127.0.0.1:{port}"
    try:
        _ray_start(["--head", f"--port={port}", "--include-dashboard=false", *common], env)
        _ray_start([f"--address={address}", *common], env)
        yield address, env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """Four 12 s songs (the bundled clip, shifted, so no two have the same bytes) and one bad file."""
    folder = tmp_path_factory.mktemp("ray_songs")
    y, sr = kit.examples.load_song()
    for i in range(4):
        kit.save(folder / f"song {i}.wav", np.roll(y, i * 4410, axis=1), sr)
    (folder / "broken.mp3").write_text("not audio")
    return folder


def _kill_first_worker_that_separates(stop: threading.Event, killed: list) -> None:
    """SIGKILL the first process Ray titles `ray::SongWorker.run` (a worker busy with a song)."""
    while not stop.is_set() and not killed:
        out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.startswith("ray::SongWorker.run"):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        stop.wait(0.2)


def test_batch_on_two_ray_nodes_survives_a_killed_worker(cluster, songs, tmp_path):
    address, env = cluster
    nodes = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address='{address}', "
                            "logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert nodes.stdout.strip().splitlines()[-1] == "2", nodes.stderr  # really two nodes

    out = tmp_path / "out"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first_worker_that_separates, args=(stop, killed))
    killer.start()
    try:
        proc = run_kit("batch", songs, "--model", "unet", "--out", out, "--ray", address, "--no-cache",
                       cwd=tmp_path, env=env)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen separating"
    assert proc.returncode == 1, proc.stderr  # the broken file
    assert "Traceback" not in proc.stderr
    report = json.loads((out / "batch_report.json").read_text())
    assert report["done"] == 4 and report["failed"] == 1, report["songs"]["failed"]
    assert [e["song"].split("/")[-1] for e in report["songs"]["failed"]] == ["broken.mp3"]
    assert "not an audio file" in report["songs"]["failed"][0]["reason"]
    # the song whose worker was killed (a good one, or the broken file) was tried a second time
    entries = report["songs"]["done"] + report["songs"]["failed"]
    assert sum(e["tries"] for e in entries) == len(entries) + 1, entries
    assert report["engine"].startswith("Ray cluster")

    # the stems equal a separation on this machine
    here = kit.batch([songs / "song 1.wav"], model="unet", out_dir=tmp_path / "here", cache=False)
    assert here["done"] == 1
    for stem in ("vocals", "accompaniment"):
        a, _ = kit.load(out / "song 1" / f"{stem}.wav")
        b, _ = kit.load(tmp_path / "here" / "song 1" / f"{stem}.wav")
        np.testing.assert_allclose(a, b, atol=1e-4)

    # a second run on the cluster separates nothing
    again = run_kit("batch", songs, "--model", "unet", "--out", out, "--ray", address, cwd=tmp_path, env=env)
    assert "(4 already done before)" in again.stderr, again.stderr
    shutil.rmtree(out)
