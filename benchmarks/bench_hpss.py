"""Speed of kit's ``hpss`` against the same separation through ``librosa.decompose.hpss``.

Both take the same STFT of the same song (the bundled clip repeated to the
length asked for) and invert the same way; only the median filters differ
(bottleneck's running median in kit, ``scipy.ndimage.median_filter`` in
librosa). Prints seconds, x-realtime, their ratio, and how far apart the
harmonic stems are (SNR of kit's against librosa's).

Run: ``.venv/bin/python benchmarks/bench_hpss.py [--seconds 180]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import kit
from kit.separators.classical import HPSSSeparator
from kit.spectral import compute_istft, compute_stft


def librosa_harmonic(song, sep):
    import librosa

    spec = compute_stft(song, n_fft=sep.n_fft, hop_length=sep.hop_length)
    harm, _ = librosa.decompose.hpss(spec, kernel_size=sep.kernel_size, power=sep.power, margin=sep.margin)
    return compute_istft(harm, n_fft=sep.n_fft, hop_length=sep.hop_length, length=song.shape[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="song length (default: %(default)s)")
    args = ap.parse_args()
    y, sr = kit.load(kit.examples.song_path())
    n = int(args.seconds * sr)
    song = np.tile(y, (1, -(-n // y.shape[1])))[:, :n]
    sep = HPSSSeparator()
    sep.separate(song[:, :sr], sr)  # imports and first calls out of the timing
    librosa_harmonic(song[:, :sr], sep)

    start = time.perf_counter()
    ours = sep.separate(song, sr)["harmonic"]
    t_kit = time.perf_counter() - start
    start = time.perf_counter()
    theirs = librosa_harmonic(song, sep)
    t_ref = time.perf_counter() - start

    err = ours.astype(np.float64) - theirs
    snr = 10 * np.log10(np.sum(theirs.astype(np.float64) ** 2) / max(np.sum(err**2), 1e-300))
    print(f"song: {args.seconds:.0f} s stereo at {sr} Hz; load average {os.getloadavg()[0]:.2f}")
    print(f"kit hpss:                 {t_kit:6.1f} s  ({args.seconds / t_kit:5.1f}x realtime)")
    print(f"librosa.decompose.hpss:   {t_ref:6.1f} s  ({args.seconds / t_ref:5.1f}x realtime)")
    print(f"speed ratio: {t_ref / t_kit:.1f}x; harmonic stem vs librosa's: SNR {snr:.0f} dB")


if __name__ == "__main__":
    main()
