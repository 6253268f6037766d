"""Backing tracks: how long recombining cached stems takes next to separating the song.

A 4-minute song (the bundled real clip, repeated) is separated once (the
reference, stored in a temporary stem cache). Then, from the cached stems, the
backing track is recombined and encoded to MP3 through FFmpeg (per-stem volume,
amix normalize=0, libmp3lame 320k), which is what a second `kit backing` run with
other gains costs. Also timed: the same to float WAV, the numpy sum alone, the
optional key shift (-1 semitone) and the true-peak limiter.

Run: .venv/bin/python benchmarks/bench_backing.py [--model unet] [--minutes 4]
     (--model htdemucs_6s --model-dir DIR for a Demucs model folder)
The MP3 encoder (LAME) is most of the recombination time; "numpy sum + kit.save MP3"
shows the same encode without FFmpeg's mixing, for comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet", help="model to separate with (default unet)")
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--model-dir", default=None, help="model folder, for Demucs models")
    parser.add_argument("--drop", default="vocals", help="stems to drop (default vocals)")
    args = parser.parse_args()

    import numpy as np

    import kit
    from kit.mix import apply_limiter, make_backing_track, write_backing_track
    from kit.pitch import shift_pitch

    warnings.simplefilter("ignore", kit.KitWarning)  # peaks of the looped clip are not the point here
    work = Path(tempfile.mkdtemp(prefix="bench_backing_"))
    y, sr = kit.examples.load_song()
    n = int(args.minutes * 60 * sr)
    y = np.ascontiguousarray(np.tile(y, int(np.ceil(n / y.shape[1])))[:, :n]) * np.float32(0.8)
    opts = dict(model=args.model, device="cpu", cache_dir=work / "cache")
    if args.model_dir:
        opts["model_dir"] = args.model_dir
    kit.get_separator(args.model, **{k: v for k, v in opts.items() if k not in ("model", "cache_dir")})

    def timed(fn, repeat=1):
        best, out = float("inf"), None
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        return best, out

    t_sep, stems = timed(lambda: kit.separate(y, sr, **opts))
    t_cache, stems = timed(lambda: kit.separate(y, sr, **opts), repeat=3)
    t_mp3, _ = timed(lambda: write_backing_track(stems, work / "b.mp3", sr=sr, drop=args.drop), repeat=3)
    t_wav, out_wav = timed(lambda: write_backing_track(stems, work / "b.wav", sr=sr, drop=args.drop), repeat=3)
    t_np, ref = timed(lambda: make_backing_track(stems, drop=args.drop), repeat=3)
    t_save, _ = timed(lambda: kit.save(work / "n.mp3", ref, sr), repeat=3)
    err = float(np.max(np.abs(kit.load(out_wav)[0] - ref)))
    t_shift, _ = timed(lambda: shift_pitch(ref, sr, semitones=-1))
    t_limit, _ = timed(lambda: apply_limiter(ref, sr))

    kept = [s for s in stems if s not in args.drop.split(",")]
    print(f"{args.minutes:g}-minute song ({n / sr:.0f} s), model {args.model}, keep {'+'.join(kept)}; "
          f"CPU, times are best of 3 except separation and key shift")
    print(f"separation (reference):                     {t_sep:8.2f} s")
    print(f"stems from the cache:                       {t_cache:8.3f} s")
    print(f"recombine + encode MP3 320k (FFmpeg amix):  {t_mp3:8.2f} s = {100 * t_mp3 / t_sep:5.1f} % of separation")
    print(f"recombine + write float WAV (FFmpeg amix):  {t_wav:8.2f} s = {100 * t_wav / t_sep:5.1f} % "
          f"(max |FFmpeg - numpy| = {err:.1e})")
    print(f"numpy sum alone:                            {t_np:8.3f} s = {100 * t_np / t_sep:5.1f} %")
    t_ref = t_np + t_save
    print(f"numpy sum + kit.save MP3 320k:              {t_ref:8.2f} s = {100 * t_ref / t_sep:5.1f} %")
    print(f"key shift -1 semitone (Rubber Band R3):     {t_shift:8.2f} s = {100 * t_shift / t_sep:5.1f} %")
    print(f"true-peak limiter (FFmpeg alimiter, 4x):    {t_limit:8.2f} s = {100 * t_limit / t_sep:5.1f} %")
    print(f"ratio recombine+MP3 / separation: {t_mp3 / t_sep:.3f}")


if __name__ == "__main__":
    main()
