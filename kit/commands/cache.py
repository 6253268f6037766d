"""`kit cache info` and `kit cache clear`: the stems kept from earlier separations."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("cache", help="show or clear the stem cache (songs separated before)")
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    csub.required = True
    for action, text in (("info", "where the cache is and how big it is"),
                         ("clear", "delete every cached separation")):
        cp = csub.add_parser(action, help=text)
        cp.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="cache folder (default: $KIT_CACHE_DIR or ~/.cache/kit/stems)")
        cp.set_defaults(func=run_info if action == "info" else run_clear)


def run_info(args) -> int:
    from ..cache import cache_report

    r = cache_report(cache_dir=args.cache_dir)
    print(f"{r['path']}: {r['entries']} separations, {r['size_mb']:.1f} MB")
    return 0


def run_clear(args) -> int:
    from ..cache import clear_cache

    r = clear_cache(cache_dir=args.cache_dir)
    print(f"Removed {r['entries']} separations ({r['size_mb']:.1f} MB) from {r['path']}")
    return 0
