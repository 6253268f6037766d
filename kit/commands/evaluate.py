"""`kit evaluate --reference DIR --estimate DIR`: score separated stems against true ones."""

from __future__ import annotations

from pathlib import Path

# A gap this small between reference and estimate lengths is codec padding or
# resampling; anything longer means the files are not the same clip.
MAX_TRIM_S = 1.0


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score separated stems against true stems (SDR, SI-SDR per stem)",
        description="Score the stem files in --estimate against the same-named files in --reference "
                    "(vocals.wav against vocals.wav, ...). An 'accompaniment' estimate is scored against "
                    "the sum of the reference stems other than vocals. A file named 'mixture' is ignored.",
    )
    p.add_argument("--reference", "-r", required=True, metavar="DIR", help="folder of true stems (vocals.wav, ...)")
    p.add_argument("--estimate", "-e", required=True, metavar="DIR", help="folder of separated stems")
    p.add_argument("--window-s", type=float, default=1.0, metavar="S",
                   help="window for framewise scores, median reported (default: %(default)s s, as MUSDB)")
    p.add_argument("--whole", action="store_true", help="one score over the whole file instead of windows")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=run)


def _stem_files(folder: Path, what: str) -> dict[str, Path]:
    from ..audio import AUDIO_EXTENSIONS
    from ..errors import InputFileError

    flag = "--reference" if what == "reference" else "--estimate"
    if folder.is_file():
        raise InputFileError(f"{flag} '{folder}' is a file; give the folder that holds the {what} stems "
                             "(vocals.wav, drums.wav, ...).")
    if not folder.is_dir():
        raise InputFileError(f"The {what} folder '{folder}' does not exist; give a folder of stem files.")
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith("."):
            if p.stem in files:
                raise InputFileError(
                    f"Two {what} files for stem '{p.stem}': '{files[p.stem].name}' and '{p.name}'; keep one."
                )
            files[p.stem] = p
    if not files:
        raise InputFileError(f"No audio files in the {what} folder '{folder}'; expected e.g. vocals.wav.")
    return files


def load_stem_folders(reference: Path, estimate: Path):
    """Load both folders, resample and match channels and lengths; returns (refs, ests, sr)."""
    import warnings

    from ..audio import load, to_mono, to_stereo
    from ..errors import InputFileError, KitWarning

    ref_files = _stem_files(reference, "reference")
    est_files = _stem_files(estimate, "estimate")
    refs, sr = {}, None
    for name, path in ref_files.items():
        if name == "mixture":
            continue
        y, file_sr = load(path, sr=sr)
        sr = sr or file_sr
        refs[name] = y
    if not refs:
        raise InputFileError(f"The reference folder '{reference}' holds only a mixture; it needs the true stems.")
    ests = {}
    for name, path in est_files.items():
        y, file_sr = load(path)
        if file_sr != sr:
            warnings.warn(f"'{path.name}' is at {file_sr} Hz; resampled to the references' {sr} Hz.", KitWarning,
                          stacklevel=2)
            y, _ = load(path, sr=sr)
        ests[name] = y
    channels = {y.shape[0] for y in refs.values()}
    if len(channels) > 1:
        raise InputFileError(f"The reference stems mix mono and stereo files ({sorted(channels)} channels); "
                             "export them all the same way.")
    n_ch = channels.pop()
    for name, y in ests.items():
        if y.shape[0] != n_ch:
            warnings.warn(f"Estimate '{name}' has {y.shape[0]} channel(s), the references {n_ch}; converted.",
                          KitWarning, stacklevel=2)
            ests[name] = to_stereo(y) if n_ch == 2 else to_mono(y)
    lengths = {f"reference {k}": y.shape[1] for k, y in refs.items()}
    lengths.update({f"estimate {k}": y.shape[1] for k, y in ests.items()})
    shortest, longest = min(lengths.values()), max(lengths.values())
    if longest - shortest > MAX_TRIM_S * sr:
        short = min(lengths, key=lengths.get)
        long = max(lengths, key=lengths.get)
        raise InputFileError(
            f"Lengths differ by {(longest - shortest) / sr:.1f} s ({short}: {shortest / sr:.2f} s, "
            f"{long}: {longest / sr:.2f} s); score stems of the same clip."
        )
    if longest != shortest:
        warnings.warn(
            f"Stem lengths differ by {longest - shortest} samples ({1000 * (longest - shortest) / sr:.1f} ms); "
            f"all trimmed to the shortest, {shortest / sr:.3f} s.", KitWarning, stacklevel=2,
        )
    refs = {k: y[:, :shortest] for k, y in refs.items()}
    ests = {k: y[:, :shortest] for k, y in ests.items()}
    return refs, ests, sr


def run(args) -> int:
    import json

    from ..errors import OptionError
    from ..evaluate import evaluate

    if not args.whole and args.window_s <= 0:
        raise OptionError(f"--window-s {args.window_s} must be positive (1.0 as MUSDB), or use --whole.")
    refs, ests, sr = load_stem_folders(Path(args.reference), Path(args.estimate))
    table = evaluate(refs, ests, sr, window_s=None if args.whole else args.window_s)
    if args.json:
        out = {"reference": str(args.reference), "estimate": str(args.estimate), "sr": sr, **table.to_dict()}
        print(json.dumps(out, indent=2))
    else:
        print(table.to_text())
    return 0
