"""What the app says about the engine: the device in words, the models, a time estimate.

No widgets here, only the words the karaoke maker shows, so they can be tested
without a browser. The device's own words come from :func:`kit.devices.describe_engine`
(``kit.ui`` imports no torch).
"""

from __future__ import annotations

from ..devices import describe_engine

__all__ = ["describe_engine", "list_model_choices", "estimate_seconds", "format_duration"]

# Rough speeds, in seconds of song per second of work, per device. CPU figures: a 3-minute
# song through kit.separate on a busy 2-core AVX2 machine (unet 19x, centre 540x, HPSS 11.6x,
# REPET-SIM 3.7x); Demucs (htdemucs's size) from benchmarks/bench_demucs_cpu.py on the same
# machine when quiet: 1.7-1.9 s of song per second with both cores, 0.96 with one (heap lever
# on, 2026-12-05), so 1.5 here for a laptop's cores shared with the browser; the CUDA ones
# were measured on an H200 through kit (unet 1929x, a Demucs of the real size 87x). They only
# set the order of magnitude of an estimate: after a preview the app uses the speed it measured.
# unet on the CPU is set lower than its 19x: the app's kernel shares the cores (measured
# through the app: 8 s of song per CPU-second, so 16x only with both cores to itself).
_SPEED = {
    "cpu": {"unet": 10.0, "center": 300.0, "hpss": 8.0, "repet": 3.5, "demucs": 1.5},
    "mps": {"unet": 60.0, "center": 300.0, "hpss": 4.0, "repet": 4.0, "demucs": 6.0},
    "cuda": {"unet": 1000.0, "center": 300.0, "hpss": 4.0, "repet": 4.0, "demucs": 80.0},
}
# Demucs "bag" models run several networks one after the other
_BAG_SIZE = {"htdemucs_ft": 4, "mdx": 4, "mdx_extra": 4, "mdx_q": 4, "mdx_extra_q": 4, "hdemucs_mmi": 1}
# A network's first use: loading its weights, the first pass (oneDNN picks its kernels) and
# writing the stem cache. Measured in the app for unet's first 20 s preview on the CPU: 5.6
# CPU-seconds against 2.5 for the same preview once warm. With 2 s here the estimate before
# the first preview read 3 s where the preview took about 8 s (issue 17). Classical methods
# have no weights to load (centre: 0.3 s for 20 s, first time included).
_SETUP_S = {"cpu": 5.0, "mps": 5.0, "cuda": 5.0}
_CLASSICAL_SETUP_S = 0.5
_CLASSICAL = ("center", "hpss", "repet")


def list_model_choices(*, model_dir=None) -> tuple[list[tuple[str, str]], str, dict]:
    """Dropdown entries ``(label, name)``, the best model usable offline now, and why each is not.

    The label says the stems and whether the model can run now: ``"unet - vocals,
    accompaniment - ready offline"`` or ``"htdemucs - ... - needs its weights"``.
    """
    from ..errors import KitError
    from ..separators.registry import best_available_model, list_models, offline_status, stems_for

    choices, details = [], {}
    ready, missing = [], []
    for name in list_models():
        try:
            ok, detail = offline_status(name, model_dir=model_dir)
            stems = ", ".join(stems_for(name, model_dir=model_dir))
        except (ImportError, KitError) as exc:
            ok, detail, stems = False, str(exc), "?"
        details[name] = detail
        mark = "ready offline" if ok else "needs its weights"
        (ready if ok else missing).append((f"{'✓' if ok else '✗'} {name} - {stems} - {mark}", name))
    choices = ready + missing
    try:
        best = best_available_model(model_dir=model_dir)
    except (ImportError, KitError):
        best = "unet"
    return choices, best, details


def _speed(model: str, device: str) -> float:
    table = _SPEED["cuda" if device.startswith("cuda") else device if device in _SPEED else "cpu"]
    if model in table:
        return table[model]
    return table["demucs"] / _BAG_SIZE.get(model, 1)


def estimate_seconds(model: str, duration_s: float, *, device: str = "cpu",
                     measured_speed: float | None = None) -> float:
    """Rough seconds a separation of ``duration_s`` seconds of song takes.

    Parameters
    ----------
    measured_speed : float, optional
        Seconds of song per second of work measured on this machine (after a preview);
        used instead of the built-in table.

    Examples
    --------
    >>> round(estimate_seconds("unet", 80.0, device="cpu", measured_speed=10.0))
    8
    """
    if measured_speed:
        return duration_s / measured_speed
    setup = _CLASSICAL_SETUP_S if model in _CLASSICAL else _SETUP_S.get(device.split(":")[0], 5.0)
    return setup + duration_s / _speed(model, device)


def format_duration(seconds: float) -> str:
    """``65.2 -> "1:05"``; under a minute ``"12 s"``; under a second ``"under a second"``.

    Examples
    --------
    >>> format_duration(65.2), format_duration(12.4), format_duration(0.3)
    ('1:05', '12 s', 'under a second')
    """
    if seconds < 1.0:
        return "under a second"
    if seconds < 60.0:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
