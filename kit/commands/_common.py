"""Options and output handling shared by several commands."""

from __future__ import annotations

import os
from pathlib import Path

from ..devices import DEVICE_CHOICES

__all__ = ["add_model_options", "model_options", "add_input", "print_paths"]


def add_input(parser) -> None:
    parser.add_argument("input", metavar="INPUT", help="song file (mp3, wav, flac, m4a, ...)")


def add_model_options(parser, *, default_model: str = "auto") -> None:
    parser.add_argument(
        "--model", "-m", default=default_model,
        help="unet, htdemucs, htdemucs_ft, htdemucs_6s, hdemucs_mmi, mdx_extra, repet, hpss, center; "
             "'auto' picks the best one usable offline (default: %(default)s)",
    )
    parser.add_argument("--device", "-d", default="auto", choices=DEVICE_CHOICES,
                        help="where neural models run; auto = CUDA, then Apple MPS, then CPU")
    parser.add_argument("--model-dir", default=os.environ.get("KIT_MODEL_DIR"), metavar="DIR",
                        help="folder of downloaded model files, for offline use (env: KIT_MODEL_DIR)")


def model_options(args) -> dict:
    """The keyword options for kit.separate / get_separator from parsed args."""
    opts = {"device": args.device}
    if getattr(args, "model_dir", None):
        opts["model_dir"] = Path(args.model_dir)
    return opts


def print_paths(paths) -> None:
    for p in paths:
        print(str(p))
