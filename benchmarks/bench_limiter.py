"""The limiter on a long track: in pieces, one FFmpeg per core at once, against one FFmpeg run.

``kit.mix.apply_limiter`` cuts a track of a minute or more per core into pieces,
each limited with a second and 20 release times of the track either side, and
keeps each piece's own stretch. This times it against one run over the whole track
(``workers=1``, as kit did before), in turns, on kit.examples' synthetic song
turned up 1 dB over full scale (the limiter works all the way through), and prints
the ratio and the largest difference between the two outputs.

Run: ``.venv/bin/python benchmarks/bench_limiter.py [--seconds 240] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
from timing import time_interleaved

import kit
from kit.mix import apply_limiter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sr = 44100
    mix, _ = kit.examples.make_multitrack(args.seconds, sr, seed=1)
    y = (mix * (10 ** (1 / 20) / np.max(np.abs(mix)))).astype(np.float32)
    out = {}
    sides = {"one run": lambda: out.__setitem__("one", apply_limiter(y, sr, workers=1)),
             "pieces": lambda: out.__setitem__("pieces", apply_limiter(y, sr))}
    print(f"{args.seconds:.0f} s song, peak +1 dBFS, {os.cpu_count()} CPU cores", flush=True)
    wall, _ = time_interleaved(sides, args.repeats)
    one, pieces = statistics.median(wall["one run"]), statistics.median(wall["pieces"])
    print(f"ratio one run / pieces: {one / pieces:.2f}x ({one:.2f} s against {pieces:.2f} s); "
          f"largest difference {float(np.max(np.abs(out['one'] - out['pieces']))):.1e}")


if __name__ == "__main__":
    main()
