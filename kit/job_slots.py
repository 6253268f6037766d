"""At most K separations at once on a machine, across every process: a fair queue of file locks.

A class of 25 opening the karaoke maker on one server starts 25 Voila kernels;
25 separations at once would share the cores 25 ways (each takes 25 times as
long, and the memory adds up). Each separation instead holds a *slot*: one of K
lock files in a folder every kernel sees. A kernel waiting for a slot holds a
*ticket* (a lock file named by the time it arrived), so waiters are served in
the order they came and each can say how many are ahead of it.

The operating system holds the locks (``fcntl.flock``): a kernel that dies,
however it dies, releases its slot and its ticket with it. Nothing needs cleaning.

K comes from the device: 1 per GPU, about half the cores on a CPU (torch uses
two threads per separation well), or ``KIT_MAX_JOBS``. The folder is
``KIT_JOBS_DIR``, else ``kit-jobs`` in the system's temporary folder.

Examples
--------
>>> import tempfile
>>> from kit.job_slots import job_slot
>>> with job_slot(slots=1, lock_dir=tempfile.mkdtemp()) as slot:
...     slot
0

See also
--------
notebooks/09_karaoke_maker.ipynb
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import KitError

__all__ = ["job_slot", "default_slots", "JobCancelled", "queue_position"]


class JobCancelled(KitError):
    """The person waiting for a slot cancelled."""


def default_slots(device: str = "cpu") -> int:
    """How many separations may run at once: ``KIT_MAX_JOBS``, else 1 per GPU, else half the cores."""
    env = os.environ.get("KIT_MAX_JOBS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    if device.startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count())
    if device.startswith("mps"):
        return 1
    return max(1, (os.cpu_count() or 2) // 2)


def _lock_dir(lock_dir=None) -> Path:
    folder = Path(lock_dir or os.environ.get("KIT_JOBS_DIR") or Path(tempfile.gettempdir()) / "kit-jobs")
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    return folder


def _try_lock(path: Path):
    """An open file holding an exclusive lock on ``path``, or None if another process holds it."""
    import fcntl

    f = open(path, "a+")  # noqa: SIM115 - the open file *is* the lock; closed when released
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def queue_position(ticket: Path) -> int:
    """How many live tickets are ahead of ``ticket`` (tickets of dead processes are removed)."""
    ahead = 0
    for other in sorted(p for p in ticket.parent.iterdir() if not p.name.startswith(".")):
        if other.name >= ticket.name:
            break
        held = _try_lock(other)
        if held is None:  # its owner is alive and waiting
            ahead += 1
        else:  # left behind by a process that died: free, so remove it
            other.unlink(missing_ok=True)
            held.close()
    return ahead


@contextmanager
def job_slot(*, slots: int | None = None, device: str = "cpu", lock_dir=None, on_wait=None, cancelled=None,
             poll_s: float = 0.25):
    """Wait for one of the machine's separation slots, in arrival order; yield its number; free it after.

    Parameters
    ----------
    slots : int, optional
        How many may run at once (default :func:`default_slots` for ``device``).
        Every process must use the same number.
    device : str
        The device the job runs on, for the default number of slots.
    lock_dir : str or Path, optional
        Folder shared by every process (default ``KIT_JOBS_DIR`` or the temporary folder).
    on_wait : callable, optional
        Called with the number of jobs ahead (0 = next) whenever it changes while waiting;
        not called when a slot is free at once.
    cancelled : callable, optional
        Returns True when the person waiting gave up: :class:`JobCancelled` is raised.
    poll_s : float
        How often a waiting process looks again, in seconds.

    Yields
    ------
    slot : int
        Which slot this job holds (0 .. slots-1).
    """
    n = slots or default_slots(device)
    folder = _lock_dir(lock_dir)
    ticket = folder / "queue" / f"{time.time_ns():020d}-{os.getpid()}"
    # locked under a hidden name, then renamed: no one sees an unlocked ticket and takes it for a dead one
    hidden = ticket.with_name("." + ticket.name)
    ticket_lock = _try_lock(hidden)
    hidden.rename(ticket)
    held = slot = None
    last = None
    try:
        while held is None:
            ahead = queue_position(ticket)
            if ahead == 0:  # first in line: take any free slot
                for i in range(n):
                    held = _try_lock(folder / f"slot-{i}")
                    if held is not None:
                        slot = i
                        break
            if held is None:
                if cancelled is not None and cancelled():
                    raise JobCancelled("Cancelled while waiting for a free slot; nothing was separated.")
                if on_wait is not None and ahead != last:
                    on_wait(ahead)
                last = ahead
                time.sleep(poll_s)
        ticket.unlink(missing_ok=True)
        ticket_lock.close()
        ticket_lock = None
        yield slot
    finally:
        if ticket_lock is not None:
            ticket.unlink(missing_ok=True)
            ticket_lock.close()
        if held is not None:
            held.close()
