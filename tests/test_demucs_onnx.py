"""runtime="onnx": HTDemucs through ONNX Runtime gives apply_model's stems, or torch's with a note.

Random-weight models of the real ``HTDemucs`` class (``model_fixtures.py``), small
size; the exported file lands in a temporary ``KIT_ONNX_DIR``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from model_fixtures import STEMS_4, apply_model_seeded, make_random_htdemucs, normalised_song

import kit
from kit.errors import KitWarning
from kit.separators import demucs_batched as kb
from kit.separators import demucs_onnx as ko

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def mix():
    return normalised_song(2.3)


@pytest.fixture()
def onnx_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_ONNX_DIR", str(tmp_path))
    return tmp_path


def notes(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, KitWarning)]


@pytest.mark.parametrize("shifts, segment", [(1, None), (0, 1.5)])  # 1.5 s: padded to the model's 1.95
def test_onnx_runtime_equals_apply_model_and_keeps_its_export(mix, onnx_dir, monkeypatch, shifts, segment):
    model = make_random_htdemucs(STEMS_4, seed=0)[0]
    expected = apply_model_seeded(model, mix, shifts=shifts, segment=segment, seed=3)
    calls = []
    real_call = ko._Forward.__call__
    monkeypatch.setattr(ko._Forward, "__call__", lambda self, x: calls.append(1) or real_call(self, x))
    got = kb.apply_batched(model, mix, shifts=shifts, segment=segment, seed=3, runtime="onnx")
    assert calls, "ONNX Runtime was not used"
    assert got.shape == expected.shape
    # 1e-4 on this small model; the full-size htdemucs differs by up to 4.5e-4 (demucs_onnx docstring)
    assert torch.max(torch.abs(got - expected)).item() <= 1e-4
    exported = list(onnx_dir.glob("*.onnx"))
    assert len(exported) == 1 and not list(onnx_dir.glob(".*tmp"))

    # a second run reads the export back from disk instead of exporting again
    def no_export(net, path):
        raise AssertionError("exported again")

    monkeypatch.setattr(ko, "_export", no_export)
    again = kb.apply_batched(model, mix, shifts=shifts, segment=segment, seed=3, runtime="onnx")
    assert torch.equal(again, got)
    # other weights: another file
    other = make_random_htdemucs(STEMS_4, seed=1)[0]
    assert ko.weights_hash(other) != ko.weights_hash(model)


@pytest.mark.parametrize("problem", ["no onnxruntime", "export fails", "not HTDemucs"])
def test_without_onnx_it_runs_torch_with_a_note(mix, onnx_dir, monkeypatch, problem):
    model = make_random_htdemucs(STEMS_4, seed=0, klass="HDemucs" if problem == "not HTDemucs" else "HTDemucs")[0]
    expected = kb.apply_batched(model, mix, shifts=0)
    if problem == "no onnxruntime":
        monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    if problem == "export fails":
        def broken(net, path):
            raise RuntimeError("Exporting the operator 'aten::whatever' is not supported")

        monkeypatch.setattr(ko, "_export", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = kb.apply_batched(model, mix, shifts=0, runtime="onnx")
    said = notes(caught)
    assert len(said) == 1 and "runs in torch" in said[0] and "\n" not in said[0]
    assert torch.equal(got, expected)
    assert not list(onnx_dir.glob("*.onnx"))


def test_kit_separate_takes_runtime_onnx(demucs_model_dir, onnx_dir):
    y, sr = kit.examples.load_song(duration_s=2.0)
    options = dict(model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0, cache=False)
    plain = kit.separate(y, sr, **options)
    fast = kit.separate(y, sr, runtime="onnx", **options)
    assert list(onnx_dir.glob("*.onnx"))
    for name in STEMS_4:
        assert np.max(np.abs(fast[name] - plain[name])) < 1e-3  # same stems (unnormalised scale)
