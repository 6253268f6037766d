"""`kit train`: train the tiny U-Net of lesson 05 on synthetic songs, save its weights."""

from __future__ import annotations

from pathlib import Path

DEFAULT_NAME = "tiny-unet.safetensors"


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a tiny vocal U-Net on synthetic songs (CPU, minutes); use it with --model tiny-unet",
        description="Train the tiny U-Net of notebooks/05_spectrogram_unet.ipynb for a fixed time on "
                    "synthetic songs kit makes itself (offline), keep the weights that did best on "
                    "unseen songs, and save them. Then: kit separate SONG --model tiny-unet --weights FILE.",
    )
    p.add_argument("--out", "-o", default=DEFAULT_NAME, metavar="FILE",
                   help="where to save the weights, a .safetensors file or a folder (default: %(default)s)")
    p.add_argument("--minutes", default="5", metavar="M",
                   help="training time in minutes, everything included (default: %(default)s)")
    p.add_argument("--steps", metavar="N",
                   help="train for exactly N steps instead of --minutes: the same run on any machine")
    p.add_argument("--seed", default="0", metavar="N", help="makes a run repeatable (default: %(default)s)")
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="what --minutes counts: time on the clock, or CPU time of all threads together "
                        "(steadier on a shared machine; 2 idle cores give 2 CPU minutes per minute)")
    p.set_defaults(func=run)


def weights_path(text: str) -> Path:
    """The file to write, checked before any training: a folder gets the default name inside it."""
    from ..errors import OptionError

    path = Path(text)
    if path.is_dir():
        path = path / DEFAULT_NAME
    if path.suffix.lower() != ".safetensors":
        raise OptionError(f"--out '{text}' should end in .safetensors (the weights' format), "
                          f"e.g. --out {path.with_suffix('.safetensors').name}.")
    if not path.absolute().parent.is_dir():
        raise OptionError(f"Folder '{path.absolute().parent}' does not exist; create it or pick another --out.")
    return path


def _positive_minutes(text: str) -> float:
    from ..errors import OptionError

    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    if not minutes > 0 or minutes == float("inf"):
        raise OptionError(f"--minutes {text} must be a positive number; try 0.5 for a quick look, 5 for a real run.")
    return minutes


def run(args) -> int:
    from ..errors import OptionError
    from ..progress import tqdm_progress
    from ..train import train_unet
    from ._common import parse_whole, say, say_replaced

    # every option is checked before minutes of training
    path, minutes = weights_path(args.out), _positive_minutes(args.minutes)
    seed = parse_whole("--seed", args.seed, "1")
    steps = None if args.steps is None else parse_whole("--steps", args.steps, "200")
    if steps == 0:
        raise OptionError("--steps 0 trains nothing; give 1 or more, e.g. --steps 200.")
    title = f"Training for {steps} steps" if steps else f"Training for {minutes:g} min ({args.clock} clock)"
    with tqdm_progress(title) as progress:
        model = train_unet(minutes=minutes, steps=steps, seed=seed, progress=progress, clock=args.clock)
    existed = path.exists()
    model.save(path)
    if existed:
        say_replaced([path])
    history = model.history
    say(f"{history['steps']} steps on {history['songs']} songs; vocals SDR on unseen songs "
        f"{history['best_val_sdr_db']:.2f} dB (untrained: {history['val_sdr_db'][0]:.2f} dB; museval v4). "
        f"Use it: kit separate SONG --model tiny-unet --weights {path}")
    print(str(path))
    return 0
