"""SDR / SI-SDR, the scoreboard, `kit evaluate`, and loading a MUSDB18-layout folder."""

import json
import subprocess
import sys

import numpy as np
import pytest

import kit
from kit.errors import InputFileError, OptionError
from kit.evaluate import (
    MAX_DB,
    compute_framewise,
    compute_sdr,
    compute_sdr_per_channel,
    compute_si_sdr,
    evaluate,
    make_scoreboard,
)
from kit.musdb import find_musdb_tracks, load_musdb_track

SR = 22050
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def multitrack():
    return kit.examples.make_multitrack(4.0, sr=SR)


# --- metrics -------------------------------------------------------------------

def test_perfect_estimate_scores_very_high_and_silence_or_noise_very_low(multitrack):
    _, stems = multitrack
    ref = stems["vocals"]
    assert compute_sdr(ref, ref) > 100 and compute_si_sdr(ref, ref) > 100
    # silence: its error is the whole reference, 0 dB SDR (museval would skip it); SI-SDR bottoms out
    assert compute_sdr(ref, np.zeros_like(ref)) == 0.0
    assert compute_sdr_per_channel(ref, np.zeros_like(ref)) == -MAX_DB
    assert compute_si_sdr(ref, np.zeros_like(ref)) == -MAX_DB
    noise = RNG.standard_normal(ref.shape)
    assert compute_sdr(ref, noise) < -10 and compute_si_sdr(ref, noise) < -20
    assert compute_sdr_per_channel(ref, noise) < -10


def test_scores_match_a_known_signal_to_noise_ratio():
    ref = RNG.standard_normal((2, 4 * SR))
    noise = RNG.standard_normal(ref.shape)
    noise *= np.sqrt(np.sum(ref**2) / np.sum(noise**2)) / 10.0  # exactly 20 dB below
    assert compute_si_sdr(ref, ref + noise) == pytest.approx(20.0, abs=0.1)
    # museval's SDR is the signal-to-noise ratio itself
    assert compute_sdr(ref, ref + noise) == pytest.approx(20.0, abs=1e-9)
    # the 512-tap filter explains ~512 / 88200 of the noise: per-channel SDR a hair above 20
    assert 20.0 <= compute_sdr_per_channel(ref, ref + noise) < 20.2


def test_gain_is_forgiven_by_si_sdr_and_per_channel_sdr_but_not_by_sdr(multitrack):
    _, stems = multitrack
    ref = stems["drums"]
    assert compute_si_sdr(ref, 0.3 * ref) > 100
    assert compute_sdr_per_channel(ref, 0.3 * ref) > 100
    assert compute_sdr(ref, 0.3 * ref) == pytest.approx(-20 * np.log10(0.7), abs=1e-6)


def test_windows_where_the_reference_is_silent_are_skipped():
    ref = RNG.standard_normal((1, 4 * SR))
    ref[:, : 2 * SR] = 0.0
    est = ref + 0.1 * RNG.standard_normal(ref.shape)
    for metric in ("sdr", "sdr_per_channel", "si_sdr"):
        frames = compute_framewise(ref, est, sr=SR, metric=metric, window_s=1.0)
        assert frames.shape == (4,) and np.isnan(frames[:2]).all() and (frames[2:] > 15).all(), metric
    frames = compute_framewise(ref, est, sr=SR, metric="sdr", window_s=1.0)
    assert compute_sdr(ref, est, sr=SR, window_s=1.0) == pytest.approx(np.median(frames[2:]))
    assert np.isnan(compute_sdr(np.zeros((1, SR)), est[:, :SR]))


def test_evaluate_table_rows_json_and_derived_accompaniment(multitrack):
    mix, stems = multitrack
    est = {"vocals": stems["vocals"] + 0.01 * RNG.standard_normal(mix.shape),
           "accompaniment": mix - stems["vocals"]}
    table = evaluate(stems, est, SR)
    assert [r["stem"] for r in table.rows] == ["vocals", "accompaniment"]
    assert table["vocals"]["windows"] == 4
    assert 10 < table["vocals"]["sdr_db"] < 100 and table["accompaniment"]["sdr_db"] > 100
    assert "true accompaniment = drums + bass + other" in table.notes
    data = json.loads(table.to_json())
    assert data["stems"][0]["stem"] == "vocals" and "sdr_db" in data["mean"]
    assert "vocals" in table.to_text()
    with pytest.raises(OptionError, match="No stem names match"):
        evaluate(stems, {"piano": mix}, SR)
    with pytest.raises(OptionError, match="shape"):
        evaluate(stems, {"vocals": mix[:, :100]}, SR)


