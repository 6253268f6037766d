"""Packaging: pyproject, environment.yml and binder/ list the same runtime dependencies;
the README's two commands are the ones the scripts and CI run."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pysoundfile": "soundfile", "soxr-python": "soxr"}
NOT_PYTHON = {"python", "pip", "ffmpeg"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {_name(r) for r in data["project"]["dependencies"]}


def conda_deps(path):
    env = yaml.safe_load(path.read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep.get("pip", []) if not r.startswith("-")}
        else:
            name = _name(dep)
            if name not in NOT_PYTHON:
                names.add(CONDA_TO_PYPI.get(name, name))
    return names


def test_environment_files_match_pyproject():
    expected = pyproject_deps()
    assert "torch" in expected and "demucs" in expected
    assert conda_deps(ROOT / "environment.yml") == expected
    assert conda_deps(ROOT / "binder" / "environment.yml") == expected


def test_binder_installs_ffmpeg_and_the_kit():
    assert "ffmpeg" in (ROOT / "binder" / "apt.txt").read_text().split()
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_torch_is_pinned_by_constraints():
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==\d+\.\d+", pins, re.M)
    assert "-c constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()


def test_readme_commands_are_what_ci_and_scripts_run():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/karaoke.sh" in readme
    assert "bash scripts/test.sh" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert "kit backing" in (ROOT / "scripts" / "karaoke.sh").read_text()
