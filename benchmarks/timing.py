"""Timing shared by the benchmarks: two or more ways of doing one job, run in turns.

Run from the repository root as ``python benchmarks/bench_*.py``; Python then finds
this module beside the script.
"""

from __future__ import annotations

import time


def time_interleaved(sides: dict, repeats: int, *, width: int = 11) -> tuple[dict, dict]:
    """Run every side ``repeats`` times, reversing the order each round, and print each run.

    Taking turns spreads the load of other processes over all sides alike, and
    reversing the order keeps the first side from always paying for a cold cache.

    Parameters
    ----------
    sides : dict of str to callable
        Label -> a function of no arguments doing the job once.
    repeats : int
        Runs per side.
    width : int
        Width of the label column in the printed lines.

    Returns
    -------
    wall, cpu : dict of str to list of float
        Seconds on the clock, and this process's CPU seconds (all threads), per run.
    """
    wall = {label: [] for label in sides}
    cpu = {label: [] for label in sides}
    order = list(sides.items())
    for i in range(repeats):
        for label, fn in order if i % 2 == 0 else order[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[label].append(time.perf_counter() - t0)
            cpu[label].append(time.process_time() - c0)
            print(f"  run {i + 1} {label:>{width}}: {wall[label][-1]:.2f} s wall, {cpu[label][-1]:.2f} s CPU",
                  flush=True)
    return wall, cpu
