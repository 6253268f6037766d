"""`kit doctor`: what this machine can do right now."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("doctor", help="show device, FFmpeg, and which models work offline now")
    p.add_argument("--model-dir", default=None, metavar="DIR", help="also look for model files here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def collect(model_dir=None) -> dict:
    import os

    from ..devices import device_report
    from ..errors import KitError
    from ..ffmpeg import ffmpeg_version, find_ffmpeg
    from ..separators.registry import list_models, offline_status

    model_dir = model_dir or os.environ.get("KIT_MODEL_DIR")
    report = device_report()
    try:
        version = " ".join(ffmpeg_version().split()[:3])  # "ffmpeg version 7.1", not the copyright
        report["ffmpeg"] = f"{find_ffmpeg()} ({version})"
    except KitError as exc:
        report["ffmpeg"] = f"missing: {exc}"
    models = {}
    for name in list_models():
        try:
            ok, detail = offline_status(name, model_dir=model_dir)
        except (ImportError, KitError) as exc:
            ok, detail = False, str(exc)
        models[name] = {"offline": bool(ok), "detail": detail}
    report["models"] = models
    try:
        from ..cache import cache_report

        report["cache"] = cache_report()
    except ImportError:
        pass
    return report


def run(args) -> int:
    report = collect(args.model_dir)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for key in ("python", "torch", "device", "ffmpeg", "platform"):
        print(f"{key:>9}: {report[key]}")
    if "cache" in report:
        c = report["cache"]
        print(f"{'cache':>9}: {c.get('path')} ({c.get('size_mb', 0):.1f} MB in {c.get('entries', 0)} songs)")
    print("   models: (offline now?)")
    for name, m in report["models"].items():
        mark = "yes" if m["offline"] else " no"
        print(f"      {mark}  {name:<12} {m['detail']}")
    return 0
