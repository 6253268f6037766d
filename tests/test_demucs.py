"""Demucs behind the kit interface, on RANDOM-weight models of the real HTDemucs class.

The models come from ``model_fixtures.py`` (shrunk channels, real class, real
loader); they are not the pretrained models, so the tests check plumbing
(loading, shapes, equality with a direct ``apply_model`` call, errors), never
separation quality.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import SMALL_HDEMUCS_SEGMENT, STEMS_4, STEMS_6, write_random_demucs_model

import kit
from kit.errors import KitWarning, ModelUnavailableError, OptionError
from kit.separators import demucs as kd
from kit.separators import demucs_weights as kw


@pytest.fixture(scope="module")
def clip():
    y, sr = kit.examples.load_song(duration_s=2.0)
    return y, sr


@pytest.fixture
def no_weights_anywhere(monkeypatch, tmp_path):
    """No model folder, empty Hugging Face and torch hub caches, offline mode on."""
    import huggingface_hub.constants

    monkeypatch.delenv("KIT_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def direct_apply(model_dir, name, y, *, shifts=0, segment=None, overlap=0.25, seed=0):
    """What a user of Demucs would write: get_model + normalise + apply_model."""
    from demucs.apply import apply_model
    from demucs.pretrained import get_model

    model = get_model(name, repo=Path(model_dir))
    wav = torch.from_numpy(y)
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    random.seed(seed)
    out = apply_model(model, ((wav - mean) / std)[None], shifts=shifts, split=True, overlap=overlap,
                      segment=segment)[0] * std + mean
    return {src: out[i].numpy() for i, src in enumerate(model.sources)}


def test_local_folder_loads_offline_and_matches_direct_apply_model(demucs_model_dir, clip, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    y, sr = clip
    sep = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0)
    stems = sep.separate(y, sr)
    assert list(stems) == list(STEMS_4)
    expected = direct_apply(demucs_model_dir, "htdemucs", y, shifts=0)
    for name in STEMS_4:
        assert stems[name].shape == y.shape and stems[name].dtype == np.float32
        assert np.all(np.isfinite(stems[name]))
        assert np.max(np.abs(stems[name] - expected[name])) <= 1e-4


@pytest.mark.slow
def test_shift_trick_is_seeded_and_matches_apply_model(demucs_model_dir, clip):
    # the kit cuts and overlap-adds the segments itself (batched); it must give apply_model's stems
    y, sr = clip
    y = y[:, : int(0.9 * sr)]  # + 0.5 s of shift padding: one 1.95 s chunk per pass
    stems = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=2).separate(y, sr)
    expected = direct_apply(demucs_model_dir, "htdemucs", y, shifts=2, seed=0)
    for name in STEMS_4:
        assert np.max(np.abs(stems[name] - expected[name])) <= 1e-4


@pytest.mark.slow
def test_bag_of_models_with_weights_matches_apply_model(tmp_path, clip):
    # like htdemucs_ft: one model per stem (one-hot weights); here 2 models, mixed weights
    write_random_demucs_model(tmp_path, name="htdemucs_ft", n_models=2, seed=5,
                              weights=[[1, 0, 1, 0.5], [0, 1, 1, 0.5]])
    y, sr = clip
    y = y[:, : int(0.9 * sr)]
    stems = kit.get_separator("htdemucs_ft", model_dir=tmp_path, device="cpu", shifts=1).separate(y, sr)
    expected = direct_apply(tmp_path, "htdemucs_ft", y, shifts=1, seed=0)
    for name in STEMS_4:
        assert np.max(np.abs(stems[name] - expected[name])) <= 1e-4


def test_six_stem_model_and_smaller_segment(demucs_model_dir, clip):
    y, sr = clip
    y = y[:, :sr]
    sep = kit.get_separator("htdemucs_6s", model_dir=demucs_model_dir, device="cpu", shifts=0, segment=1.5)
    assert sep.stems == STEMS_6
    stems = sep.separate(y, sr)
    assert list(stems) == list(STEMS_6)
    expected = direct_apply(demucs_model_dir, "htdemucs_6s", y, shifts=0, segment=1.5)
    for name in STEMS_6:
        assert np.max(np.abs(stems[name] - expected[name])) <= 1e-4


def test_mono_and_other_rates_keep_shape_and_length(demucs_model_dir, clip):
    y, sr = clip
    sep = kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0)
    mono = kit.audio.to_mono(y)
    stems = sep.separate(mono, sr)
    assert all(s.shape == mono.shape for s in stems.values())
    y22 = kit.audio.resample(y, sr, sr=22050)
    stems = sep.separate(y22, 22050)
    assert all(s.shape == y22.shape and np.all(np.isfinite(s)) for s in stems.values())


def test_progress_reaches_one_and_never_goes_back(demucs_model_dir, clip):
    y, sr = clip
    seen = []
    kit.get_separator("htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0,
                      segment=1.0).separate(y[:, :sr], sr, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) > 3
    assert all(b >= a for a, b in zip(seen[:-1], seen[1:], strict=True))


def test_stems_for_needs_no_weights():
    assert kd.stems_for("htdemucs") == STEMS_4
    assert kd.stems_for("htdemucs_6s") == STEMS_6
    assert kit.separators.stems_for("mdx_extra") == STEMS_4


def test_custom_model_in_folder_is_found_by_name(tmp_path, clip):
    write_random_demucs_model(tmp_path, name="my_band_model", sources=("vocals", "rest"), seed=3)
    assert kd.is_local_model("my_band_model", model_dir=tmp_path)
    assert not kd.is_local_model("other_name", model_dir=tmp_path)
    assert kd.stems_for("my_band_model", model_dir=tmp_path) == ("vocals", "rest")
    y, sr = clip
    stems = kit.get_separator("my_band_model", model_dir=tmp_path, device="cpu", shifts=0).separate(y, sr)
    assert list(stems) == ["vocals", "rest"]
    # the segment limit of a custom model is read from the model itself (1.95 s here)
    sep = kit.get_separator("my_band_model", model_dir=tmp_path, device="cpu", segment=3.0)
    with pytest.raises(OptionError, match="segment=3 s is longer.*between 1 and 1.95 s"):
        sep.separate(y, sr)


def test_model_dir_from_environment(demucs_model_dir, monkeypatch):
    monkeypatch.setenv("KIT_MODEL_DIR", str(demucs_model_dir))
    ok, detail = kd.offline_status("htdemucs")
    assert ok and str(demucs_model_dir) in detail
    assert kit.get_separator("htdemucs", device="cpu").source.kind == "model_dir"


def test_missing_weights_fail_at_once_with_the_fix(no_weights_anywhere, monkeypatch):
    import huggingface_hub

    def no_network(*a, **k):
        raise AssertionError("tried the network although offline mode is on")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    monkeypatch.setattr(kw, "check_network", no_network)
    with pytest.raises(ModelUnavailableError) as info:
        kit.get_separator("htdemucs_ft", device="cpu")
    msg = str(info.value)
    assert "\n" not in msg
    assert "kit models download htdemucs_ft --to DIR" in msg and "--model-dir DIR" in msg
    assert "--model unet" in msg
    ok, detail = kd.offline_status("htdemucs_ft")
    assert not ok and "kit models download htdemucs_ft" in detail


def test_missing_weights_without_internet_checks_reachability_once(no_weights_anywhere, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls = []

    def unreachable(*a, **k):
        calls.append(1)
        return "huggingface.co: Name or service not known"

    monkeypatch.setattr(kw, "check_network", unreachable)
    with pytest.raises(ModelUnavailableError, match="internet cannot be reached.*kit models download htdemucs"):
        kit.get_separator("htdemucs", device="cpu")
    assert calls == [1]


def test_folder_with_list_but_no_weights_says_what_is_missing(tmp_path):
    (tmp_path / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    with pytest.raises(ModelUnavailableError, match="955717e8"):
        kit.get_separator("htdemucs", model_dir=tmp_path, device="cpu")


def test_corrupt_weight_file_is_a_clear_error(tmp_path, clip):
    write_random_demucs_model(tmp_path, name="htdemucs")
    th = next(tmp_path.glob("*.th"))
    th.write_bytes(th.read_bytes()[:1000])
    sep = kit.get_separator("htdemucs", model_dir=tmp_path, device="cpu")
    with pytest.raises(ModelUnavailableError, match="Could not load Demucs model 'htdemucs'.*download it again"):
        sep.separate(*clip)


def test_missing_model_folder_is_an_option_error(tmp_path):
    with pytest.raises(OptionError, match="does not exist"):
        kit.get_separator("htdemucs", model_dir=tmp_path / "nope")


@pytest.mark.parametrize("options, pattern", [
    ({"segment": 8.0}, "segment=8 s is longer than 'htdemucs'"),
    ({"segment": 0.5}, "segment=0.5 s is too short"),
    ({"segment": "long"}, "segment='long' is not a number"),
    ({"shifts": -1}, "shifts=-1 must be a whole number >= 0"),
    ({"shifts": 1.5}, "shifts=1.5"),
    ({"overlap": 1.0}, "overlap=1.0 must be at least 0 and below 1"),
    ({"overlap": -0.1}, "overlap=-0.1"),
])
def test_invalid_options_are_refused_before_any_work(demucs_model_dir, options, pattern):
    with pytest.raises(OptionError, match=pattern):
        kit.get_separator("htdemucs", model_dir=demucs_model_dir, **options)


def test_quantised_models_say_they_need_diffq():
    pytest.importorskip("demucs")
    try:
        import diffq  # noqa: F401
        pytest.skip("diffq is installed here")
    except ImportError:
        pass
    with pytest.raises(ModelUnavailableError, match="pip install diffq"):
        kit.get_separator("mdx_extra_q")


@pytest.fixture(scope="module")
def both_kinds_model_dir(tmp_path_factory):
    """Random-weight htdemucs (HTDemucs) and hdemucs_mmi (the older HDemucs), both small, both trained on 3.9 s."""
    folder = tmp_path_factory.mktemp("both_kinds")
    write_random_demucs_model(folder, name="htdemucs", klass="HTDemucs", segment=SMALL_HDEMUCS_SEGMENT)
    write_random_demucs_model(folder, name="hdemucs_mmi", klass="HDemucs")
    return folder


@pytest.mark.parametrize("name", ["htdemucs", "hdemucs_mmi"])
def test_gpu_out_of_memory_falls_back_to_cpu(both_kinds_model_dir, clip, monkeypatch, name):
    y, sr = clip
    y = y[:, :sr]
    sep = kit.get_separator(name, model_dir=both_kinds_model_dir, device="cpu", shifts=0)
    expected = sep.separate(y, sr)
    real_apply = sep._apply
    tried = []

    def fake_apply(mix, device, segment, progress):
        tried.append((device, segment))
        if device != "cpu":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_apply(mix, device, segment, progress)

    monkeypatch.setattr(sep, "_apply", fake_apply)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    sep.device = "cuda"  # pretend; every GPU attempt fails with out-of-memory
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stems = sep.separate(y, sr)
    notes = [str(w.message) for w in caught if issubclass(w.category, KitWarning)]
    if name == "hdemucs_mmi":
        # the older model uses less memory with a shorter segment: its 3.9 s, halved once (0.975 s
        # would be under the 1 s floor), then the CPU
        assert tried == [("cuda", None), ("cuda", pytest.approx(1.95)), ("cpu", None)]
        assert sum("retrying 'hdemucs_mmi' with segment=1.95 s" in n for n in notes) == 1
    else:
        # HTDemucs pads every chunk to its training length: a shorter segment saves nothing, straight to the CPU
        assert tried == [("cuda", None), ("cpu", None)]
        assert not any("retrying" in n for n in notes)
    assert "on the CPU" in notes[-1]
    for stem in STEMS_4:
        assert np.array_equal(stems[stem], expected[stem])


def test_kit_models_list_shows_the_folder(demucs_model_dir):
    out = subprocess.run([sys.executable, "-m", "kit", "models", "list", "--model-dir", str(demucs_model_dir)],
                         capture_output=True, text=True, check=True).stdout
    row = next(ln for ln in out.splitlines() if ln.startswith("htdemucs "))
    assert " yes " in row and "drums,bass,other,vocals" in row
    row6 = next(ln for ln in out.splitlines() if ln.startswith("htdemucs_6s "))
    assert "guitar,piano" in row6


def test_kit_models_download_offline_fails_in_one_line_and_writes_nothing(tmp_path):
    # Offline here, so only the failure can be tested; the download itself needs internet.
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    target = tmp_path / "models"
    proc = subprocess.run([sys.executable, "-m", "kit", "models", "download", "htdemucs", "--to", str(target)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kit: error:") and "htdemucs" in lines[0]
    assert not target.exists()


def test_hugging_face_cache_is_used_offline(no_weights_anywhere, clip, monkeypatch):
    import huggingface_hub.constants
    from model_fixtures import write_random_hf_cache

    write_random_hf_cache(huggingface_hub.constants.HF_HUB_CACHE, name="htdemucs", seed=0)
    ok, detail = kd.offline_status("htdemucs")
    assert ok and "Hugging Face cache" in detail
    sep = kit.get_separator("htdemucs", device="cpu", shifts=0)
    assert sep.source.kind == "hf_cache"
    y, sr = clip
    stems = sep.separate(y[:, :sr], sr)
    assert list(stems) == list(STEMS_4) and all(np.all(np.isfinite(s)) for s in stems.values())


def test_download_writes_a_folder_that_loads_offline(no_weights_anywhere, tmp_path, clip, monkeypatch):
    """The download code, with the HTTP part replaced by a local copy (no internet here)."""
    import shutil

    import huggingface_hub
    from model_fixtures import write_random_hf_cache

    snap = write_random_hf_cache(tmp_path / "server", name="htdemucs_6s", sources=STEMS_6, seed=2)

    def fake_hf_hub_download(repo_id, filename, *, local_dir=None, **kw):
        assert repo_id == "adefossez/HTDemucs-6s"
        target = Path(local_dir) / filename
        shutil.copy(snap / filename, target)
        return str(target)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(kw, "check_network", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_hub_download)
    out = kw.download_model("htdemucs_6s", to=tmp_path / "models")
    assert out == tmp_path / "models"
    names = sorted(p.name for p in out.iterdir())
    assert names[-1] == "htdemucs_6s.yaml" and names[0].endswith(".th") and len(names) == 2
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sep = kit.get_separator("htdemucs_6s", model_dir=out, device="cpu", shifts=0)
    y, sr = clip
    assert list(sep.separate(y[:, :sr], sr)) == list(STEMS_6)
