"""``kit.ui`` is the front end: it imports neither torch nor soundfile (issue 17, item 16).

Device naming lives in :mod:`kit.devices` and WAV encoding in :mod:`kit.audio`, so
the widgets stay a thin layer over kit's functions.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import kit.ui

FORBIDDEN = ("torch", "soundfile")
UI = Path(kit.ui.__file__).parent


def test_no_ui_source_imports_torch_or_soundfile():
    found = []
    for path in sorted(UI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert found == []


def test_importing_and_using_the_ui_loads_neither():
    modules = [f"kit.ui.{m.name}" for m in pkgutil.iter_modules([str(UI)])]
    code = f"""
import importlib, sys
import numpy as np
for name in {modules!r}:
    importlib.import_module(name)
from kit.ui.engine_panel import describe_engine
from kit.ui.player import make_player
describe_engine("cpu")
make_player(np.zeros((2, 4410), np.float32), 44100)  # 16-bit WAV bytes for the player
print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
