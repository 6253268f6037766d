"""The command line: ``kit COMMAND ...`` or ``python -m kit COMMAND ...``.

Each command lives in its own module under ``kit/commands/`` with a
``register(subparsers)`` function; this file only builds the parser and turns
user mistakes (:class:`~kit.errors.KitError`) into one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from . import __version__
from .errors import KitError

__all__ = ["main", "build_parser"]

# Shown first in --help, in this order; any other command module follows.
_ORDER = ("separate", "backing", "automix", "evaluate", "fetch", "models", "cache", "doctor", "app")


def _command_modules():
    from . import commands

    found = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    ordered = [n for n in _ORDER if n in found] + sorted(n for n in found if n not in _ORDER)
    return [importlib.import_module(f"kit.commands.{n}") for n in ordered]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit",
        description="Music source separation and backing tracks. Run `kit COMMAND -h` for help on one command.",
    )
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"kit: note: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        result = args.func(args)
    except KitError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kit: stopped (Ctrl-C); no partial output was kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` and closed early: not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        print("kit: error: ran out of memory; try a shorter clip, --device cpu, or a smaller model.",
              file=sys.stderr)
        return 4
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
