"""Run a lesson notebook top to bottom, as a student receives it, with small parameters.

Shared by the notebook tests. Like papermill, the overrides go into a new cell
placed right after the cell tagged ``parameters``, so the notebook as committed
is what runs; only the sizes change.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def find_parameters_cell(nb) -> int:
    """Index of the cell tagged ``parameters`` (there must be exactly one)."""
    found = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected one cell tagged 'parameters', found {len(found)}"
    return found[0]


def run_notebook(name: str, parameters: dict | None = None, *, timeout_s: float = 300, tmp_path=None):
    """Execute ``notebooks/<name>.ipynb`` and return the executed notebook.

    Parameters
    ----------
    name : str
        File name without ``.ipynb``.
    parameters : dict, optional
        Values that replace the defaults of the ``parameters`` cell.
    timeout_s : float
        Longest any one cell may run.
    tmp_path : Path, optional
        Working folder for files the notebook writes (default: the notebooks folder);
        the stem cache goes there too, so runs do not share state.
    """
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if parameters:
        at = find_parameters_cell(nb)
        source = "# injected by the test: small sizes for CI\n" + "\n".join(
            f"{key} = {value!r}" for key, value in parameters.items())
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(at + 1, cell)
    env_before = dict(os.environ)
    os.environ["HF_HUB_OFFLINE"] = "1"  # lessons must run without network
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if tmp_path is not None:
        os.environ["KIT_CACHE_DIR"] = str(Path(tmp_path) / "stem-cache")
    try:
        client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path or NOTEBOOKS)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return nb


def count_outputs(nb) -> dict[str, int]:
    """How many figures, audio players and widgets an executed notebook shows."""
    counts = {"figures": 0, "audio": 0, "widgets": 0}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                counts["figures"] += 1
            if "<audio" in str(data.get("text/html", "")):
                counts["audio"] += 1
            if "application/vnd.jupyter.widget-view+json" in data:
                counts["widgets"] += 1
    return counts


def output_text(nb) -> str:
    """All text the notebook printed (stdout and plain-text results), for checking messages."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            else:
                parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)
