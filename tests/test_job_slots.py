"""Machine-wide separation slots (kit.job_slots), with real processes: limit, order, dead holders, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.job_slots import JobCancelled, job_slot

REPO = Path(__file__).resolve().parents[1]
WORKER = """
import json, sys, time
from pathlib import Path
from kit.job_slots import job_slot
lock_dir, slots, hold_s, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
waits = []
with job_slot(slots=slots, lock_dir=lock_dir, on_wait=waits.append, poll_s=0.05):
    start = time.time()
    release = Path(lock_dir).parent / "release"
    while time.time() < start + hold_s and not (hold_s > 100 and release.exists()):
        time.sleep(0.02)
    end = time.time()
with open(log, "a") as f:
    f.write(json.dumps({"name": sys.argv[5], "start": start, "end": end, "waits": waits}) + "\\n")
"""


def _start(tmp_path, name, slots, hold_s):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "locks"), str(slots), str(hold_s),
                             str(tmp_path / "log.jsonl"), name], env=env)


def _tickets(tmp_path):
    folder = tmp_path / "locks" / "queue"
    return [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []


def _wait_for(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _runs(tmp_path):
    return [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("slots", [1, 2])
def test_never_more_than_k_at_once_and_served_in_arrival_order(tmp_path, slots):
    # one process holds every slot while the others queue up, one after another
    holders = [_start(tmp_path, f"holder{i}", slots, 600) for i in range(slots)]  # until released
    _wait_for(lambda: len(list((tmp_path / "locks").glob("slot-*"))) == slots)
    waiters = []
    for i in range(4):
        waiters.append(_start(tmp_path, f"w{i}", slots, 0.3))
        _wait_for(lambda n=i + 1: len(_tickets(tmp_path)) == n)  # arrived, in this order
    (tmp_path / "release").touch()
    for p in holders + waiters:
        assert p.wait(timeout=120) == 0
    runs = _runs(tmp_path)
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == slots
    waiters_by_start = [r["name"] for r in sorted(runs, key=lambda r: r["start"]) if r["name"].startswith("w")]
    assert waiters_by_start == ["w0", "w1", "w2", "w3"]
    # the log of who was served, in order, says the same: tickets (named by arrival time) in order
    served = [line.split()[0] for line in (tmp_path / "locks" / "served.log").read_text().splitlines()]
    assert len(served) == slots + 4 and served == sorted(served)
    # each waiter was told how many were ahead of it when it arrived (w3: three others waiting)
    first_wait = {r["name"]: r["waits"][0] for r in runs if r["waits"]}
    assert first_wait["w3"] == 3 and first_wait["w0"] == 0


def test_a_killed_holder_frees_its_slot(tmp_path):
    holder = _start(tmp_path, "holder", 1, 600)
    _wait_for(lambda: (tmp_path / "locks" / "slot-0").exists())
    waiter = _start(tmp_path, "next", 1, 0.0)
    _wait_for(lambda: len(_tickets(tmp_path)) == 1)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert waiter.wait(timeout=60) == 0
    assert [r["name"] for r in _runs(tmp_path)] == ["next"]
    assert _tickets(tmp_path) == []


def test_cancel_while_waiting_leaves_the_queue(tmp_path):
    holder = _start(tmp_path, "holder", 1, 600)
    _wait_for(lambda: (tmp_path / "locks" / "slot-0").exists())
    told = []
    try:
        with pytest.raises(JobCancelled, match="Cancelled while waiting"):
            with job_slot(slots=1, lock_dir=tmp_path / "locks", on_wait=told.append,
                          cancelled=lambda: len(told) > 0, poll_s=0.05):
                pytest.fail("got a slot that another process holds")
        assert told == [0] and _tickets(tmp_path) == []
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with job_slot(slots=1, lock_dir=tmp_path / "locks") as slot:  # free again
        assert slot == 0


def _app_behind_another_visitor(tmp_path, monkeypatch):
    """An app with one separation slot, held by another kernel separating a long song (until
    ``tmp_path / "release"`` appears); returns the app, the list of its status texts, the other process."""
    from kit.ui import karaoke_maker

    monkeypatch.setenv("KIT_JOBS_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("KIT_MAX_JOBS", "1")
    holder = _start(tmp_path, "other visitor", 1, 600)  # another kernel separating a long song
    _wait_for(lambda: (tmp_path / "locks" / "slot-0").exists())
    app = karaoke_maker(model="center", device="cpu", workdir=tmp_path)
    seen = []
    app.status.observe(lambda change: seen.append(change["new"]), names="value")
    return app, seen, holder


def test_the_app_waits_its_turn_and_says_how_many_are_ahead(tmp_path, monkeypatch):
    """Two visitors' kernels on one server: the second separation waits for the first's slot."""
    import threading

    app, seen, holder = _app_behind_another_visitor(tmp_path, monkeypatch)
    clicked = threading.Thread(target=app.whole_button.click)
    clicked.start()
    try:
        _wait_for(lambda: any("you are next" in s for s in seen))
        assert app.mixer is None  # nothing separated while waiting
    finally:
        (tmp_path / "release").touch()
    clicked.join(timeout=120)
    assert holder.wait(timeout=60) == 0
    assert "Separated the whole song" in app.status.value, app.status.value
    waits = [s for s in seen if s.startswith("Waiting")]
    assert waits == ["Waiting for a free place to separate the whole song: you are next. Many people are using "
                     "this app; it starts by itself."]


def test_a_visitor_who_waits_can_cancel_and_the_kernel_hears_it(tmp_path, monkeypatch):
    """In a kernel the wait runs on the event loop: the click handler returns, so Cancel is heard.

    The event loop here stands in for the kernel's: a click on a button is a call made from it.
    """
    import asyncio

    app, seen, holder = _app_behind_another_visitor(tmp_path, monkeypatch)

    async def until(condition, timeout_s=60.0):
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    async def visit():
        app.whole_button.click()  # returns at once: the wait goes on in the event loop
        assert app.whole_button.disabled and app.preview_button.disabled
        await until(lambda: any("you are next" in s for s in seen))
        assert app.cancel_button in app.busy.children and len(_tickets(tmp_path)) == 1
        app.cancel_button.click()
        await until(lambda: not app.whole_button.disabled)

    try:
        asyncio.run(visit())
        assert app.status.value == "Cancelled while waiting; nothing was separated."
        assert app.mixer is None and app.stems is None and app.error.layout.display == "none"
        assert app.busy.children == () and not app.preview_button.disabled and not app.model.disabled
        assert _tickets(tmp_path) == []  # left the queue
        assert holder.poll() is None  # the other visitor's slot was never touched
        served = (tmp_path / "locks" / "served.log").read_text().splitlines()
        assert len(served) == 1  # only the other visitor was ever served

        async def wait_then_separate():  # pressed again, it waits, and separates when its turn comes
            app.whole_button.click()
            await until(lambda: app.cancel_button in app.busy.children)
            (tmp_path / "release").touch()
            await until(lambda: not app.whole_button.disabled, timeout_s=120)

        asyncio.run(wait_then_separate())
    finally:
        (tmp_path / "release").touch()
        assert holder.wait(timeout=60) == 0
    assert "Separated the whole song" in app.status.value, app.status.value
    assert app.mixer is not None and _tickets(tmp_path) == []
