"""Docstrings send readers to lessons that exist ("See also notebooks/NN_name.ipynb")."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_notebook_named_in_kit_exists():
    missing = []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for name in re.findall(r"notebooks/([A-Za-z0-9_]+\.ipynb)", path.read_text()):
            if not (ROOT / "notebooks" / name).exists():
                missing.append(f"{path.relative_to(ROOT)} names notebooks/{name}")
    assert not missing, "\n".join(missing)