def test_kit_evaluate_is_the_function_even_after_importing_the_module(multitrack):
    import kit.evaluate  # noqa: F401  (must not shadow the function)

    _, stems = multitrack
    assert kit.evaluate(stems, stems, SR, window_s=None)["bass"]["sdr_db"] > 100


def test_evaluate_module_is_import_light():
    code = ("import sys, kit.evaluate; bad = {'torch', 'matplotlib', 'fast_bss_eval', 'librosa'} & set(sys.modules); "
            "print(sorted(bad)); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_scoreboard_ranks_oracles_above_methods_above_the_mixture(multitrack):
    mix, stems = multitrack
    board = make_scoreboard(mix, stems, SR, separators={"center": "center", "hpss": "hpss"})
    ranked = [name for name, _ in board.ranking]
    assert ranked[0].startswith("oracle_")
    scores = dict(board.ranking)
    assert scores["oracle_irm"] > scores["mixture"] + 10
    assert "hpss" not in board.tables and any("hpss" in n for n in board.notes)  # no true harmonic stem
    assert {"method", "stem", "sdr_db", "si_sdr_db"} <= set(board.rows[0])
    assert json.loads(board.to_json())["ranking"][0]["method"] == ranked[0]
    assert "oracle_irm" in board.to_text()


def test_scoreboard_mean_compares_four_stem_oracles_and_two_stem_methods_on_the_same_stems(multitrack):
    mix, stems = multitrack
    board = make_scoreboard(mix, stems, SR, separators={"center": "center"})
    assert board.mean_stems == ["vocals", "accompaniment"]
    irm = board.tables["oracle_irm"]
    # the oracle's accompaniment is its drums + bass + other, scored against the true sum of those
    summed = sum(stems[k].astype(np.float64) for k in ("drums", "bass", "other"))
    est = kit.make_oracle("irm", stems).separate(mix, SR)
    want = compute_sdr(summed, sum(est[k].astype(np.float64) for k in ("drums", "bass", "other")), sr=SR, window_s=1.0)
    assert irm["accompaniment"]["sdr_db"] == pytest.approx(want, abs=1e-6)
    mean_irm = (irm["vocals"]["sdr_db"] + irm["accompaniment"]["sdr_db"]) / 2
    line = next(row for row in board.to_text().splitlines() if row.split()[1:2] == ["oracle_irm"])
    assert float(line.split()[-1]) == pytest.approx(mean_irm, abs=0.01)  # not the mean of five stems
    # the lower bound's accompaniment is the mix itself
    mixture = board.tables["mixture"]["accompaniment"]["sdr_db"]
    assert mixture == pytest.approx(compute_sdr(mix - stems["vocals"], mix, sr=SR, window_s=1.0), abs=1e-6)
    assert "mean: of vocals, accompaniment only" in board.to_text()
    assert json.loads(board.to_json())["mean_stems"] == ["vocals", "accompaniment"]


def test_scoreboard_of_four_stem_methods_alone_keeps_four_stems(multitrack):
    mix, stems = multitrack
    board = make_scoreboard(mix, stems, SR, separators={})
    assert board.mean_stems == list(stems) and "accompaniment" not in [r["stem"] for r in board.rows]
    assert "mean: of" not in board.to_text()


# --- `kit evaluate` ----------------------------------------------------------------

def _kit(*args):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_cli_evaluate_json_errors_and_trimming(tmp_path, multitrack):
    mix, stems = multitrack
    ref, est, bad, long = (tmp_path / d for d in ("ref", "est", "bad", "long"))
    for d in (ref, est, bad, long):
        d.mkdir()
    for name, y in stems.items():
        kit.save(ref / f"{name}.wav", y, SR)
    kit.save(ref / "mixture.wav", mix, SR)
    oracle = kit.separators.oracle.make_oracle("irm", stems).separate(mix, SR)
    kit.save(est / "vocals.wav", oracle["vocals"][:, :-300], SR)  # 300 samples short: trimmed
    kit.save(est / "accompaniment.wav", mix - oracle["vocals"], SR)
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(est), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    rows = {r["stem"]: r for r in data["stems"]}
    assert set(rows) == {"vocals", "accompaniment"} and rows["vocals"]["sdr_db"] > 10
    assert "trimmed to the shortest" in proc.stderr

    kit.save(bad / "piano.wav", mix, SR)
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(bad))
    assert proc.returncode != 0 and "kit: error: No stem names match" in proc.stderr

    kit.save(long / "vocals.wav", np.concatenate([mix, mix], axis=1), SR)
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(long))
    assert proc.returncode != 0 and "Lengths differ by 4.0 s" in proc.stderr

    proc = _kit("evaluate", "--reference", str(tmp_path / "nowhere"), "--estimate", str(est))
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


# --- MUSDB18 layout ----------------------------------------------------------------

