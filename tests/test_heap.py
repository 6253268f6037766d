"""kit.heap: large allocations reuse freed memory inside the block, and the memory goes back after.

Each check runs in a fresh Python process, because malloc's settings belong to the
whole process. Two things are observed: the bytes glibc holds in separate
mappings (``mallinfo2().hblkhd``: a large buffer served with fresh pages of its own)
and page faults (``ru_minflt``: pages the kernel had to hand over); the resident
size shows whether memory went back. The buffers are torch tensors, as in the
networks (numpy asks for huge pages, which fault 512 times less often).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kit import heap

pytestmark = pytest.mark.skipif(not heap.available(), reason="the lever is glibc's (Linux)")

_PROBE = """
import ctypes, json, resource
import torch
from kit.heap import reuse_freed_memory

MB = 2**20
PAGES = 64 * MB // 4096

class _Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]

_libc = ctypes.CDLL(None)
_libc.mallinfo2.restype = _Info

def mapped_mb():
    return _libc.mallinfo2().hblkhd / MB

def faults_of(n_rounds, size=64 * MB):
    # allocate, touch and free a tensor-sized buffer, as a network layer does
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n_rounds):
        a = torch.empty(size, dtype=torch.uint8)
        a.fill_(1)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def mapped_while_holding(n, size=64 * MB):
    # n buffers alive at once: more than any free memory left from earlier rounds
    before = mapped_mb()
    held = [torch.ones(size, dtype=torch.uint8) for _ in range(n)]
    grew = mapped_mb() - before
    del held
    return grew

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / MB
"""


def _run(body: str) -> dict:
    code = _PROBE + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_large_buffers_take_fresh_pages_outside_the_block_and_reuse_memory_inside():
    got = _run("""
        plain_mapped = mapped_while_holding(2)
        plain_faults = faults_of(6)
        with reuse_freed_memory():
            mapped = mapped_while_holding(4)
            faults_of(3)                      # malloc settles on where the buffer goes
            reused_faults = faults_of(6)
        print(json.dumps({"plain_mapped": plain_mapped, "plain_faults": plain_faults, "mapped": mapped,
                          "reused_faults": reused_faults, "pages": PAGES}))
    """)
    assert got["plain_mapped"] >= 128, got  # each large buffer mapped on its own
    assert got["plain_faults"] > 5 * got["pages"], got  # and every round faulted its pages in again
    assert got["mapped"] == 0, got
    assert got["reused_faults"] < got["pages"] // 4, got


def test_free_memory_goes_back_to_the_system_after_the_block():
    got = _run("""
        start = rss_mb()
        with reuse_freed_memory():
            bufs = [torch.ones(50 * MB, dtype=torch.uint8) for _ in range(6)]   # a 300 MB peak
            peak = rss_mb()
            del bufs
            held = rss_mb()
        print(json.dumps({"start": start, "peak": peak, "held": held, "end": rss_mb()}))
    """)
    assert got["peak"] - got["start"] > 250, got
    assert got["held"] - got["start"] > 250, got  # kept for reuse while the block runs
    assert got["end"] - got["start"] < 30, got


def test_nested_blocks_keep_the_setting_until_the_outer_one_ends():
    got = _run("""
        with reuse_freed_memory():
            with reuse_freed_memory():
                faults_of(1)
            inside_outer = mapped_while_holding(4)
        after = mapped_while_holding(6)
        print(json.dumps({"inside_outer": inside_outer, "after": after}))
    """)
    assert got["inside_outer"] == 0, got
    assert got["after"] >= 64, got  # the usual settings are back: a large buffer is mapped again
