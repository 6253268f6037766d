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
``KIT_JOBS_DIR``, else ``kit-jobs`` in the system's temporary folder. Its
``served.log`` lists the tickets in the order they got a slot (a ticket's name
starts with its arrival time), so anyone can check that the queue was fair.

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

__all__ = ["job_slot", "default_slots", "JobCancelled", "queue_position", "SlotTicket", "wait_for_turn",
           "await_turn"]


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


class SlotTicket:
    """A place in the machine's queue of separations; :meth:`try_take` takes a slot when its turn comes.

    :func:`job_slot` waits with one; an app that must keep handling clicks while it
    waits (a Jupyter kernel: the visitor may press Cancel) holds one itself and looks
    again now and then (:func:`await_turn`).

    Parameters are those of :func:`job_slot`.

    Attributes
    ----------
    ahead : int or None
        Live tickets ahead of this one when it last looked (None before the first look).
    slot : int or None
        The slot held (0 .. slots-1), once taken.
    """

    def __init__(self, *, slots: int | None = None, device: str = "cpu", lock_dir=None):
        self.slots = slots or default_slots(device)
        self.folder = _lock_dir(lock_dir)
        self.path = self.folder / "queue" / f"{time.time_ns():020d}-{os.getpid()}"
        # locked under a hidden name, then renamed: no one sees an unlocked ticket and takes it for a dead one
        hidden = self.path.with_name("." + self.path.name)
        self._ticket_lock = _try_lock(hidden)
        hidden.rename(self.path)
        self._held = None
        self.ahead = self.slot = None

    def try_take(self) -> bool:
        """Take a free slot if no one who came earlier is waiting; True once a slot is held."""
        if self._held is not None:
            return True
        if self._ticket_lock is None:
            raise RuntimeError("this ticket was released")
        self.ahead = queue_position(self.path)
        if self.ahead == 0:  # first in line: take any free slot
            for i in range(self.slots):
                held = _try_lock(self.folder / f"slot-{i}")
                if held is not None:
                    self._held, self.slot = held, i
                    _log_served(self.folder, self.path.name, i)
                    self._leave_queue()
                    return True
        return False

    def release(self) -> None:
        """Leave the queue, or free the slot held; safe to call twice."""
        self._leave_queue()
        if self._held is not None:
            self._held.close()
            self._held = None

    def _leave_queue(self) -> None:
        if self._ticket_lock is not None:
            self.path.unlink(missing_ok=True)
            self._ticket_lock.close()
            self._ticket_lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _log_served(folder: Path, ticket: str, slot: int) -> None:
    """Append who got a slot, in the order served, to ``served.log`` (one line each: ticket, slot).

    Ticket names start with the arrival time, so the log shows whether the queue was fair;
    it is kept under 1 MB (the older half moves to ``served.log.1``).
    """
    log = folder / "served.log"
    try:
        if log.exists() and log.stat().st_size > 1_000_000:
            os.replace(log, folder / "served.log.1")
        with open(log, "a") as f:  # one short write in append mode: lines of several processes never mix
            f.write(f"{ticket} {slot}\n")
    except OSError:  # a log only; the slot is taken all the same
        pass


def _look(ticket: SlotTicket, on_wait, cancelled, last):
    """One look at the queue while waiting: True once a slot is held, else the number of jobs ahead."""
    if cancelled is not None and cancelled():  # before looking: a slot free just now is not taken
        ticket.release()
        raise JobCancelled("Cancelled while waiting for a free slot; nothing was separated.")
    if ticket.try_take():
        return True
    if on_wait is not None and ticket.ahead != last:
        on_wait(ticket.ahead)
    return ticket.ahead


def wait_for_turn(ticket: SlotTicket, *, on_wait=None, cancelled=None, poll_s: float = 0.25) -> int:
    """Wait (sleeping) until ``ticket`` holds a slot; return the slot. Arguments as :func:`job_slot`."""
    last = None
    while (last := _look(ticket, on_wait, cancelled, last)) is not True:
        time.sleep(poll_s)
    return ticket.slot


async def await_turn(ticket: SlotTicket, *, on_wait=None, cancelled=None, poll_s: float = 0.25) -> int:
    """As :func:`wait_for_turn`, awaiting between looks: the event loop (a Jupyter kernel) goes on
    handling clicks, such as the one that cancels."""
    import asyncio

    last = None
    while (last := _look(ticket, on_wait, cancelled, last)) is not True:
        await asyncio.sleep(poll_s)
    return ticket.slot


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
    with SlotTicket(slots=slots, device=device, lock_dir=lock_dir) as ticket:
        yield wait_for_turn(ticket, on_wait=on_wait, cancelled=cancelled, poll_s=poll_s)
