"""`kit models list` and `kit models download NAME... --to DIR`."""

from __future__ import annotations

import os


def register(sub) -> None:
    p = sub.add_parser("models", help="list models and which work offline; download Demucs weights")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True
    lp = msub.add_parser("list", help="every model name, its stems, and whether it runs offline now")
    lp.add_argument("--model-dir", default=os.environ.get("KIT_MODEL_DIR"), metavar="DIR",
                    help="folder of downloaded model files (env: KIT_MODEL_DIR)")
    lp.set_defaults(func=run_list)
    dp = msub.add_parser(
        "download", help="download Demucs weights into a folder you can copy to offline machines",
        description="Download pretrained Demucs models (needs internet). With --to DIR the files go into "
                    "one folder (NAME.yaml + SIG-CHECKSUM.th) that any machine reads with --model-dir DIR; "
                    "without --to they go into the Hugging Face cache, where Demucs looks by itself.")
    dp.add_argument("names", nargs="+", metavar="NAME", help="htdemucs, htdemucs_ft, htdemucs_6s, ...")
    dp.add_argument("--to", default=None, metavar="DIR", help="model folder to write (created if missing)")
    dp.set_defaults(func=run_download)
    p.set_defaults(func=run_list)


def run_list(args) -> int:
    from ..errors import KitError
    from ..separators.registry import list_models, offline_status, stems_for

    model_dir = getattr(args, "model_dir", None)
    print(f"{'model':<13} {'offline':<8} {'stems':<42} detail")
    for name in list_models():
        try:
            stems = ",".join(stems_for(name, model_dir=model_dir))
        except (ImportError, KitError):
            stems = "?"
        try:
            ok, detail = offline_status(name, model_dir=model_dir)
        except (ImportError, KitError) as exc:
            ok, detail = False, str(exc)
        print(f"{name:<13} {'yes' if ok else 'no':<8} {stems:<42} {detail}")
    return 0


def run_download(args) -> int:
    import difflib

    from ..errors import OptionError
    from ..separators.demucs import download_model
    from ..separators.registry import DEMUCS_MODELS

    args.names = [n.strip().lower() for n in args.names]
    unknown = [n for n in args.names if n not in DEMUCS_MODELS]
    if unknown:
        close = [c for n in unknown for c in difflib.get_close_matches(n, DEMUCS_MODELS, n=1)]
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise OptionError(f"Cannot download {', '.join(unknown)}: {hint}only Demucs models are downloaded "
                          f"({', '.join(DEMUCS_MODELS)}); unet and the classical methods need no download.")
    for name in args.names:
        folder = download_model(name, to=args.to)
        print(f"{name}: {folder}")
    if args.to:
        print(f"Copy '{args.to}' to each machine and run: kit separate SONG --model {args.names[0]} "
              f"--model-dir {args.to}")
    return 0
