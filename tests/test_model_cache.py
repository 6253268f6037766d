"""Models load once: kit.separate keeps the separators it built, and kit.clear_models() frees them.

The weights counted are the real pretrained Spleeter files (``unet``), read
through a spy on the one function that reads them.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import kit
from kit.separators import api, registry
from kit.separators import spleeter_net as sn

SR = 44100


@pytest.fixture(scope="module")
def song():
    return kit.examples.load_song(duration_s=1.0)[0]


@pytest.fixture
def reads(monkeypatch):
    """Names of the weight files read, in order."""
    seen = []
    real = sn.load_checkpoint

    def spy(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(sn, "load_checkpoint", spy)
    kit.clear_models()
    yield seen
    kit.clear_models()


def test_repeated_calls_read_the_weights_once(reads, song):
    kit.separate(song, SR, model="unet", device="cpu", cache=False)
    assert len(reads) == 2  # vocals and accompaniment
    excerpt = np.ascontiguousarray(song[:, 4410:4410 + 3 * SR // 4])  # another excerpt, as the app sends
    stems = kit.separate(excerpt, SR, model="unet", device="cpu", cache=False)
    assert stems["vocals"].shape == excerpt.shape
    assert len(reads) == 2


def test_other_options_build_another_model(reads):
    # built and kept without running: the networks load on first use
    default = api.get_cached_separator("unet", device="cpu")
    other = api.get_cached_separator("unet", device="cpu", batch_segments=1)
    assert other is not default and other.batch_segments == 1
    assert api.get_cached_separator("unet", device="cpu") is default
    assert api.get_cached_separator("unet", device="cpu", batch_segments=1) is other
    default.load_nets(), other.load_nets()
    assert len(reads) == 4  # two models, each read once
    api.get_cached_separator("unet", device="cpu").load_nets()
    assert len(reads) == 4


def test_clear_models_frees_the_networks(reads):
    separator = api.get_cached_separator("unet", device="cpu")
    net = weakref.ref(separator.load_nets()["vocals"])
    del separator
    assert kit.clear_models() == 1
    gc.collect()
    assert net() is None  # nothing else held the network
    api.get_cached_separator("unet", device="cpu").load_nets()
    assert len(reads) == 4  # read again after clearing
    assert kit.clear_models() == 1 and kit.clear_models() == 0


def test_the_cache_stays_small(monkeypatch, song):
    built = []
    real = registry.get_separator

    def counting(name="auto", **options):
        built.append((name, options.get("margin")))
        return real(name, **options)

    monkeypatch.setattr(api, "get_separator", counting)
    kit.clear_models()
    short = song[:, :SR // 2]
    for model, margin in (("center", None), ("hpss", None), ("hpss", 2.0), ("center", None)):
        kit.separate(short, SR, model=model, margin=margin, cache=False)
    assert built == [("center", None), ("hpss", None), ("hpss", 2.0)]  # center reused
    assert len(api._MODELS) == api.MAX_CACHED_MODELS == 3
    api.get_cached_separator("unet", device="cpu")  # pushes out the least recently used: plain hpss
    kit.separate(short, SR, model="center", margin=None, cache=False)
    kit.separate(short, SR, model="hpss", margin=None, cache=False)
    assert built[3:] == [("unet", None), ("hpss", None)]
    assert len(api._MODELS) == api.MAX_CACHED_MODELS
    kit.clear_models()


def test_the_stem_cache_still_serves_repeats(reads, song, tmp_path):
    calls = []
    first = kit.separate(song, SR, model="unet", device="cpu", cache_dir=tmp_path, progress=calls.append)
    calls.clear()
    again = kit.separate(song, SR, model="unet", device="cpu", cache_dir=tmp_path, progress=calls.append)
    assert calls == [1.0]  # served from the stem cache, no network run
    assert len(reads) == 2
    for name in first:
        np.testing.assert_array_equal(again[name], first[name])


def test_options_that_cannot_be_keyed_still_work(song):
    kit.clear_models()
    stems = kit.separate(song[:, :SR // 2], SR, model="center", unused=np.zeros(3), cache=False)
    assert set(stems) == {"vocals", "accompaniment"}
    assert len(api._MODELS) == 0  # built afresh, not kept


def test_clear_models_also_frees_the_kept_demucs_network(demucs_model_dir, song):
    from kit.separators import demucs_weights

    kit.separate(song, SR, model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0, cache=False)
    assert demucs_weights._LOADED  # the network read from the folder is kept for the next call
    kit.clear_models()
    assert not demucs_weights._LOADED
