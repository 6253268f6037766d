"""Songs of any length: the length read from the header, separation a block at a time in flat memory.

Long files are generated: one minute of pink noise encoded as MP3, then copied end
to end by FFmpeg (no re-encoding), so a 6-hour file takes a second or two to make.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import ok, run_kit

import kit
from kit.errors import DownloadError, InputFileError
from kit.ffmpeg import run_ffmpeg
from kit.separators.blocks import estimate_separation

SEGMENT = 512 * 1024  # unet's segment in samples at 44.1 kHz


def make_long_mp3(path: Path, minutes: float, *, kbps: int = 32, channels: int = 2, sr: int = 44100) -> Path:
    one = path.with_name(f"one_{kbps}k_{channels}_{sr}.mp3")
    if not one.exists():  # pink noise, and a tone on the right: a stereo mix
        sources = ["-f", "lavfi", "-i", f"anoisesrc=d=60:c=pink:r={sr}:a=0.1"]
        if channels == 2:
            sources += ["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate={sr}:duration=60",
                        "-filter_complex", "[0:a][1:a]amerge=inputs=2"]
        run_ffmpeg([*sources, "-ac", str(channels), "-b:a", f"{kbps}k", str(one)])
    run_ffmpeg(["-stream_loop", str(max(0, round(minutes) - 1)), "-i", "file:" + str(one), "-c", "copy",
                "-t", f"{minutes * 60:.3f}", str(path)])
    return path


@pytest.fixture(scope="module")
def song_44s(tmp_path_factory) -> Path:
    """44 s of the bundled song (four unet segments), as float WAV."""
    y, sr = kit.examples.load_song()
    path = tmp_path_factory.mktemp("song") / "song44.wav"
    kit.save(path, np.tile(y, 4), sr)
    return path


def test_length_comes_from_the_header_without_decoding(tmp_path):
    song = make_long_mp3(tmp_path / "hour.mp3", 60)
    info = kit.probe_audio(song)
    assert abs(info.duration_s - 3600) < 2 and info.sr == 44100 and info.channels == 2
    # cut to a tenth: the header still says one hour, so the length was not found by decoding
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(song.read_bytes()[: song.stat().st_size // 10])
    assert abs(kit.probe_audio(cut).duration_s - 3600) < 2
    estimate = estimate_separation(6 * 3600, model="unet", device="cpu")
    assert estimate["text"] == "this song is 6 h 00 min; separating with unet on cpu takes about 19 minutes"
    assert estimate["blocks"]


def test_unet_blocks_equal_the_whole_song(song_44s):
    y, sr = kit.load(song_44s)
    whole = kit.separate(y, sr, model="unet", device="cpu", cache=False)
    blocks = list(kit.separate_blocks(song_44s, model="unet", device="cpu", block_s=12))
    # the last block takes the rest when it is shorter than a block and its context
    assert [round(t, 2) for t, _ in blocks] == [0.0, 11.89, 23.78]
    for name, stem in whole.items():
        joined = np.concatenate([stems[name] for _, stems in blocks], axis=1)
        assert joined.shape == stem.shape
        assert np.max(np.abs(joined - stem)) < 1e-4, name


def test_blocks_of_a_48k_song_resample_as_one_stream():
    y, sr = kit.examples.load_song()
    y = kit.audio.resample(np.tile(y, 3), sr, sr=48000)
    whole = kit.separate(y, 48000, model="center", cache=False)
    joined = np.concatenate([s["vocals"] for _, s in kit.separate_blocks(y, 48000, model="center", block_s=7)],
                            axis=1)
    assert joined.shape == y.shape
    assert np.max(np.abs(joined - whole["vocals"])) < 1e-4


def test_separate_and_backing_in_blocks_match_the_whole_song(song_44s, tmp_path):
    blocks = {"KIT_STREAM_MINUTES": "0.1", "KIT_BLOCK_S": "12"}
    whole = {"KIT_STREAM_MINUTES": "100"}
    proc = run_kit("separate", song_44s, "--model", "unet", "--device", "cpu", "--no-cache", "-o", "b",
                   cwd=tmp_path, env_extra=blocks)
    ok(proc)
    assert "in blocks, so memory stays flat" in proc.stderr and "% done, about" in proc.stderr
    ok(run_kit("separate", song_44s, "--model", "unet", "--device", "cpu", "--no-cache", "-o", "w",
               cwd=tmp_path, env_extra=whole))
    for name in ("vocals", "accompaniment"):
        a, _ = sf.read(tmp_path / "b" / f"{name}.wav", dtype="float32")
        b, _ = sf.read(tmp_path / "w" / f"{name}.wav", dtype="float32")
        assert a.shape == b.shape and np.max(np.abs(a - b)) < 1e-4
    for env, out in ((blocks, "b.wav"), (whole, "w.wav")):
        ok(run_kit("backing", song_44s, "--model", "unet", "--device", "cpu", "--no-cache", "--drop", "vocals",
                   "--gain", "accompaniment=-3", "-o", out, cwd=tmp_path, env_extra=env))
    a, _ = sf.read(tmp_path / "b.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "w.wav", dtype="float32")
    assert a.shape == b.shape and np.max(np.abs(a - b)) < 1e-4


def _measure_kit(args, *, cwd, env_extra) -> dict:
    """Run `python -m kit ARGS` in a child process; its exit code, stderr and peak RSS in MB."""
    code = ("import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, "
            "text=True); print(json.dumps({'rc': p.returncode, 'err': p.stderr, "
            "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3}))")
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "kit", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, **env_extra}, timeout=1200)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _separate_part(song: Path, first: int, stop: int) -> tuple[dict, int]:
    """unet on samples first..stop of the song, with the segment-aligned context a separation of them needs;
    and where the part read ends (the song's end, when it reaches it)."""
    a = max(0, (first // SEGMENT - 2) * SEGMENT)
    y, sr = kit.load(song, start_s=a / 44100, duration_s=(stop + SEGMENT + 4096 - a) / 44100)
    stems = kit.separate(y, sr, model="unet", device="cpu", cache=False)
    return {k: v[:, first - a:stop - a] for k, v in stems.items()}, a + y.shape[1]


@pytest.mark.slow
def test_a_long_song_separates_in_flat_memory(tmp_path):
    """16 and 9 minutes through `kit separate`: the same peak memory, under 1.5 GB (the whole song at once
    grows with it: 1.38 GB at 12 minutes); the first and last minute equal a separation of those minutes."""
    long_song = make_long_mp3(tmp_path / "long.mp3", 16)
    short_song = make_long_mp3(tmp_path / "short.mp3", 9)  # long enough for one full block with context
    runs = {}
    for name, song, env in (("long", long_song, {}), ("short", short_song, {"KIT_STREAM_MINUTES": "1"})):
        runs[name] = _measure_kit(["separate", song, "--model", "unet", "--device", "cpu", "--no-cache",
                                   "-o", name], cwd=tmp_path, env_extra=env)
        assert runs[name]["rc"] == 0, runs[name]["err"]
    assert "this song is 16 min 00 s; separating with unet on cpu" in runs["long"]["err"]
    assert runs["long"]["peak_mb"] < 1500
    assert runs["long"]["peak_mb"] - runs["short"]["peak_mb"] < 200, runs  # 7 more minutes, no more memory
    print({k: round(v["peak_mb"]) for k, v in runs.items()})
    n = sf.info(str(tmp_path / "long" / "vocals.wav")).frames
    assert abs(n - 16 * 60 * 44100) < 44100
    minute = 60 * 44100
    for first in (0, n - minute):
        want, song_end = _separate_part(long_song, first, first + minute)
        if first:
            assert song_end == n  # the stems are as long as the song
        for name, stem in want.items():
            got, _ = sf.read(tmp_path / "long" / f"{name}.wav", start=first, frames=minute, dtype="float32")
            assert np.max(np.abs(got.T - stem)) < 1e-4, (name, first)


def test_a_stopped_long_job_leaves_no_partial_file(tmp_path):
    song = make_long_mp3(tmp_path / "long.mp3", 30)
    out = tmp_path / "stems"
    proc = subprocess.Popen([sys.executable, "-m", "kit", "separate", str(song), "--model", "unet", "--device",
                             "cpu", "-o", str(out)], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*.partial.wav")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert list(out.glob("*.partial.wav")), "the job never started writing"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # 130 from kit's handler, or killed by SIGINT (-2) when the interrupt lands again while Python shuts down
    # (seen once under load): a shell reports both as 130
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "no partial output was kept" in err
    assert not out.exists()  # the folder it made is gone too


def test_a_truncated_long_file_fails_without_leaving_stems(tmp_path):
    song = make_long_mp3(tmp_path / "long.mp3", 20)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(song.read_bytes()[: song.stat().st_size // 20])  # the header still says 20 minutes
    proc = run_kit("separate", cut, "--model", "center", "-o", "out", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "kit: error: " in proc.stderr.splitlines()[-1] and "looks truncated or corrupt" in proc.stderr
    assert not (tmp_path / "out").exists()


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def test_app_refuses_a_six_hour_upload_before_decoding_it(tmp_path):
    import datetime

    import ipywidgets as widgets

    from kit.ui import karaoke_maker

    song = make_long_mp3(tmp_path / "dj set.mp3", 360, kbps=8, channels=1, sr=8000)
    app = karaoke_maker(model="center", device="cpu", workdir=tmp_path / "work")
    app.source.value = "Upload a file"
    data = song.read_bytes()
    up = widgets.FileUpload()
    up.value = ({"name": "dj set.mp3", "content": memoryview(data), "size": len(data), "type": "",
                 "last_modified": datetime.datetime.now()},)
    before = _rss_mb()
    app.upload.value = up.value
    grew = _rss_mb() - before
    assert ("This file is 6 hours long; the karaoke maker takes songs up to 20 minutes. Cut the part you want, "
            "or use `kit separate` on the command line.") in app.upload_error.value  # beside the upload button
    assert grew < 150, f"the kernel grew by {grew:.0f} MB"  # decoding it would hold 0.7 GB even at 8 kHz mono
    with pytest.raises(InputFileError, match="This file is 6 hours long"):
        kit.audio.check_song_length(song)


def test_links_to_private_addresses_are_refused_on_a_shared_server(monkeypatch, tmp_path):
    from kit.fetch import fetch_audio

    monkeypatch.setenv("KIT_APP_BIND", "0.0.0.0")
    for url in ("http://127.0.0.1:8888/api/kernels", "http://localhost/x.mp3", "http://10.1.2.3/song.mp3",
                "http://169.254.169.254/latest/meta-data/", "http://[::1]/song.mp3"):
        with pytest.raises(DownloadError, match="this server's own network"):
            fetch_audio(url, out_dir=tmp_path / "never-made", timeout_s=1, retries=0)
    assert not (tmp_path / "never-made").exists()
    from kit.fetch import check_public_host
    check_public_host("http://93.184.215.14/song.mp3")  # a public address passes
    monkeypatch.setenv("KIT_APP_BIND", "127.0.0.1")  # a laptop: links work as before
    check_public_host("http://127.0.0.1:8888/song.mp3")
    monkeypatch.delenv("KIT_APP_BIND")
    check_public_host("http://10.1.2.3/song.mp3")


def test_batch_takes_long_songs_a_block_at_a_time(song_44s, tmp_path):
    from kit.batch import RECEIPT_NAME

    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "long.wav").write_bytes(song_44s.read_bytes())
    env = {"KIT_STREAM_MINUTES": "0.1", "KIT_BLOCK_S": "12", "KIT_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_kit("batch", folder, "--model", "center", "--out", tmp_path / "out", "--backing", "--drop vocals",
                   cwd=tmp_path, env_extra=env)
    assert proc.returncode == 0, proc.stderr
    song_dir = tmp_path / "out" / "long"
    assert sorted(p.name for p in song_dir.iterdir()) == sorted([RECEIPT_NAME, "accompaniment.wav", "no vocals.wav",
                                                                 "vocals.wav"])
    y, sr = kit.load(song_44s)
    stems = {name: kit.load(song_dir / f"{name}.wav")[0] for name in ("vocals", "accompaniment")}
    backing, _ = kit.load(song_dir / "no vocals.wav")
    assert all(s.shape == y.shape for s in stems.values()) and backing.shape == y.shape
    assert np.max(np.abs(backing - stems["accompaniment"])) < 1e-5  # FFmpeg mixed the stem files
    whole = kit.separate(y, sr, model="center", cache=False)
    assert np.max(np.abs(stems["vocals"] - whole["vocals"])) < 1e-3  # center at the joins: cross-faded
