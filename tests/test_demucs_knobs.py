"""--shifts, --overlap, --segment, --jobs and --two-stems on `kit separate` / `kit backing`.

Demucs runs here as RANDOM-weight models of the real HTDemucs class (the
``demucs_model_dir`` fixture), not the pretrained ones: these tests check the
command line (checks, one-line errors, what reaches the separator, files
written), not separation quality.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import kit
from kit import cli
from kit.separators import registry


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """2 s of the bundled song as a WAV file."""
    y, sr = kit.examples.load_song(duration_s=2.0)
    path = tmp_path_factory.mktemp("song") / "song.wav"
    kit.save(path, y, sr)
    return path


@pytest.fixture
def no_decoding(monkeypatch):
    """Any attempt to decode the song (the start of the slow part) fails the test."""
    import kit.audio
    import kit.separators.api

    def refuse(*a, **k):
        raise AssertionError("the song was decoded before the options were checked")

    monkeypatch.setattr(kit.audio, "load", refuse)
    monkeypatch.setattr(kit.separators.api, "load", refuse)


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("flags, says", [
    (["--shifts", "1.5"], "--shifts 1.5 is not a whole number"),
    (["--shifts", "-1"], "--shifts -1 is negative"),
    (["--overlap", "1"], "--overlap 1 is out of range; it must be at least 0 and below 1"),
    (["--overlap", "lots"], "--overlap lots is not a number"),
    (["--segment", "0"], "--segment 0 must be a positive number of seconds"),
    (["--segment", "8"], "--segment 8: 'htdemucs' was trained on 7.8 s segments"),
    (["--segment", "0.5"], "--segment 0.5 is too short; use 1 to 7.8 s"),
    (["--jobs", "two"], "--jobs two is not a whole number"),
    (["--two-stems", "drum"], "--two-stems drum: 'htdemucs' has no stem 'drum'; choose one of drums, bass"),
])
def test_separate_refuses_bad_values_in_one_line_before_decoding(song, demucs_model_dir, tmp_path, capsys,
                                                                 no_decoding, flags, says):
    out = tmp_path / "stems"
    code, stdout, err = run_cli(["separate", song, "--model", "htdemucs", "--model-dir", demucs_model_dir,
                                 "--device", "cpu", "-o", out, *flags], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kit: error: ") and says in lines[0], err
    assert not out.exists() and stdout == ""


@pytest.mark.parametrize("flags, says", [
    (["--overlap", "-0.1"], "--overlap -0.1 is out of range"),
    (["--segment", "9"], "--segment 9: 'htdemucs' was trained on 7.8 s segments"),
    (["--shifts", "x"], "--shifts x is not a whole number"),
])
def test_backing_refuses_bad_values_in_one_line_before_decoding(song, demucs_model_dir, tmp_path, capsys,
                                                                no_decoding, flags, says):
    out = tmp_path / "backing.wav"
    code, stdout, err = run_cli(["backing", song, "--model", "htdemucs", "--model-dir", demucs_model_dir,
                                 "--drop", "vocals", "-o", out, *flags], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kit: error: ") and says in lines[0], err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["separate", "backing"])
def test_a_model_without_the_knob_is_an_error(song, tmp_path, capsys, no_decoding, command):
    extra = ["--drop", "vocals", "-o", tmp_path / "b.wav"] if command == "backing" else ["-o", tmp_path / "s"]
    code, _, err = run_cli([command, song, "--model", "unet", "--shifts", "2", *extra], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "--shifts: 'unet' is not a Demucs model" in err
    assert list(tmp_path.iterdir()) == []


def test_auto_says_what_it_picked_when_the_knob_does_not_fit(song, tmp_path, capsys, monkeypatch, no_decoding):
    import huggingface_hub.constants

    # no Demucs weights anywhere: auto picks unet
    monkeypatch.delenv("KIT_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    code, _, err = run_cli(["separate", song, "--segment", "5", "-o", tmp_path / "s"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "--model auto picked 'unet', which is not a Demucs model" in err
    assert not (tmp_path / "s").exists()


def test_knobs_reach_the_separator_and_its_cache_key(song, demucs_model_dir, tmp_path, capsys, monkeypatch):
    from kit.cache import separator_identity

    made = []
    real = registry.get_separator

    def spy(name, **options):
        made.append(real(name, **options))
        return made[-1]

    monkeypatch.setattr(registry, "get_separator", spy)
    out = tmp_path / "stems"
    code, stdout, err = run_cli(["separate", song, "--model", "htdemucs", "--model-dir", demucs_model_dir,
                                 "--shifts", "0", "--overlap", "0.5", "--segment", "1.5", "--jobs", "1",
                                 "--two-stems", "Vocals", "-o", out, "--no-cache", "--device", "cpu"], capsys)
    assert code == 0, err
    sep = made[0]
    assert (sep.shifts, sep.overlap, sep.segment, sep.jobs) == (0, 0.5, 1.5, 1)
    assert sep.cache_settings == {"segment": 1.5, "shifts": 0, "overlap": 0.5, "seed": 0}
    # the settings that change the stems change the cache key; jobs (speed only) does not
    key = separator_identity(sep)
    other = kit.get_separator("htdemucs", model_dir=demucs_model_dir, shifts=1, overlap=0.5, segment=1.5)
    same = kit.get_separator("htdemucs", model_dir=demucs_model_dir, shifts=0, overlap=0.5, segment=1.5, jobs=2)
    assert separator_identity(other) != key and separator_identity(same) == key

    # --two-stems vocals: vocals and no_vocals (the other three stems added up), nothing else
    assert sorted(p.name for p in out.iterdir()) == ["no_vocals.wav", "vocals.wav"]
    assert stdout.split() == [str(out / "vocals.wav"), str(out / "no_vocals.wav")]
    y, sr = kit.load(song)
    stems = kit.separate(y, sr, model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0,
                         overlap=0.5, segment=1.5, cache=False)
    no_vocals, _ = kit.load(out / "no_vocals.wav")
    vocals, _ = kit.load(out / "vocals.wav")
    assert np.allclose(no_vocals, stems["drums"] + stems["bass"] + stems["other"], atol=1e-5)
    assert np.allclose(vocals, stems["vocals"], atol=1e-6)


def test_backing_with_knobs_through_a_real_process(song, demucs_model_dir, tmp_path):
    out = tmp_path / "backing.wav"
    proc = subprocess.run([sys.executable, "-m", "kit", "backing", str(song), "--model", "htdemucs",
                           "--model-dir", str(demucs_model_dir), "--drop", "vocals", "--shifts", "0",
                           "--overlap", "0.1", "--device", "cpu", "-o", str(out), "--no-cache"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    # the backing is the three other stems of a separation with these knobs, not with the defaults
    y, sr = kit.load(song)
    asked = kit.separate(y, sr, model="htdemucs", model_dir=demucs_model_dir, device="cpu", shifts=0, overlap=0.1,
                         cache=False)
    default = kit.separate(y, sr, model="htdemucs", model_dir=demucs_model_dir, device="cpu", cache=False)
    backing, _ = kit.load(out)
    assert np.allclose(backing, asked["drums"] + asked["bass"] + asked["other"], atol=1e-5)
    assert not np.allclose(backing, default["drums"] + default["bass"] + default["other"], atol=1e-3)
    proc = subprocess.run([sys.executable, "-m", "kit", "backing", str(song), "--model", "htdemucs",
                           "--model-dir", str(demucs_model_dir), "--drop", "vocals", "--shifts", "-2",
                           "-o", str(tmp_path / "again.wav")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == ["kit: error: --shifts -2 is negative; give a whole number >= 0, "
                                                "e.g. --shifts 2."]
    assert not (tmp_path / "again.wav").exists()


@pytest.mark.parametrize("jobs", [None, "1", "3"])
def test_jobs_is_the_thread_count_torch_separates_with(song, demucs_model_dir, tmp_path, capsys, monkeypatch, jobs):
    import torch

    from kit.separators import demucs as kd

    seen, real = [], kd.apply_batched

    def watching(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(kd, "apply_batched", watching)
    before = torch.get_num_threads()
    flags = [] if jobs is None else ["--jobs", jobs]
    code, _, err = run_cli(["separate", song, "--model", "htdemucs", "--model-dir", demucs_model_dir, "--shifts", "0",
                            "--device", "cpu", "-o", tmp_path / "s", "--no-cache", *flags], capsys)
    assert code == 0, err
    # --jobs N: torch runs the network with N threads, and gets its own setting back afterwards
    assert seen == [before if jobs is None else int(jobs)]
    assert torch.get_num_threads() == before
