"""The stem cache: separating the same 3-minute song a second time.

Reference: the first call (decode + separate + store). Measured: the second
call of ``kit.separate`` on the same file (fingerprint of the file's bytes,
read the stems back; no decoding). Also the same with the song passed as an array (no decoding). The song
is the bundled real clip repeated to 3 minutes, saved as MP3.

Run: .venv/bin/python benchmarks/bench_cache.py [--model unet] [--minutes 3]
Target: first / second >= 20.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet", help="model to separate with (default unet)")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--model-dir", default=None, help="model folder, for Demucs models")
    args = parser.parse_args()

    import numpy as np

    import kit
    from kit.cache import cache_report

    work = Path(tempfile.mkdtemp(prefix="bench_cache_"))
    y, sr = kit.examples.load_song()
    n = int(args.minutes * 60 * sr)
    y = np.ascontiguousarray(np.tile(y, int(np.ceil(n / y.shape[1])))[:, :n])
    song = kit.save(work / "song.mp3", y, sr)
    opts = dict(model=args.model, device="cpu", cache_dir=work / "cache")
    if args.model_dir:
        opts["model_dir"] = args.model_dir
    kit.get_separator(args.model, **{k: v for k, v in opts.items() if k not in ("model", "cache_dir")})

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    first, a = timed(lambda: kit.separate(song, **opts))
    second, b = timed(lambda: kit.separate(song, **opts))
    assert all(np.array_equal(a[k], b[k]) for k in a), "cache returned different stems"
    y2, sr2 = kit.load(song)
    third, _ = timed(lambda: kit.separate(y2, sr2, **opts))
    report = cache_report(cache_dir=work / "cache")
    print(f"{args.minutes:g}-minute song, model {args.model}, stems {list(a)}, cache entry "
          f"{report['size_mb']:.0f} MB")
    print(f"first call (decode + separate + store): {first:.2f} s")
    print(f"second call, same file (file hash + read): {second:.3f} s")
    print(f"second call, array input (sample hash + read): {third:.3f} s")
    print(f"ratio first/second: {first / second:.1f}x from the file, {first / third:.1f}x from an array "
          "(target >= 20x)")


if __name__ == "__main__":
    main()
