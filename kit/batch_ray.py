"""``kit batch --ray``: the same songs, on a Ray cluster.

Ray (an optional extra: ``pip install "kit[cluster]"``) is imported only here,
only when asked. Each worker is a Ray actor that loads the model once and then
takes songs one at a time from the driver, which hands the next song to
whichever worker is free: one worker per GPU on GPU nodes, otherwise one per
``KIT_RAY_CPUS`` cores (default 2) on each node. The workers read the songs and
write the stems at the same paths the driver names, so the input and ``--out``
folders must be on a disk every node sees.

A worker that dies (killed, out of memory) is replaced by a new one; the song it
held is tried once more on whichever worker is free, as on one machine.
"""

from __future__ import annotations

import logging
import os
import time

from .batch import BatchJob, BatchState, describe_failure, record, run_song
from .errors import OptionError
from .progress import Progress, report

__all__ = ["run_on_ray", "import_ray", "connect"]

INSTALL_HINT = "pip install 'kit[cluster]' (or pip install ray)"


def import_ray():
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise OptionError(f"--ray needs Ray, which is not installed here; install it with {INSTALL_HINT}, "
                          "or leave out --ray to run on this machine.") from None
    return ray


def connect(address: str):
    """Join the Ray cluster at ``address`` (``auto``: the one this machine belongs to)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    where = "running on this machine" if address == "auto" else f"answers at '{address}'"
    hint = ("start one with `ray start --head` (and `ray start --address HEAD:6379` on each other node), "
            "or leave out --ray.")
    if address != "auto" and not _answers(address):  # ray.init would keep retrying for minutes
        raise OptionError(f"No Ray cluster {where}; {hint}")
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError):
        raise OptionError(f"No Ray cluster {where}; {hint}") from None
    return ray


def _answers(address: str, *, timeout_s: float = 5.0) -> bool:
    """Whether something listens at ``HOST:PORT`` (a ``ray://`` client address is left to Ray)."""
    import socket

    if "://" in address:
        return True
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


class SongWorker:
    """A Ray actor: the model, loaded once, and the songs it is handed."""

    def __init__(self, job: BatchJob, threads: int):
        import torch

        from .separators.registry import get_separator

        # Ray gives the worker `threads` cores; torch would otherwise take every core of the node
        torch.set_num_threads(max(1, int(threads)))
        self.separator = get_separator(job.model, device=job.device, **job.options)

    def pid(self) -> int:
        return os.getpid()

    def run(self, song: str, song_dir: str, job: BatchJob) -> dict:
        t0 = time.perf_counter()
        try:
            run_song(self.separator, song, song_dir, job)
        except Exception as exc:  # noqa: BLE001 - sent back to the driver, which decides
            reason, transient = describe_failure(exc)
            return {"ok": False, "reason": reason, "transient": transient}
        return {"ok": True, "seconds": round(time.perf_counter() - t0, 2)}


def _worker_shape(ray, job: BatchJob) -> tuple[int, dict]:
    """How many workers, and the resources each asks Ray for."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    gpus = sum(n["Resources"].get("GPU", 0) for n in alive)
    if gpus >= 1 and job.device in ("auto", "cuda"):
        return int(gpus), {"num_gpus": 1, "num_cpus": 1}
    per = max(1, int(os.environ.get("KIT_RAY_CPUS", "2")))
    cpus = [int(n["Resources"].get("CPU", 0)) for n in alive]
    per = max(1, min([per, *[c for c in cpus if c > 0]]))
    return max(1, sum(c // per for c in cpus)), {"num_cpus": per}


def run_on_ray(todo, job: BatchJob, state: BatchState, *, address: str, retries: int = 1,
               progress: Progress = None, on_song=None) -> None:
    """Run ``todo`` (pairs of song and folder) on the cluster, recording each outcome in ``state``."""
    ray = connect(address)
    n_workers, resources = _worker_shape(ray, job)
    n_workers = max(1, min(n_workers, len(todo)))
    # a worker that dies is replaced by a new one here (not restarted by Ray: a call to an actor
    # that is restarting fails at once, which would use up the song's second try)
    actor = ray.remote(max_restarts=0, max_task_retries=0, **resources)(SongWorker)
    threads = resources.get("num_cpus", 1)
    workers = [actor.remote(job, threads) for _ in range(n_workers)] if todo else []
    queue = [(str(song), str(song_dir), 0) for song, song_dir in todo]
    pending: dict = {}  # object ref -> (worker, song, song_dir, tries, started)
    n = max(1, state.total)
    finished = len(state.skipped)
    report(progress, finished / n)
    free = list(workers)
    try:
        while queue or pending:
            while queue and free:
                song, song_dir, tries = queue.pop(0)
                worker = free.pop(0)
                ref = worker.run.remote(song, song_dir, job)
                pending[ref] = (worker, song, song_dir, tries + 1, time.perf_counter())
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            worker, song, song_dir, tries, t0 = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died with the song: killed, out of memory
                result = {"ok": False, "transient": True,
                          "reason": f"the worker stopped ({type(exc).__name__}); killed or out of memory?"}
                ray.kill(worker, no_restart=True)
                workers.remove(worker)
                worker = actor.remote(job, threads)  # a fresh one loads the model and takes the next song
                workers.append(worker)
            free.append(worker)
            if result["ok"]:
                record(state, "done", {"song": song, "out": song_dir, "tries": tries,
                                       "seconds": result["seconds"]}, on_song)
            elif result["transient"] and tries <= retries:
                queue.append((song, song_dir, tries))
                continue
            else:
                record(state, "failed", {"song": song, "reason": result["reason"], "tries": tries}, on_song)
            finished += 1
            report(progress, finished / n)
    finally:
        for worker in workers:
            ray.kill(worker)
