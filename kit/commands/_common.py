"""Options and output handling shared by several commands."""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ..devices import DEVICE_CHOICES

__all__ = ["add_model_options", "model_options", "add_input", "print_paths", "say", "separation_progress",
           "say_replaced", "parse_whole", "parse_number"]


def add_input(parser) -> None:
    parser.add_argument("input", metavar="INPUT", help="song file (mp3, wav, flac, m4a, ...)")


def add_model_options(parser, *, default_model: str = "auto") -> None:
    parser.add_argument(
        "--model", "-m", default=default_model,
        help="unet, htdemucs, htdemucs_ft, htdemucs_6s, hdemucs_mmi, mdx_extra, repet, hpss, center, "
             "tiny-unet (with --weights); 'auto' picks the best one usable offline (default: %(default)s)",
    )
    parser.add_argument("--device", "-d", default="auto", choices=DEVICE_CHOICES,
                        help="where neural models run; auto = CUDA, then Apple MPS, then CPU")
    parser.add_argument("--model-dir", default=os.environ.get("KIT_MODEL_DIR"), metavar="DIR",
                        help="folder of downloaded model files, for offline use (env: KIT_MODEL_DIR)")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="weights you trained with `kit train` (for --model tiny-unet)")


def model_options(args) -> dict:
    """The keyword options for kit.separate / get_separator from parsed args."""
    opts = {"device": args.device}
    if getattr(args, "model_dir", None):
        opts["model_dir"] = Path(args.model_dir)
    weights = getattr(args, "weights", None)
    if weights is not None:
        from ..errors import OptionError
        from ..separators.registry import normalize_model_name

        if normalize_model_name(args.model, model_dir=opts.get("model_dir")) != "tiny-unet":
            raise OptionError(f"--weights is for models you trained (--model tiny-unet), not '{args.model}'; "
                              "add --model tiny-unet or drop --weights.")
        opts["weights"] = Path(weights)
    return opts


def print_paths(paths) -> None:
    for p in paths:
        print(str(p))


def say(text: str) -> None:
    """One line on stderr, ``kit: ...``, written so that a progress bar on the terminal stays intact."""
    from tqdm.auto import tqdm

    tqdm.write(f"kit: {text}", file=sys.stderr)


def say_replaced(paths) -> None:
    """``kit: replaced PATH`` for each path: kit writes over an output file it is told to, and says so."""
    for p in paths:
        say(f"replaced {p}")


@contextmanager
def separation_progress(separator):
    """A progress callback that first says which model runs on which device, then draws the bar.

    The line comes with the first progress report, that is after the input was
    decoded and checked: a bad file gets its one error line and nothing else.
    A first report of 1.0 means the stems came from the stem cache.
    """
    from ..progress import tqdm_progress

    said = []
    device = getattr(separator, "device", None) or "cpu"
    with tqdm_progress(f"Separating with {separator.name}") as bar:
        def progress(fraction: float) -> None:
            if not said:
                cached = " (stems from the cache)" if fraction >= 1.0 else ""
                say(f"separating with {separator.name} on {device}{cached}")
                said.append(True)
            bar(fraction)

        yield progress


def parse_whole(flag: str, text: str, example: str) -> int:
    """A whole number >= 0 from an option's text, or one line naming the flag and an example."""
    from ..errors import OptionError

    try:
        value = int(str(text).strip())
    except ValueError:
        raise OptionError(f"{flag} {text} is not a whole number; give e.g. {flag} {example}.") from None
    if value < 0:
        raise OptionError(f"{flag} {text} is negative; give a whole number >= 0, e.g. {flag} {example}.")
    return value


def parse_number(flag: str, text: str, example: str) -> float:
    """A finite number from an option's text, or one line naming the flag and an example."""
    from ..errors import OptionError

    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise OptionError(f"{flag} {text} is not a number; give e.g. {flag} {example}.")
    return value
