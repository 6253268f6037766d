"""A key change in the app's mixer: when the page first has the new key, and when all of it is done.

The mixer (``kit.ui.stem_mixer(..., player="browser")``, as in the app) shifts a song
over a minute from its start in blocks and sends each stretch to the page when done
(``StemMixer._tracks_in_key``). This times that against shifting every track whole
and sending it once (what the mixer did before; set here by raising the length the
blocks start at), in turns, on kit.examples' synthetic song with its 4 true stems and
a residue (the mixture is given), and prints the ratios of the time to the page's
first stretch and of the total.

Run: ``.venv/bin/python benchmarks/bench_key_change.py [--seconds 240] [--repeats 2] [--semitones 2]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from timing import time_interleaved

import kit
import kit.ui.mixer as mixer_module
from kit.ui import stem_mixer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--semitones", type=float, default=2.0)
    args = parser.parse_args()
    sr = 44100
    mix, stems = kit.examples.make_multitrack(args.seconds, sr, seed=2)
    mix = mix + 0.01 * stems["vocals"][::-1]  # something the stems do not hold: the residue is a track too
    blocks_from = mixer_module._KEY_BLOCKS_FROM_S
    first = {"blocks": [], "whole": []}

    def key_change(label: str) -> None:
        mixer_module._KEY_BLOCKS_FROM_S = blocks_from if label == "blocks" else 10**9
        try:
            mixer = stem_mixer(stems, sr, mixture=mix, show_plots=False, player="browser")
            mixer.set_stem("vocals", on=False)
            add_part, start, seen = mixer.web.add_part, time.perf_counter(), []

            def watch(arrays, **kwargs):
                seen.append(time.perf_counter() - start)
                return add_part(arrays, **kwargs)

            mixer.web.add_part = watch
            mixer.set_key(args.semitones)
            first[label].append(seen[0])
            print(f"    {label}: {len(seen)} stretches, the first after {seen[0]:.1f} s; tracks "
                  f"{sorted(mixer._shifted[1])}", flush=True)
        finally:
            mixer_module._KEY_BLOCKS_FROM_S = blocks_from

    print(f"{args.seconds:.0f} s song, {args.semitones:+g} st, {os.cpu_count()} CPU cores", flush=True)
    wall, _ = time_interleaved({"blocks": lambda: key_change("blocks"), "whole": lambda: key_change("whole")},
                               args.repeats)
    f_b, f_w = statistics.median(first["blocks"]), statistics.median(first["whole"])
    t_b, t_w = statistics.median(wall["blocks"]), statistics.median(wall["whole"])
    print(f"first stretch on the page: whole / blocks {f_w / f_b:.1f}x ({f_w:.1f} s against {f_b:.1f} s); "
          f"all done: whole / blocks {t_w / t_b:.2f}x ({t_w:.1f} s against {t_b:.1f} s)")


if __name__ == "__main__":
    main()
