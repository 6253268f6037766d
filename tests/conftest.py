"""Shared pytest fixtures.

``demucs_model_dir`` is a model folder with RANDOM-weight Demucs models of the
real HTDemucs class (shrunk channels, see ``model_fixtures.py``): ``htdemucs``
(4 stems) and ``htdemucs_6s`` (6 stems). They load through Demucs's own
``LocalRepo`` loader; they are not the pretrained models and separate nothing.
"""

from __future__ import annotations

import os

import pytest
from model_fixtures import write_demucs_model_dir


@pytest.fixture(scope="session")
def demucs_model_dir(tmp_path_factory):
    """Folder with random-weight ``htdemucs`` and ``htdemucs_6s`` (NAME.yaml + SIG-CHECKSUM.th)."""
    return write_demucs_model_dir(tmp_path_factory.mktemp("demucs_models"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_stem_cache(tmp_path_factory):
    """Keep the stem cache of the whole test run in a temporary folder, not ~/.cache."""
    old = os.environ.get("KIT_CACHE_DIR")
    os.environ["KIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("stem_cache"))
    yield
    if old is None:
        os.environ.pop("KIT_CACHE_DIR", None)
    else:
        os.environ["KIT_CACHE_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def _isolated_class_db(tmp_path_factory):
    """Class results (exercise checks, listening tests, app feedback) go to a temporary file, not ~/.local."""
    saved = {k: os.environ.get(k) for k in ("KIT_CLASS_DB", "KIT_FEEDBACK_DB")}
    os.environ["KIT_CLASS_DB"] = str(tmp_path_factory.mktemp("class_db") / "class.sqlite")
    os.environ.pop("KIT_FEEDBACK_DB", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module", autouse=True)
def _fresh_kept_models():
    """Each test module starts without separators kept by another (they may have patched model code)."""
    yield
    import sys

    if "kit.separators.api" in sys.modules:
        sys.modules["kit.separators.api"].clear_models()


@pytest.fixture(scope="session")
def class_run(tmp_path_factory):
    """The lessons run once, in order, in one folder, as a class runs them (see notebook_runner.ClassRun)."""
    from notebook_runner import ClassRun

    folder = tmp_path_factory.mktemp("class")
    return ClassRun(folder, environ={"KIT_CLASS_DB": str(folder / "class.sqlite")})
