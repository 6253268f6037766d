"""Demucs's knobs on the command line (--shifts, --overlap, --segment, --jobs, --two-stems).

Every value is checked here, before a song is decoded or a network loaded, and
a bad one stops the command with one line that names the flag and the fix.
"""

from __future__ import annotations

from ..errors import OptionError
from ._common import parse_number, parse_whole

__all__ = ["add_demucs_options", "demucs_options", "check_two_stems", "make_two_stems"]

_FLAGS = {"shifts": "--shifts", "overlap": "--overlap", "segment": "--segment", "jobs": "--jobs"}


def add_demucs_options(parser, *, two_stems: bool = False) -> None:
    """Add the Demucs flags to a subcommand's parser (values are checked by :func:`demucs_options`)."""
    g = parser.add_argument_group("Demucs models (htdemucs, htdemucs_ft, htdemucs_6s, ...)")
    g.add_argument("--shifts", default=None, metavar="N",
                   help="random time shifts averaged: 0 is fastest, 1 the default, each one more costs "
                        "another pass and gains a little quality")
    g.add_argument("--overlap", default=None, metavar="F",
                   help="overlap of consecutive segments, at least 0 and below 1 (default 0.25)")
    g.add_argument("--segment", default=None, metavar="S",
                   help="segment length in seconds, 1 to 7.8 for the htdemucs family (default: the model's "
                        "own); shorter ones save memory on hdemucs/mdx models")
    g.add_argument("--jobs", default=None, metavar="N",
                   help="CPU threads for the network (default: all cores)")
    if two_stems:
        g.add_argument("--two-stems", default=None, metavar="STEM",
                       help="write STEM and no_STEM (all the other stems added up) instead of every stem")


def _parse(args) -> dict:
    knobs = {}
    if getattr(args, "shifts", None) is not None:
        knobs["shifts"] = parse_whole("--shifts", args.shifts, "2")
    if getattr(args, "overlap", None) is not None:
        overlap = parse_number("--overlap", args.overlap, "0.25")
        if not 0 <= overlap < 1:
            raise OptionError(f"--overlap {args.overlap} is out of range; it must be at least 0 and below 1, "
                              "e.g. --overlap 0.25.")
        knobs["overlap"] = overlap
    if getattr(args, "segment", None) is not None:
        segment = parse_number("--segment", args.segment, "6")
        if segment <= 0:
            raise OptionError(f"--segment {args.segment} must be a positive number of seconds, e.g. --segment 6.")
        knobs["segment"] = segment
    if getattr(args, "jobs", None) is not None:
        knobs["jobs"] = parse_whole("--jobs", args.jobs, "4")
    return knobs


def _is_demucs(model: str, model_dir) -> bool:
    from ..separators.demucs_weights import DEMUCS_MODELS, is_local_model

    return model in DEMUCS_MODELS or is_local_model(model, model_dir=model_dir)


def demucs_options(args, *, model: str, auto: bool = False) -> dict:
    """The Demucs options the user gave, checked for ``model``; ``{}`` if none were given.

    ``model`` may be ``"auto"``: the model auto picks now is checked (``auto=True``
    says ``model`` was picked that way). Raises :class:`OptionError` (one line,
    naming the flag) for a bad value, a segment longer than the model was
    trained on, or a model that has no such knob.
    """
    from ..separators.registry import best_available_model, normalize_model_name

    knobs = _parse(args)
    if not knobs:
        return knobs
    model_dir = getattr(args, "model_dir", None) or None
    picked = normalize_model_name(model, model_dir=model_dir)
    if picked == "auto":
        auto = True
        picked = best_available_model(**({"model_dir": model_dir} if model_dir else {}))
    if not _is_demucs(picked, model_dir):
        flags = ", ".join(_FLAGS[k] for k in knobs)
        why = f"--model auto picked '{picked}', which" if auto else f"'{picked}'"
        raise OptionError(f"{flags}: {why} is not a Demucs model and has no such setting; drop {flags} "
                          "or choose a Demucs model (htdemucs, htdemucs_6s, ...).")
    if "segment" in knobs:
        from ..separators.demucs import max_segment_s, min_segment_s

        top, bottom = max_segment_s(picked), min_segment_s()
        span = f"{bottom:g} to {top:g} s" if top else f"at least {bottom:g} s"
        if top and knobs["segment"] > top:
            raise OptionError(f"--segment {args.segment}: '{picked}' was trained on {top:g} s segments and "
                              f"cannot take longer ones; use {span}, or leave --segment out.")
        if knobs["segment"] < bottom:
            raise OptionError(f"--segment {args.segment} is too short; use {span}.")
    from ..separators.demucs import check_options

    check_options(picked, **knobs)  # the separator's own checks, in case they ever go further
    return knobs


def check_two_stems(stem, stems, *, model: str):
    """``stem`` (lower case) if ``model`` has it, else one clear error; None when not asked for."""
    if stem is None:
        return None
    name = str(stem).strip().lower()
    if name not in stems:
        raise OptionError(f"--two-stems {stem}: '{model}' has no stem '{name}'; choose one of "
                          f"{', '.join(stems)}.")
    return name


def make_two_stems(stems: dict, stem: str) -> dict:
    """``{stem: ..., "no_" + stem: the other stems added up}``, as Demucs's --two-stems writes.

    Examples
    --------
    >>> import numpy as np
    >>> out = make_two_stems({"vocals": np.ones((1, 2)), "drums": np.ones((1, 2)), "bass": np.ones((1, 2))},
    ...                      "vocals")
    >>> sorted(out), out["no_vocals"].tolist()
    (['no_vocals', 'vocals'], [[2.0, 2.0]])
    """
    import numpy as np

    total = np.zeros_like(stems[stem], dtype=np.float32)
    for name, s in stems.items():
        if name != stem:
            total += s
    return {stem: stems[stem], f"no_{stem}": total}
