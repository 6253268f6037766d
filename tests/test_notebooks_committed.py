"""Every lesson is committed the way a student should receive it."""

import json

import nbformat
import pytest
from notebook_runner import NOTEBOOKS, find_parameters_cell

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_opens_with_goals_colab_cell_and_parameters(path):
    nb = nbformat.read(path, as_version=4)
    find_parameters_cell(nb)
    text = "\n".join(c.source for c in nb.cells[:3])
    assert "google.colab" in text, f"{path.name}: the first cells must install kit on Colab only"
    assert any(c.cell_type == "markdown" and "goal" in c.source.lower() for c in nb.cells[:3]), \
        f"{path.name}: open with learning goals"
