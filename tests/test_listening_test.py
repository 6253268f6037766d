"""kit.ui.listening_test: a blind MUSHRA-style test that can be driven, revealed and saved; ratings pool."""

import json

import numpy as np
import pytest

import kit
from kit.errors import InputFileError, OptionError
from kit.evaluate import make_low_anchor, pool_ratings
from kit.ui import listening_test
from kit.ui.listening_test import HIDDEN_REFERENCE, LOW_ANCHOR

SR = 16000


@pytest.fixture(scope="module")
def versions():
    mix, stems = kit.examples.make_multitrack(3.0, sr=SR, seed=2)
    rng = np.random.default_rng(0)
    return {"true vocals": stems["vocals"],
            "slightly noisy": stems["vocals"] + 0.01 * rng.standard_normal(mix.shape).astype(np.float32),
            "mixture": mix}


def test_order_is_blind_random_and_complete(versions):
    a = listening_test(versions, SR, seed=1)
    b = listening_test(versions, SR, seed=2)
    expected = {"slightly noisy", "mixture", HIDDEN_REFERENCE, LOW_ANCHOR}
    assert set(a.order.values()) == set(b.order.values()) == expected
    assert list(a.order) == ["A", "B", "C", "D"]
    orders = {tuple(listening_test(versions, SR, seed=s).order.values()) for s in range(6)}
    assert len(orders) > 1  # the order changes with the seed
    # nothing on screen names a letter's version before the reveal
    assert a.table.value == "" and a.results is None


def test_drive_ratings_reveal_and_save_json(versions, tmp_path):
    test = listening_test(versions, SR, seed=3, listener="ada", path=tmp_path / "ada.json")
    wanted = {HIDDEN_REFERENCE: 100, "slightly noisy": 80, "mixture": 20, LOW_ANCHOR: 35}
    for letter, name in test.order.items():
        test.sliders[letter].value = wanted[name]
    test.controls["reveal"].click()
    rows = {r["version"]: r for r in test.results}
    assert {name: r["rating"] for name, r in rows.items()} == wanted
    # SDR against the reference ranks the versions as a listener would
    assert rows[HIDDEN_REFERENCE]["sdr_db"] > rows["slightly noisy"]["sdr_db"] > rows["mixture"]["sdr_db"]
    assert "mixture" in test.table.value and "museval" in test.table.value
    assert test.figure.value[:4] == b"\x89PNG"
    assert test.controls["reveal"].disabled
    test.controls["save"].click()
    data = json.loads((tmp_path / "ada.json").read_text())
    assert data["listener"] == "ada" and data["ratings"] == wanted and data["reference"] == "true vocals"
    assert data["sdr_db"][HIDDEN_REFERENCE] > 100 and "museval" in data["measure"]
    assert not list(tmp_path.glob(".*tmp"))


def test_ratings_reach_the_class_database_only_when_save_is_pressed(versions, tmp_path, monkeypatch):
    from kit import classroom

    db = tmp_path / "class.sqlite"
    monkeypatch.setenv("KIT_CLASS_DB", str(db))
    classroom.record("07", "my_si_sdr", "pass")  # the lesson's check ran before
    test = listening_test(versions, SR, seed=4, path=tmp_path / "r.json", lesson="07")
    for letter in test.order:
        test.sliders[letter].value = 70
    test.controls["reveal"].click()
    assert len(classroom.read_results()) == 1 and not (tmp_path / "r.json").exists()  # Save not pressed yet
    test.controls["save"].click()
    row = classroom.read_results()[-1]
    assert (row["lesson"], row["item"]) == ("07", "listening test")
    value = json.loads(row["value"])
    assert value["ratings"] == dict.fromkeys(test.order.values(), 70) and value["revealed_before_saving"]
    assert value["sdr_db"][HIDDEN_REFERENCE] > 100
    assert "and to the class results" in test.note.value


def test_ratings_from_a_class_pool(versions, tmp_path):
    for i, who in enumerate(("ada", "bo", "cy")):
        test = listening_test(versions, SR, seed=i, listener=who)
        for letter, name in test.order.items():
            test.sliders[letter].value = 90 - 10 * i if name == "slightly noisy" else 10
        test.save(tmp_path / f"{who}.json")
    pooled = pool_ratings(sorted(tmp_path.glob("*.json")))
    assert pooled["listeners"] == 3
    assert pooled["ratings"]["slightly noisy"] == [90.0, 80.0, 70.0] and pooled["median"]["slightly noisy"] == 80.0
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InputFileError, match="not a ratings file"):
        pool_ratings([bad])


def test_low_anchor_removes_the_highs_and_bad_input_is_refused(versions):
    ref = versions["true vocals"]
    anchor = make_low_anchor(ref, SR)
    spec = np.abs(np.fft.rfft(anchor[0]))
    freqs = np.fft.rfftfreq(anchor.shape[1], 1 / SR)
    orig = np.abs(np.fft.rfft(ref[0]))
    assert spec[freqs > 5000].sum() < 1e-3 * orig[freqs > 5000].sum()
    assert anchor.shape == ref.shape
    with pytest.raises(OptionError, match="at least one version"):
        listening_test({"only": ref}, SR)
    with pytest.raises(OptionError, match="same excerpt"):
        listening_test({"ref": ref, "short": ref[:, :100]}, SR)
    with pytest.raises(OptionError, match="not one of the versions"):
        listening_test(versions, SR, reference="drums")
