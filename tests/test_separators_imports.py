"""Every module of kit.separators imports on its own, and no two of them import each other.

The import graph is read from the source (``import`` / ``from`` statements
anywhere in a module, and module names given to ``importlib.import_module`` as
strings, as the registry dispatches), so a cycle hidden inside a function
counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import kit.separators

PACKAGE = Path(kit.separators.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imported_siblings(module: str) -> set[str]:
    """The kit.separators modules that ``module`` refers to."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y / from . import x
                names = [node.module] if node.module else [a.name for a in node.names]
            elif node.module and node.module.startswith("kit.separators."):
                names = [node.module.split(".")[2]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[2] for a in node.names if a.name.startswith("kit.separators.")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith("kit.separators."):
            names = [node.value.split(".")[2]]
        found.update(n.split(".")[0] for n in names if n)
    return {n for n in found if n in MODULES and n != module}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_separator_modules():
    graph = {m: imported_siblings(m) for m in MODULES}
    assert "demucs_weights" in graph["registry"]  # the reader sees the real imports
    assert "demucs" in graph["registry"]  # ... and the registry's dispatch by name
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_can_fail():
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    proc = subprocess.run([sys.executable, "-c", f"import kit.separators.{module}"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
