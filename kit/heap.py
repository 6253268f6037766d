"""Keep freed memory in the process while a network runs (glibc's malloc, Linux).

A Demucs segment on the CPU makes and drops tensors of 30-70 MB dozens of times.
glibc serves an allocation over its mmap threshold (at most 32 MiB) with fresh
pages of its own from the kernel and unmaps them on ``free``, so each such tensor
is paid for again in page faults and zeroing: 50 ms for a 66 MB tensor in a cloud
VM, where a buffer already in the heap takes 5 ms. :func:`reuse_freed_memory`
tells malloc to serve large allocations from its heap and keep what is freed
there, for as long as the block runs, then hands the free memory back to the
system (``malloc_trim``). Measured in CONTRIBUTING ("Demucs on the CPU";
``benchmarks/bench_demucs_cpu.py --no-heap-reuse``): 1.14x per Demucs segment,
1.11x on a 3-minute song with one thread.

Afterwards malloc keeps glibc's usual settings (at the top of its own dynamic
range); free chunks the block left in the heap can still serve later large
allocations of the process, as freed small ones always do.

Elsewhere (macOS, Windows, musl) it does nothing: those allocators keep their own
caches, and the lever is glibc's.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading

__all__ = ["reuse_freed_memory", "available"]

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

_KEEP_ALL = 2**31 - 1  # mallopt takes an int: trim nothing below 2 GiB of free top
# Afterwards: the values glibc's own dynamic threshold climbs to on 64-bit (and its
# default count of mappings), so the rest of the process keeps reusing up to 32 MiB.
_AFTER_MMAP_THRESHOLD = 32 * 2**20
_AFTER_TRIM_THRESHOLD = 2 * _AFTER_MMAP_THRESHOLD
_AFTER_MMAP_MAX = 65536

_lock = threading.Lock()
_depth = 0  # nested or concurrent blocks: the settings are restored when the last one ends


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


_LIBC = _glibc()


def available() -> bool:
    """Whether this process's allocator is glibc's, where the lever applies."""
    return _LIBC is not None


@contextlib.contextmanager
def reuse_freed_memory():
    """Serve large allocations from memory freed earlier in the block, not fresh pages.

    Leaves the process with glibc's usual settings (at the top of its dynamic
    range) and returns the free memory to the system when the last block ends,
    so a kernel that separated one song does not keep the peak.

    Examples
    --------
    >>> from kit.heap import reuse_freed_memory
    >>> with reuse_freed_memory():
    ...     pass
    """
    global _depth
    if _LIBC is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _LIBC.mallopt(_M_MMAP_MAX, 0)
            _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_ALL)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _LIBC.mallopt(_M_MMAP_MAX, _AFTER_MMAP_MAX)
                _LIBC.mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP_THRESHOLD)
                _LIBC.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
                _LIBC.malloc_trim(0)
