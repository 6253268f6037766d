"""Run the lesson notebooks top to bottom, as a class does, with small parameters.

Shared by the notebook tests. Like papermill, the overrides go into a new cell
placed right after the cell tagged ``parameters``, so the notebook as committed
is what runs; only the sizes change.

A class runs the lessons in order, each in a fresh kernel, in one folder: what
lesson 05 saves (``my_tiny_unet.safetensors``) is there when lesson 07 starts.
:class:`ClassRun` does the same (the ``class_run`` fixture in ``conftest.py``
runs every lesson once per test session, in :data:`CLASS_PARAMETERS` order), so
each lesson's test checks the output of that one sequential run.
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


def run_notebook(name, parameters: dict | None = None, *, timeout_s: float = 300, tmp_path=None):
    """Execute ``notebooks/<name>.ipynb`` (or the notebook at a path) and return the executed notebook.

    Parameters
    ----------
    name : str or Path
        File name without ``.ipynb``, or the path of a notebook.
    parameters : dict, optional
        Values that replace the defaults of the ``parameters`` cell.
    timeout_s : float
        Longest any one cell may run.
    tmp_path : Path, optional
        Working folder for files the notebook writes (default: the notebooks folder);
        the stem cache goes there too, so runs do not share state.
    """
    path = Path(name) if isinstance(name, Path) else NOTEBOOKS / f"{name}.ipynb"
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


# The sizes every lesson runs with in CI: small, so that the whole class runs in a few minutes.
# Paths are relative to the class folder.
CLASS_PARAMETERS = {
    "01_sound_and_the_stft": {"clip_s": 3.0},
    "02_masks_and_oracles": {"clip_s": 3.0},
    "03_centre_and_hpss": {"clip_s": 3.0, "kernel_sizes": (7, 31), "margins": (1.0, 3.0)},
    "04_repet_sim": {"clip_s": 5.0, "lengths_s": (4.5, 9.0), "song_s": 5.0},
    "05_spectrogram_unet": {"clip_s": 4.0, "train_steps": 15, "train_options": {"n_validation": 1, "song_s": 3.0},
                            "test_songs": 1, "test_song_s": 5.0},
    "06_demucs": {"clip_s": 4.0, "model_dir": "no-weights-here", "train_steps": 20, "test_song_s": 4.0,
                  "demucs_options": {"n_validation": 1, "song_s": 2.0}},
    "07_evaluation_and_listening": {"clip_s": 5.0, "train_minutes": 0.1},
    "08_vocal_mixing": {"clip_s": 4.5, "n_songs": 12},
    "09_karaoke_maker": {"clip_s": 3.0, "preview_s": 10.0},
    "10_pitch_and_singing": {"melody_s": 6.0, "pyin_s": 2.0, "song_s": 5.0, "take_s": 14.0},
    "11_lead_and_backing_vocals": {"song_s": 6.0},
}
CLASS_TIMEOUT_S = 300  # the longest any one cell may run


def lessons_with_answers() -> list[str]:
    """The lessons whose exercise answers are marked with nbgrader's ``### BEGIN SOLUTION``."""
    return [name for name in CLASS_PARAMETERS
            if "### BEGIN SOLUTION" in (NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8")]


class ClassRun:
    """The lessons run as a class runs them: in order, each in a fresh kernel, all in one folder.

    ``run(name)`` first runs every earlier lesson not run yet, so a test of lesson 07
    sees the folder lesson 05 left behind. Each lesson runs once; its executed
    notebook, or the error it stopped with, is kept.

    Parameters
    ----------
    folder : Path
        The class folder (the notebooks' working directory and stem cache).
    notebooks : Path, optional
        Where the notebooks are (default: the repository's, the teacher's version).
    environ : dict, optional
        Environment variables set while the lessons run (e.g. ``KIT_CLASS_DB``).
    """

    def __init__(self, folder, *, notebooks: Path | None = None, environ: dict | None = None):
        self.folder = Path(folder)
        self.notebooks = Path(notebooks or NOTEBOOKS)
        self.environ = dict(environ or {})
        self.done: dict[str, object] = {}

    def run(self, name: str):
        """The executed lesson ``name``, running the earlier lessons first if needed."""
        order = list(CLASS_PARAMETERS)
        for earlier in order[: order.index(name) + 1]:
            if earlier not in self.done:
                self.done[earlier] = self._run_one(earlier)
        result = self.done[name]
        if isinstance(result, BaseException):
            raise AssertionError(f"lesson {name} failed in the class run") from result
        return result

    def _run_one(self, name: str):
        before = dict(os.environ)
        os.environ.update(self.environ)
        try:
            return run_notebook(self.notebooks / f"{name}.ipynb", CLASS_PARAMETERS[name],
                                tmp_path=self.folder, timeout_s=CLASS_TIMEOUT_S)
        except Exception as exc:  # kept: every later lesson still runs, as in a class
            return exc
        finally:
            os.environ.clear()
            os.environ.update(before)
