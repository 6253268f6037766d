"""How long the karaoke maker makes a singer wait for sound after "Separate the whole song".

The app separates a long song part by part (``kit/ui/separate_parts.py``) and shows
the mixer, playable in the page, as soon as the first part (one of the model's
segments: 11.7 s for ``unet``, one network call for Demucs) is separated and
encoded (``kit/ui/web_mixer.py``). This script times that, in the app's own click
handler (``KaraokeMaker._on_whole``), from the click to the moment the mixer with
the first part's audio is built (its MP3 parts are then on their way to the page;
decoding them there takes a few tens of ms). Wall and CPU seconds are printed: on a
machine shared with other work, the CPU seconds over the cores used say what an idle
machine would take. Reference, in the same run: the
separation of the whole song in one go, which is what the app made a singer wait
before (plus building its mixer).

Models: ``unet`` (the real Spleeter weights) and a RANDOM-weight Demucs of the real
htdemucs size (``tests/model_fixtures.py``, ``size="full"``: same compute as the
pretrained model, which cannot be downloaded here). Each model is loaded and run once
on a short clip first, as a preview would have done. The song is the bundled clip
looped to each length.

Run: .venv/bin/python benchmarks/bench_first_sound.py [--minutes 1 4 12] [--models unet htdemucs]
     [--whole-up-to 4]
Target: unet first sound <= 3 s for every length (on a 2-core laptop CPU).

Measured on the shared 2-core test machine at a load average of 11-15 (wall times there are 2-4x
the CPU seconds; the CPU seconds are the figure to compare), before -> after the first part became
one model segment: unet 1 minute 10.2 s (CPU 3.3) -> 5.2 s (CPU 2.6), 4 minutes 8.6 s (CPU 3.0) ->
4.4 s (CPU 2.5); the whole 1-minute song in one go took 12.8-19.4 s (CPU 5.9-6.7). Random-weight
htdemucs (real size), 1 minute: 89 s (CPU 36.0, 11.9 s playable) -> 57 s (CPU 14.2, 4.3 s playable).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children (FFmpeg)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class _FirstSound(BaseException):
    """Raised once the first part is playable: the benchmark does not wait for the rest."""


def _song(minutes: float):
    import kit

    y, sr = kit.examples.load_song()
    n = int(minutes * 60 * sr)
    return np.tile(y, (1, -(-n // y.shape[1])))[:, :n] * np.float32(0.9), sr


def time_first_sound(y, sr, model: str, *, model_dir=None) -> tuple[float, float, float]:
    """Seconds from the click to a playable first part (wall, CPU), and the seconds of song it holds."""
    from kit.ui.karaoke import KaraokeMaker

    app = KaraokeMaker(song=(y, sr), model=model, device="cpu", cache=False, model_dir=model_dir,
                       workdir=tempfile.mkdtemp(prefix="kit-bench-"))
    shown = {}
    original = KaraokeMaker._show_mixer

    def show(self, *args, **kwargs):
        original(self, *args, **kwargs)
        shown["t"], shown["cpu"], shown["ready_s"] = time.perf_counter(), _cpu_s(), self.mixer.ready_s
        raise _FirstSound

    KaraokeMaker._show_mixer = show
    try:
        t0, cpu0 = time.perf_counter(), _cpu_s()
        try:
            app._on_whole(None)
        except _FirstSound:
            pass
    finally:
        KaraokeMaker._show_mixer = original
    if "t" not in shown:
        raise RuntimeError(f"no mixer was shown: {app.error.value or app.status.value}")
    return shown["t"] - t0, shown["cpu"] - cpu0, shown["ready_s"]


def time_whole(y, sr, model: str, *, model_dir=None) -> tuple[float, float]:
    """Seconds (wall, CPU) to separate the whole song in one go."""
    from kit.separators.api import separate

    opts = {"model_dir": model_dir} if model_dir else {}
    t0, cpu0 = time.perf_counter(), _cpu_s()
    separate(y, sr, model=model, device="cpu", cache=False, **opts)
    return time.perf_counter() - t0, _cpu_s() - cpu0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 4.0, 12.0])
    parser.add_argument("--models", nargs="+", default=["unet", "htdemucs"])
    parser.add_argument("--whole-up-to", type=float, default=4.0,
                        help="time the whole-song reference for songs up to this many minutes")
    args = parser.parse_args(argv)

    import torch

    print(f"CPU threads: {torch.get_num_threads()}")
    model_dir = None
    if "htdemucs" in args.models:
        from model_fixtures import write_random_demucs_model

        model_dir = Path(tempfile.mkdtemp(prefix="kit-bench-models-"))
        write_random_demucs_model(model_dir, name="htdemucs", size="full")
    for model in args.models:
        warm, sr = _song(0.2)
        time_whole(warm, sr, model, model_dir=model_dir)  # load the model, as a preview would
        for minutes in args.minutes:
            y, sr = _song(minutes)
            first, first_cpu, ready_s = time_first_sound(y, sr, model, model_dir=model_dir)
            line = (f"{model:9s} {minutes:5.1f} min: first {ready_s:4.1f} s playable after {first:6.2f} s "
                    f"(CPU {first_cpu:6.2f} s)")
            if minutes <= args.whole_up_to:
                whole, whole_cpu = time_whole(y, sr, model, model_dir=model_dir)
                line += (f"; whole song in one go {whole:7.2f} s (CPU {whole_cpu:7.2f} s); "
                         f"first / whole = {first / whole:.3f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