@pytest.fixture()
def fake_musdb(tmp_path):
    """A two-track MUSDB18-HQ layout written from the synthetic multitrack."""
    for subset, name, seed in (("train", "A Band - First Song", 0), ("test", "B Band - Second Song", 1)):
        folder = tmp_path / subset / name
        folder.mkdir(parents=True)
        mix, stems = kit.examples.make_multitrack(1.5, sr=SR, seed=seed)
        kit.save(folder / "mixture.wav", mix, SR)
        for stem, y in stems.items():
            kit.save(folder / f"{stem}.wav", y, SR)
    return tmp_path


def test_load_musdb_track_by_name_and_index(fake_musdb):
    assert [p.name for p in find_musdb_tracks(fake_musdb)] == ["A Band - First Song", "B Band - Second Song"]
    mix, stems, sr = load_musdb_track(fake_musdb, "B Band - Second Song")
    assert sr == SR and sorted(stems) == ["bass", "drums", "other", "vocals"]
    assert np.max(np.abs(sum(stems.values()) - mix)) < 1e-5
    expected, _ = kit.examples.make_multitrack(1.5, sr=SR, seed=1)
    np.testing.assert_allclose(mix, expected, atol=1e-6)
    mix0, _, _ = kit.examples.load_musdb_track(fake_musdb, 0, duration_s=0.5)
    assert mix0.shape == (2, SR // 2)
    _, _, sr_test = load_musdb_track(fake_musdb, 0, subset="test")
    assert sr_test == SR


def test_load_musdb_track_explains_mistakes(fake_musdb, tmp_path):
    with pytest.raises(OptionError, match="Did you mean: 'A Band - First Song'"):
        load_musdb_track(fake_musdb, "A Band - First Sng")
    with pytest.raises(OptionError, match="out of range"):
        load_musdb_track(fake_musdb, 5)
    with pytest.raises(InputFileError, match="does not exist"):
        load_musdb_track(tmp_path / "missing", 0)
    (fake_musdb / "train" / "A Band - First Song" / "bass.wav").unlink()
    with pytest.raises(InputFileError, match="no bass file"):
        load_musdb_track(fake_musdb, "A Band - First Song")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="No MUSDB18 tracks"):
        find_musdb_tracks(empty)


@pytest.fixture(scope="module")
def scored_folders(tmp_path_factory, multitrack):
    """True stems, and a vocal estimate whose error grows over time: windows, their length and the
    whole file each give another score."""
    mix, stems = multitrack
    folder = tmp_path_factory.mktemp("scored")
    ref, est = folder / "ref", folder / "est"
    ref.mkdir()
    est.mkdir()
    for name, y in stems.items():
        kit.save(ref / f"{name}.wav", y, SR)
    vocals = stems["vocals"]
    ramp = np.linspace(0.0, 1.0, vocals.shape[1], dtype=np.float32) ** 3
    noise = np.random.default_rng(0).standard_normal(vocals.shape).astype(np.float32)
    estimate = vocals + 0.3 * np.std(vocals) * ramp * noise
    kit.save(est / "vocals.wav", estimate, SR)
    return ref, est, kit.load(ref / "vocals.wav")[0], kit.load(est / "vocals.wav")[0]


@pytest.mark.parametrize("args, window_s", [([], 1.0), (["--window-s", "0.5"], 0.5), (["--whole"], None)],
                         ids=["default-1s", "window-0.5s", "whole"])
def test_cli_evaluate_window_and_whole_give_the_librarys_score(scored_folders, args, window_s):
    ref, est, true_vocals, est_vocals = scored_folders
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(est), "--json", *args)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(proc.stdout)
    assert data["window_s"] == window_s
    [row] = data["stems"]
    assert row["sdr_db"] == pytest.approx(compute_sdr(true_vocals, est_vocals, sr=SR, window_s=window_s), abs=1e-6)
    # the three settings give three different answers here, so an option that is ignored fails
    others = {w: compute_sdr(true_vocals, est_vocals, sr=SR, window_s=w) for w in (1.0, 0.5, None) if w != window_s}
    assert all(abs(row["sdr_db"] - s) > 0.5 for s in others.values()), (row["sdr_db"], others)


def test_cli_json_modes_exit_non_zero_on_failure_with_one_line_and_no_json(scored_folders, tmp_path):
    ref, _, _, _ = scored_folders
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(tmp_path / "nowhere"), "--json")
    assert proc.returncode == 2 and proc.stdout == ""  # a KitError's exit code: the user's mistake
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kit: error: ") and "does not exist" in lines[0]
    proc = _kit("evaluate", "--reference", str(ref), "--estimate", str(ref), "--json", "--window-s", "0")
    assert proc.returncode == 2 and proc.stdout == "" and "--window-s 0" in proc.stderr
    proc = _kit("doctor", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["models"]
