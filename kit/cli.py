"""The command line: ``kit COMMAND ...`` or ``python -m kit COMMAND ...``.

Each command lives in its own module under ``kit/commands/`` with a
``register(subparsers)`` function; this file only builds the parser and turns
user mistakes (:class:`~kit.errors.KitError`) into one line on stderr.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import pkgutil
import re
import sys
import warnings

from . import __version__
from .errors import KitError

__all__ = ["main", "build_parser", "KitArgumentParser"]

# Shown first in --help, in this order; any other command module follows.
_ORDER = ("separate", "backing", "batch", "automix", "score", "evaluate", "train", "examples", "fetch", "models",
          "cache", "doctor", "app")


def _command_modules():
    from . import commands

    found = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    ordered = [n for n in _ORDER if n in found] + sorted(n for n in found if n not in _ORDER)
    return [importlib.import_module(f"kit.commands.{n}") for n in ordered]


class KitArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes read like every other kit error: one line.

    argparse prints the whole usage block before its message; a newcomer then
    has to find the one line that matters. Subparsers inherit this class
    (``add_subparsers`` uses the parent's class), so ``kit backing`` and
    ``kit models download`` answer the same way.
    """

    def error(self, message):
        hint = f"see `{self.prog} -h`."
        if "required" in message and "--drop" in message:
            hint = "e.g. --drop vocals, or --keep bass,drums."
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            close = difflib.get_close_matches(bad.group(1).lower(), re.findall(r"'([^']*)'", bad.group(2)), n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
        print(f"kit: error: {message}; {hint}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = KitArgumentParser(
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
    # Warnings that name Python arguments carry a command-line wording too.
    text = getattr(message, "cli_text", None) or str(message)
    print(f"kit: note: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # scoped, so calling main() from Python (or a test) leaves warnings as they were
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args) -> int:
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
