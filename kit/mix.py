"""Backing tracks: put stems back together without some of them.

Two recipes:

``sum``
    Add the stems you keep (``drums + bass + other + piano``). What the model
    put in no stem at all is lost.
``minus``
    Take the original mixture and subtract the stems you drop
    (``mixture - vocals - guitar``). Whatever the model did not attribute to
    the dropped stems stays, so the backing keeps the original's full sound
    (and any vocal residue the model missed).

Levels are kept exactly: stems are float and are summed as they are (FFmpeg's
``amix`` with ``normalize=0``; its default divides by the number of inputs).
Nothing is normalised or rescaled unless you ask for it (``target_lufs``,
``limit``). If the result goes above full scale you get a :class:`KitWarning`
with the peak and the ways out, never a silent clip or a silent gain change.

:func:`make_backing_track` works on arrays; :func:`write_backing_track` writes a
file with an FFmpeg filter graph (per-stem ``volume``, then ``amix``).

See also
--------
notebooks/09_karaoke_maker.ipynb
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .audio import atomic_output, check_audio, check_output_path, load
from .errors import FFmpegError, KitWarning, OptionError
from .ffmpeg import ffmpeg_input, run_ffmpeg
from .loudness import db_to_gain
from .progress import Progress, report, scaled

__all__ = [
    "make_backing_track",
    "write_backing_track",
    "write_backing_blocks",
    "select_stems",
    "check_gains",
    "apply_limiter",
    "match_loudness",
    "warn_if_clipping",
    "warn_if_mostly_removed",
    "MixWarning",
    "build_mix_graph",
    "METHODS",
    "GAIN_RANGE_DB",
    "CEILING_RANGE_DB",
    "LUFS_RANGE",
]

METHODS = ("sum", "minus")
GAIN_RANGE_DB = (-60.0, 24.0)
CEILING_RANGE_DB = (-24.0, 0.0)  # alimiter accepts limits from 1/16 (-24 dB) to 1
LUFS_RANGE = (-40.0, -5.0)
_OVERSAMPLE = 4  # limiting at 4x the rate catches the peaks between samples (true peak)
_LIMITER_PIECE_MIN_S = 60  # a long track is limited in pieces of at least this, one per core at once
_LIMITER_CONTEXT_S = 1.0  # ...each with this (and 20 release times) of the track either side
_PEAK_LINE = re.compile(r"Peak level dB:\s*(-?inf|[-+]?\d+(?:\.\d+)?)")


class MixWarning(KitWarning):
    """A note about a backing track, worded for Python; ``cli_text`` words it for the command line.

    The command line shows ``cli_text`` so that its advice names flags
    (``--limit``) rather than Python arguments (``limit=True``).
    """

    def __init__(self, message: str, *, cli_text: str | None = None):
        super().__init__(message)
        self.cli_text = cli_text or message


# --- choosing stems -----------------------------------------------------------


_SPLIT_STEMS = ("lead_vocals", "backing_vocals")  # kit.vocal_split.STEMS, without importing it


def _did_you_mean(names, available) -> str:
    """``"did you mean 'vocals'? "`` when one unknown name is close to a real one, else ``""``.

    With a ``vocals`` stem, the names of its split (``lead_vocals``...) count as real too.
    """
    if "vocals" in available:
        available = [*available, *(s for s in _SPLIT_STEMS if s not in available)]
    hints = [difflib.get_close_matches(n, available, n=1) for n in names]
    close = [h[0] for h in hints if h]
    return f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""


def _split_hint(names, available) -> str:
    """Where ``lead_vocals`` / ``backing_vocals`` come from, when they were asked for but the vocals are whole."""
    if "vocals" in available and any(n in _SPLIT_STEMS for n in names):
        return (" lead_vocals and backing_vocals come from splitting the vocals: kit backing does it when you "
                "name them, kit separate with --split-vocals, Python with kit.split_vocals.")
    if "lead_vocals" in available and "vocals" in names:
        return " The vocals are split into lead and backing here; write lead_vocals,backing_vocals for both."
    return ""


def _as_list(value) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        name = str(item).strip().lower()
        if name and name not in out:
            out.append(name)
    return out


def select_stems(available, *, drop=None, keep=None, model: str | None = None) -> tuple[list[str], list[str]]:
    """Split a model's stems into kept and dropped ones, checking every name.

    Parameters
    ----------
    available : sequence of str
        The stems the model produces, e.g. ``("drums", "bass", "other", "vocals")``.
    drop, keep : str or sequence of str
        Exactly one of them: stems to leave out, or stems to keep. A string may
        list several names separated by commas (``"vocals,guitar"``).

    Returns
    -------
    kept, dropped : list of str
        In the model's order.

    Raises
    ------
    OptionError
        Both or neither given, an unknown stem name (the message lists the valid
        ones), or nothing left to play.

    Examples
    --------
    >>> from kit.mix import select_stems
    >>> select_stems(["drums", "bass", "other", "vocals"], drop="vocals")
    (['drums', 'bass', 'other'], ['vocals'])
    """
    available = [str(s) for s in available]
    owner = f"model '{model}'" if model else "this model"
    drop_l, keep_l = _as_list(drop), _as_list(keep)
    if drop_l and keep_l:
        raise OptionError("Give either --drop or --keep, not both (e.g. --drop vocals).")
    if not drop_l and not keep_l:
        raise OptionError(f"Say which stems to leave out with --drop (or to keep with --keep); "
                          f"{owner} has: {', '.join(available)}.")
    chosen = drop_l or keep_l
    unknown = [s for s in chosen if s not in available]
    if unknown:
        flag = "--drop" if drop_l else "--keep"
        raise OptionError(
            f"Unknown stem {', '.join(repr(s) for s in unknown)} in {flag}; "
            f"{_did_you_mean(unknown, available)}{owner} has these stems: {', '.join(available)}."
            f"{_split_hint(unknown, available)}"
        )
    if drop_l:
        dropped = [s for s in available if s in drop_l]
        kept = [s for s in available if s not in drop_l]
    else:
        kept = [s for s in available if s in keep_l]
        dropped = [s for s in available if s not in keep_l]
    if not kept:
        raise OptionError(f"--drop {','.join(drop_l)} leaves no stem to play; keep at least one of: "
                          f"{', '.join(available)}.")
    return kept, dropped


def check_gains(gains_db, *, available, kept, model: str | None = None) -> dict[str, float]:
    """Check per-stem gains in dB: known, kept stems and finite values in range.

    Examples
    --------
    >>> from kit.mix import check_gains
    >>> check_gains({"drums": -6}, available=["drums", "bass"], kept=["drums", "bass"])
    {'drums': -6.0}
    """
    out = {}
    lo, hi = GAIN_RANGE_DB
    owner = f"model '{model}'" if model else "this model"
    for name, value in dict(gains_db or {}).items():
        key = str(name).strip().lower()
        if key not in available:
            raise OptionError(f"Unknown stem '{name}' in --gain; {_did_you_mean([key], available)}{owner} has "
                              f"these stems: {', '.join(available)}.{_split_hint([key], available)}")
        if key not in kept:
            raise OptionError(
                f"--gain {key}=... is for a stem you dropped; give gains only for kept stems "
                f"({', '.join(kept)}), or keep '{key}' (with --keep) to play it quieter."
            )
        try:
            gain = float(value)
        except (TypeError, ValueError):
            raise OptionError(f"--gain {key}={value} is not a number of dB; write e.g. {key}=-6.") from None
        if not math.isfinite(gain) or not lo <= gain <= hi:
            raise OptionError(
                f"--gain {key}={value} dB is out of range; use {lo:g} to {hi:g} dB (drop the stem to remove it)."
            )
        out[key] = gain
    return out


def _terms(names, *, kept, dropped, gains, method) -> list[tuple[str, float]]:
    """(source, linear factor) pairs whose sum is the backing track; '__mixture__' is the mix."""
    if method == "sum":
        return [(k, db_to_gain(gains.get(k, 0.0))) for k in kept]
    terms = [("__mixture__", 1.0)] + [(d, -1.0) for d in dropped]
    # a kept stem is already inside the mixture: only the change of level is added
    terms += [(k, db_to_gain(gains[k]) - 1.0) for k in kept if gains.get(k, 0.0) != 0.0]
    return terms


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise OptionError(f"Unknown method '{method}'; use 'sum' (add kept stems) or 'minus' (mixture minus dropped).")
    return method


# --- levels ---------------------------------------------------------------------


def _peak_dbfs(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def warn_if_clipping(y: np.ndarray | None = None, *, peak: float | None = None,
                     what: str = "The backing track", ext: str | None = None) -> float:
    """Warn (:class:`MixWarning`) if a waveform goes above full scale; returns its peak (linear).

    ``ext`` is the format it is written in (``"wav"``, ``"mp3"``...), if any: a
    float .wav keeps the peaks, so the advice then does not suggest .wav.

    Examples
    --------
    >>> import numpy as np, warnings
    >>> from kit.mix import warn_if_clipping
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = warn_if_clipping(np.array([[0.5, -2.0]]))
    >>> "+6.0 dBFS" in str(w[0].message)
    True
    """
    if peak is None:
        peak = float(np.max(np.abs(y))) if y is not None and np.size(y) else 0.0
    if peak > 1.0:
        head = f"{what} peaks at {_peak_dbfs(peak):+.1f} dBFS, above full scale"
        if ext == "wav":
            head += ": the float .wav keeps the peaks, but players and encoders will clip them"
            py = "Turn stems down (gains_db={STEM: -6}) or add the limiter (limit=True)."
            cli = "Turn stems down (--gain STEM=-6) or add the limiter (--limit)."
        else:
            head += f": it clips in {'the .' + ext + ' file' if ext else 'mp3/flac files'} and in players"
            py = ("Turn stems down (gains_db={STEM: -6}), add the limiter (limit=True), "
                  "or write .wav (32-bit float keeps the peaks).")
            cli = "Turn stems down (--gain STEM=-6), add the limiter (--limit), or write .wav (-o NAME.wav)."
        warnings.warn(MixWarning(f"{head}. {py}", cli_text=f"{head}. {cli}"), stacklevel=3)
    return peak


# Below this share of the song's energy, a backing track that keeps most stems
# has lost the band as well: on the bundled song unet's accompaniment keeps 78%
# (-1.1 dB), centre cancellation 15% (-8.3 dB); on a centred mix, 1% (-19.6 dB).
MIN_KEPT_ENERGY = 0.25

_MODEL_ADVICE = {
    "center": ("'center' removes whatever sits in the middle of the stereo image, and most of this song "
               "does; it needs a wide stereo mix (instruments panned left and right)", "unet"),
    "hpss": ("'hpss' splits sustained from percussive sounds, not the voice from the band", "unet"),
    "repet": ("'repet' needs an accompaniment that repeats while the voice changes", "unet"),
}


def warn_if_mostly_removed(stems: dict, *, kept, mixture=None, model: str | None = None) -> float | None:
    """Warn when the kept stems hold only a small part of the song's energy.

    A separator that fits the song badly (``center`` on a mix whose
    instruments are mostly in the middle) puts nearly everything into the stem
    the user drops, and the backing track comes out almost silent. Only checked
    when at least as many stems are kept as dropped: keeping just the bass is
    quiet on purpose.

    Parameters
    ----------
    stems : dict of str to np.ndarray, shape (channels, samples)
    kept : sequence of str
        The stems in the backing track.
    mixture : np.ndarray, optional
        The song; default: the sum of all stems.
    model : str, optional
        The separator's name, to suggest a better one.

    Returns
    -------
    share : float or None
        Energy of the kept stems (summed) over the song's; None when not checked.

    Examples
    --------
    >>> import kit
    >>> from kit.mix import warn_if_mostly_removed
    >>> mix, stems = kit.examples.make_multitrack(1.0)
    >>> round(warn_if_mostly_removed(stems, kept=["drums", "bass", "other"], mixture=mix), 2) > 0.25
    True
    """
    kept = list(kept)
    if not kept or len(kept) < len(stems) - len(kept):
        return None
    kept_sum = np.sum([np.asarray(stems[k], dtype=np.float64) for k in kept], axis=0)
    song = np.sum([np.asarray(v, dtype=np.float64) for v in stems.values()], axis=0) if mixture is None else mixture
    song_energy = float(np.sum(np.square(song, dtype=np.float64)))
    if song_energy <= 0:
        return None
    share = float(np.sum(np.square(kept_sum)) / song_energy)
    if share < MIN_KEPT_ENERGY:
        dropped = [k for k in stems if k not in kept]
        reason, better = _MODEL_ADVICE.get(model, (
            f"{'the model' if not model else repr(model)} put most of the song into {', '.join(dropped)}", None))
        head = (f"The backing track keeps only {100 * share:.0f}% of the song's energy "
                f"({10 * math.log10(max(share, 1e-12)):+.1f} dB): {reason}")
        if better:
            py, cli = f"try model='{better}'.", f"try --model {better}."
        else:
            py = cli = "listen to the stems (kit separate) or try another model (kit doctor lists them)."
        warnings.warn(MixWarning(f"{head}; {py}", cli_text=f"{head}; {cli}"), stacklevel=3)
    return share


def _check_ceiling(ceiling_db: float) -> float:
    lo, hi = CEILING_RANGE_DB
    if not (math.isfinite(ceiling_db) and lo <= ceiling_db <= hi):
        raise OptionError(f"Limiter ceiling {ceiling_db} dB is out of range; use {lo:g} to {hi:g} dBTP (e.g. -1).")
    return float(ceiling_db)


def _limiter_filter(sr: int, ceiling_db: float, release_ms: float) -> str:
    """FFmpeg filters for a true-peak lookahead limiter that keeps length and timing."""
    limit = db_to_gain(_check_ceiling(ceiling_db))
    # level=0: alimiter otherwise turns the whole track up to the ceiling (a silent gain change);
    # latency=1: it compensates its own lookahead delay, so nothing moves in time.
    return (
        f"aresample={_OVERSAMPLE * sr}:filter_size=64:cutoff=0.98,"
        f"alimiter=limit={limit:.9f}:attack=5:release={float(release_ms):g}:level=0:latency=1,"
        f"aresample={sr}:filter_size=64:cutoff=0.98"
    )


def _run(args: list[str], *, data=None, what: str):
    """run_ffmpeg, turning 'option not found' from an old FFmpeg into advice."""
    try:
        return run_ffmpeg(args, input_bytes=data, what=what)
    except FFmpegError as exc:
        msg = str(exc)
        if "not found" in msg and ("Option" in msg or "option" in msg):
            from .ffmpeg import ffmpeg_version

            raise FFmpegError(
                f"{msg} ({ffmpeg_version()}). Backing tracks need FFmpeg 4.4 or newer, the limiter 5.1 or newer: "
                "update FFmpeg or set KIT_FFMPEG to the imageio-ffmpeg binary."
            ) from None
        raise


def _pipe_args(y: np.ndarray, sr: int) -> tuple[list[str], memoryview]:
    data = np.ascontiguousarray(y.T, dtype="<f4")
    return ["-f", "f32le", "-ar", str(int(sr)), "-ac", str(y.shape[0]), "-i", "pipe:0"], memoryview(data).cast("B")


def _read_pipe_wav(proc) -> np.ndarray:
    from .audio import parse_wav_stream

    return parse_wav_stream(proc.stdout, Path("limiter output"))[0]


def apply_limiter(y: np.ndarray, sr: int, *, ceiling_db: float = -1.0, release_ms: float = 50.0,
                  workers: int | None = None) -> np.ndarray:
    """Limit peaks to ``ceiling_db`` dBTP with FFmpeg's lookahead limiter, oversampled 4x.

    Below the ceiling the audio passes unchanged (to ~1e-5, the resampler's
    round trip); the length and timing are kept exactly. Limiting hard (8x,
    18 dB, too much going in), the true peak can come out up to 0.5 dB over
    the ceiling: going back to the original rate rings (CONTRIBUTING.md).

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
        Sample rate in Hz.
    ceiling_db : float
        Highest true peak, -24 to 0 dBTP; -1 leaves room for mp3 encoding.
    release_ms : float
        How fast the gain comes back after a peak.
    workers : int, optional
        FFmpeg runs at once on a long track, each on a piece of a minute or more
        (default: one per CPU core). The pieces' outputs equal one run's to ~1e-6.

    Returns
    -------
    y_limited : np.ndarray, float32, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from kit.mix import apply_limiter
    >>> y = np.sin(np.linspace(0, 600, 44100))[None].astype(np.float32) * 2.0
    >>> float(np.max(np.abs(apply_limiter(y, 44100)))) <= 10 ** (-1 / 20) + 1e-3
    True
    """
    y = check_audio(y, what="The audio to limit")
    _check_ceiling(ceiling_db)
    pieces = _limiter_pieces(y.shape[1], int(sr), release_ms, workers or os.cpu_count() or 1)
    if len(pieces) == 1:
        return _limit_whole(y, sr, ceiling_db, release_ms)
    from concurrent.futures import ThreadPoolExecutor

    # a long track in pieces, one FFmpeg per core at once: each piece is limited with a second and
    # 20 release times of the track either side, where the limiter's gain and resampler settle to
    # what they are in one run over the whole track, and only its own stretch is kept
    with ThreadPoolExecutor(len(pieces)) as pool:
        outs = list(pool.map(lambda p: _limit_whole(y[:, p[2]:p[3]], sr, ceiling_db, release_ms), pieces))
    out = np.empty(y.shape, dtype=np.float32)
    for (a, b, lo, _hi), piece in zip(pieces, outs, strict=True):
        out[:, a:b] = piece[:, a - lo:b - lo]
    return out


def _limiter_pieces(n: int, sr: int, release_ms: float, workers: int) -> list[tuple[int, int, int, int]]:
    """``[(start, end, start with context, end with context), ...]``: a track cut for ``workers`` FFmpegs.

    One piece for a track under a minute a worker or one worker: the context costs more than it saves.
    """
    k = int(max(1, min(workers, n // (_LIMITER_PIECE_MIN_S * sr))))
    context = int(sr * (_LIMITER_CONTEXT_S + 20 * release_ms / 1000))
    edges = [round(i * n / k) for i in range(k + 1)]
    return [(a, b, max(0, a - context), min(n, b + context)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _limit_whole(y: np.ndarray, sr: int, ceiling_db: float, release_ms: float) -> np.ndarray:
    """FFmpeg's limiter over all of ``y``, in one run."""
    args, data = _pipe_args(y, sr)
    proc = _run(
        [*args, "-af", _limiter_filter(int(sr), ceiling_db, release_ms), "-c:a", "pcm_f32le", "-f", "wav", "pipe:1"],
        data=data, what="Limiting",
    )
    out = _read_pipe_wav(proc)
    n = y.shape[1]
    if out.shape[1] < n:  # the resampler round trip may end a sample short
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return np.ascontiguousarray(out[:, :n])


def check_lufs(target_lufs: float) -> float:
    """``target_lufs`` if it is a loudness a backing track may be levelled to, else a one-line OptionError."""
    lo, hi = LUFS_RANGE
    if not (math.isfinite(target_lufs) and lo <= target_lufs <= hi):
        raise OptionError(f"--lufs {target_lufs} is out of range; use {lo:g} to {hi:g} LUFS (streaming uses -14).")
    return float(target_lufs)


def match_loudness(y: np.ndarray, sr: int, *, target_lufs: float = -14.0) -> tuple[np.ndarray, float]:
    """Apply one gain so the integrated loudness (ITU-R BS.1770, pyloudnorm) is ``target_lufs``.

    Returns ``(y_scaled, gain_db)``. Only the level changes; peaks may then go
    above full scale (use :func:`apply_limiter` after it).

    Examples
    --------
    >>> import numpy as np
    >>> from kit.mix import match_loudness
    >>> y = (np.random.default_rng(0).standard_normal((2, 88200)) * 0.01).astype(np.float32)
    >>> _, gain_db = match_loudness(y, 44100, target_lufs=-20)
    >>> gain_db > 0
    True
    """
    from .loudness import measure_loudness

    check_lufs(target_lufs)
    y = check_audio(y, what="The audio to level")
    if y.shape[1] < int(0.4 * sr):
        raise OptionError("Loudness needs at least 0.4 s of audio; use a longer section or leave out --lufs.")
    measured = measure_loudness(y, sr)
    if not math.isfinite(measured):
        raise OptionError("The backing track is silent, so it has no loudness to match; leave out --lufs.")
    gain_db = float(target_lufs - measured)
    return (y * np.float32(db_to_gain(gain_db))).astype(np.float32), gain_db


# --- arrays -----------------------------------------------------------------------


def _check_stems(stems: dict) -> dict[str, np.ndarray]:
    if not stems:
        raise OptionError("No stems given; pass a dict such as {'vocals': y1, 'drums': y2}.")
    arrays = {str(k): check_audio(v, what=f"Stem '{k}'") for k, v in stems.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        detail = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        raise OptionError(f"Stems differ in shape ({detail}); they must come from one separation.")
    return arrays


def _mix_arrays(arrays: dict, terms, mixture) -> np.ndarray:
    shape = next(iter(arrays.values())).shape
    acc = np.zeros(shape, dtype=np.float64)
    for name, factor in terms:
        acc += (mixture if name == "__mixture__" else arrays[name]) * factor
    return acc.astype(np.float32)


def make_backing_track(
    stems: dict,
    *,
    drop=None,
    keep=None,
    gains_db: dict | None = None,
    method: str = "sum",
    mixture: np.ndarray | None = None,
    sr: int | None = None,
    target_lufs: float | None = None,
    limit: bool = False,
    ceiling_db: float = -1.0,
    model: str | None = None,
    semitones: float = 0.0,
    progress: Progress = None,
) -> np.ndarray:
    """Recombine stems into a backing track, level-correct, optionally in another key.

    Parameters
    ----------
    stems : dict of str to np.ndarray, shape (channels, samples)
        From :func:`kit.separate`; all the same shape.
    drop, keep : str or sequence of str
        Exactly one: stems to leave out, or stems to keep (``"vocals,guitar"``).
    gains_db : dict of str to float, optional
        Level change per kept stem in dB (``{"drums": -6}`` scales drums by 10^(-6/20)).
    method : {"sum", "minus"}
        ``sum`` adds the kept stems; ``minus`` subtracts the dropped ones from
        ``mixture``, keeping what the model attributed to no stem.
    mixture : np.ndarray, optional
        The original song, same shape as the stems; needed for ``minus``.
    sr : int, optional
        Sample rate in Hz; needed for ``target_lufs`` and ``limit``.
    target_lufs : float, optional
        Apply one gain so the track has this integrated loudness (e.g. -14).
    limit : bool
        Run the true-peak limiter (:func:`apply_limiter`) at ``ceiling_db``.
    ceiling_db : float
        Limiter ceiling in dBTP.
    model : str, optional
        The separator the stems came from; only used to word advice when the
        kept stems hold little of the song (:func:`warn_if_mostly_removed`).
    semitones : float
        Key shift, -12..12 (:func:`kit.pitch.shift_pitch`), applied to the finished
        mix, never to the stems one by one: two shifted signals do not cancel, so
        ``shift(mixture) - shift(vocals)`` would bring the vocals back.
    progress : callable, optional
        Called with a fraction 0..1 (the key shift is the slow part).

    Returns
    -------
    y : np.ndarray, float32, shape (channels, samples)
        Not clipped and not rescaled unless asked; a ``KitWarning`` says when it
        peaks above full scale.

    Examples
    --------
    >>> import kit, numpy as np
    >>> mix, stems = kit.examples.make_multitrack(1.0)
    >>> backing = kit.make_backing_track(stems, drop="vocals")
    >>> np.allclose(backing, stems["drums"] + stems["bass"] + stems["other"], atol=1e-6)
    True

    See also
    --------
    write_backing_track : the same, written to a file through FFmpeg.
    notebooks/09_karaoke_maker.ipynb
    """
    arrays = _check_stems(stems)
    _check_method(method)
    kept, dropped = select_stems(list(arrays), drop=drop, keep=keep)
    gains = check_gains(gains_db, available=list(arrays), kept=kept)
    if (target_lufs is not None or limit) and not sr:
        raise OptionError("Loudness and limiting need the sample rate; pass sr=.")
    if limit:
        _check_ceiling(ceiling_db)
    from .pitch import check_semitones

    semitones = check_semitones(semitones)
    if semitones and not sr:
        raise OptionError("A key shift needs the sample rate; pass sr=.")
    if method == "minus":
        if mixture is None:
            raise OptionError("method='minus' subtracts stems from the original song; pass mixture=y.")
        mixture = check_audio(mixture, what="The mixture")
        if mixture.shape != next(iter(arrays.values())).shape:
            raise OptionError(f"The mixture has shape {mixture.shape} but the stems "
                              f"{next(iter(arrays.values())).shape}; pass the song the stems came from.")
    warn_if_mostly_removed(arrays, kept=kept, mixture=mixture, model=model)
    y = _mix_arrays(arrays, _terms(list(arrays), kept=kept, dropped=dropped, gains=gains, method=method), mixture)
    if semitones:
        from .pitch import shift_pitch

        y = shift_pitch(y, sr, semitones=semitones, progress=scaled(progress, 0.0, 0.9))
    if target_lufs is not None:
        y, _ = match_loudness(y, sr, target_lufs=target_lufs)
    if limit:
        y = apply_limiter(y, sr, ceiling_db=ceiling_db)
    warn_if_clipping(y)
    report(progress, 1.0)
    return y


# --- files, through FFmpeg ----------------------------------------------------------


_ENCODERS = {
    "wav": ["-c:a", "pcm_f32le", "-f", "wav"],
    "flac": ["-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24", "-f", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
}


def build_mix_graph(factors, *, channels=None, pre: str | None = None, limiter: str | None = None) -> str:
    """The FFmpeg filter graph that scales each input and sums them with ``amix``.

    Parameters
    ----------
    factors : sequence of float
        Linear factor per source, in input order (negative subtracts).
    channels : sequence of (int, int or None), optional
        When all sources come side by side in input 0 (one pipe), the channel
        numbers of each source in it (None for the right channel of a mono
        source); otherwise source ``i`` is input ``i``.
    pre : str, optional
        Filters to run on every source first (e.g. ``atrim``).
    limiter : str, optional
        Filters to run on the sum (see :func:`apply_limiter`).

    Returns
    -------
    graph : str
        For ``-filter_complex``; its output pad is ``[out]``. It ends with
        ``astats`` so FFmpeg reports the peak of what it wrote.

    Examples
    --------
    >>> from kit.mix import build_mix_graph
    >>> build_mix_graph([1.0, 0.5]).split(";")[:2]
    ['[0:a]anull[a0]', '[1:a]volume=0.5:precision=double[a1]']
    """
    parts, pads = [], []
    n = len(factors)
    if channels is not None:
        parts.append("[0:a]asplit=" + str(n) + "".join(f"[s{i}]" for i in range(n)) if n > 1 else "[0:a]anull[s0]")
    for i, factor in enumerate(factors):
        chain = []
        if channels is not None:
            left, right = channels[i]
            chain.append(f"pan=stereo|c0=c{left}|c1=c{right}" if right is not None else f"pan=mono|c0=c{left}")
        if pre:
            chain.append(pre)
        if factor != 1.0:
            # double precision, so the FFmpeg sum matches numpy's to ~1e-7
            chain.append(f"volume={factor:.12g}:precision=double")
        src = f"[s{i}]" if channels is not None else f"[{i}:a]"
        parts.append(src + (",".join(chain) or "anull") + f"[a{i}]")
        pads.append(f"[a{i}]")
    # normalize=0: amix otherwise divides every input by the number of inputs (and,
    # when one input ends early, ramps the others back up over dropout_transition)
    tail = f"amix=inputs={n}:normalize=0:duration=longest" if n > 1 else "anull"
    if limiter:
        tail += "," + limiter
    tail += ",astats=measure_perchannel=none:measure_overall=Peak_level"
    parts.append("".join(pads) + tail + "[out]")
    return ";".join(parts)


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _parse_peak(stderr: str) -> float | None:
    found = _PEAK_LINE.findall(stderr)
    if not found:
        return None
    value = found[-1]
    return 0.0 if value.endswith("inf") else 10.0 ** (float(value) / 20.0)


def write_backing_track(
    stems: dict,
    out_path,
    *,
    sr: int | None = None,
    drop=None,
    keep=None,
    gains_db: dict | None = None,
    method: str = "sum",
    mixture=None,
    start_s: float | None = None,
    end_s: float | None = None,
    semitones: float = 0.0,
    target_lufs: float | None = None,
    limit: bool = False,
    ceiling_db: float = -1.0,
    bitrate_kbps: int = 320,
    inputs=(),
    progress: Progress = None,
    model: str | None = None,
) -> Path:
    """Write a backing track with FFmpeg: per-stem ``volume``, ``amix`` (normalize=0), encode.

    Parameters
    ----------
    stems : dict of str to np.ndarray or path
        Stem waveforms ``(channels, samples)`` (with ``sr``), or stem files
        (e.g. what ``kit separate`` wrote), all at one sample rate.
    out_path : str or Path
        ``.mp3``, ``.wav`` (32-bit float) or ``.flac`` (24-bit). Written atomically.
    sr : int, optional
        Sample rate of array stems.
    drop, keep, gains_db, method, mixture
        As in :func:`make_backing_track`; ``mixture`` may be an array or a file.
    start_s, end_s : float, optional
        Keep only this section (seconds), cut at exact samples.
    semitones : float
        Key shift, -12..12 (:func:`kit.pitch.shift_pitch`); length and timing kept.
    target_lufs : float, optional
        Loudness to reach (one gain for the whole track).
    limit : bool
        True-peak limiter at ``ceiling_db`` dBTP.
    bitrate_kbps : int
        MP3 bit rate.
    inputs : sequence of paths
        Files the output must never replace (the song).
    progress : callable, optional
        Called with a fraction 0..1.
    model : str, optional
        The separator the stems came from, to word advice (see :func:`make_backing_track`).

    Returns
    -------
    path : Path
        The file written. A ``KitWarning`` reports a peak above full scale.

    Examples
    --------
    >>> import kit, tempfile, os
    >>> from kit.mix import write_backing_track
    >>> mix, stems = kit.examples.make_multitrack(1.0)
    >>> out = write_backing_track(stems, os.path.join(tempfile.mkdtemp(), "b.wav"), sr=44100, drop="vocals")
    >>> out.name
    'b.wav'

    See also
    --------
    make_backing_track : the same on arrays.
    """
    from .pitch import check_semitones

    terms, kept = _plan_terms(stems, drop=drop, keep=keep, gains_db=gains_db, method=method, mixture=mixture,
                              start_s=start_s, end_s=end_s, limit=limit, ceiling_db=ceiling_db)
    semitones = check_semitones(semitones)
    sources = {n: (mixture if n == "__mixture__" else stems[n]) for n, _ in terms}
    out_path = check_output_path(out_path, inputs=[*inputs, *(Path(v) for v in sources.values() if _is_path(v))])
    all_files = all(_is_path(v) for v in sources.values())
    if not all_files and not sr:
        raise OptionError("Stems given as arrays need their sample rate; pass sr=.")
    report(progress, 0.0)

    # Three routes to the same sum: stem files straight into FFmpeg; arrays through
    # one pipe into FFmpeg; or, for a key shift or a loudness target (which need the
    # finished mix), the sum made here and only limited and encoded by FFmpeg.
    if semitones == 0.0 and target_lufs is None and all_files:
        sr = _check_stem_files(sources, sr=sr)
        report(progress, 0.1)
        job = _job_from_files(sources, terms, sr=sr, start_s=start_s, end_s=end_s)
    else:
        arrays, sr = _load_sources(sources, sr=sr, start_s=start_s, end_s=end_s)
        report(progress, 0.1)
        if all(isinstance(v, np.ndarray) for v in stems.values()):  # files are not read whole for this
            warn_if_mostly_removed(stems, kept=kept, mixture=mixture if isinstance(mixture, np.ndarray) else None,
                                   model=model)
        if semitones == 0.0 and target_lufs is None:
            job = _job_from_arrays(arrays, terms, sr=sr)
        else:
            job = _job_from_mix(arrays, terms, sr=sr, semitones=semitones, target_lufs=target_lufs,
                                progress=scaled(progress, 0.1, 0.8))
    limiter = _limiter_filter(int(sr), ceiling_db, 50.0) if limit else None
    _encode(job, out_path, limiter=limiter, bitrate_kbps=bitrate_kbps)
    report(progress, 1.0)
    return out_path


class _Job:
    """What FFmpeg is given: input arguments, bytes for its pipe, and one factor per source.

    ``channels`` is set when all sources travel side by side in one pipe; ``pre``
    holds filters run on every source first (a section cut).
    """

    def __init__(self, args, data, factors, *, channels=None, pre=None):
        self.args, self.data, self.factors = args, data, factors
        self.channels, self.pre = channels, pre


def _plan_terms(stems, *, drop, keep, gains_db, method, mixture, start_s, end_s, limit, ceiling_db):
    """Check every option before any audio is touched; return the (source, factor) terms to sum, and the kept stems."""
    _check_method(method)
    names = [str(k) for k in stems]
    kept, dropped = select_stems(names, drop=drop, keep=keep)
    gains = check_gains(gains_db, available=names, kept=kept)
    if limit:
        _check_ceiling(ceiling_db)
    if method == "minus" and mixture is None:
        raise OptionError("method='minus' subtracts stems from the original song; pass mixture= (array or file).")
    if start_s is not None and end_s is not None and float(end_s) <= float(start_s):
        raise OptionError(f"--end {end_s:g} s must come after --start {start_s:g} s.")
    return _terms(names, kept=kept, dropped=dropped, gains=gains, method=method), kept


def _check_stem_files(sources: dict, *, sr: int | None) -> int:
    """Refuse stem files of different rates or channel counts (amix would quietly convert them)."""
    formats = {}
    for name, value in sources.items():
        head, file_sr = load(value, duration_s=0.05)
        formats[name] = (file_sr, head.shape[0])
    if len(set(formats.values())) > 1:
        detail = ", ".join(f"{Path(sources[k]).name}: {r} Hz {c} ch" for k, (r, c) in formats.items())
        raise OptionError(f"The stem files differ ({detail}); give stems from one separation of one song.")
    file_sr = next(iter(formats.values()))[0]
    if sr and sr != file_sr:
        raise OptionError(f"The stem files are at {file_sr} Hz, not sr={sr}; leave out sr= for files.")
    return file_sr


def _load_sources(sources: dict, *, sr: int | None, start_s, end_s) -> tuple[dict, int]:
    """Every source as an array of one shape and rate, cut to the section; returns (arrays, sr)."""
    from .pitch import trim

    arrays = {}
    for name, value in sources.items():
        if _is_path(value):
            value, file_sr = load(value)
            sr = sr or file_sr
            if file_sr != sr:
                raise OptionError(f"'{sources[name]}' is at {file_sr} Hz, the other stems at {sr} Hz; "
                                  "give stems from one separation.")
        arrays[name] = check_audio(value, what=f"Stem '{name}'")
    if len({a.shape for a in arrays.values()}) != 1:
        raise OptionError("The stems (and mixture) differ in length or channels; they must come from "
                          "one separation of one song.")
    if start_s is not None or end_s is not None:
        arrays = {k: trim(v, sr, start_s=start_s, end_s=end_s) for k, v in arrays.items()}
    return arrays, sr


def _job_from_files(sources: dict, terms, *, sr: int, start_s, end_s) -> _Job:
    """Stem files go straight into FFmpeg, one input each; a section is cut there at exact samples."""
    args = []
    for name, _ in terms:
        args += ["-i", ffmpeg_input(sources[name])]
    pre = None
    if start_s is not None or end_s is not None:
        cut = [f"start_sample={round(float(start_s) * sr)}"] if start_s is not None else []
        cut += [f"end_sample={round(float(end_s) * sr)}"] if end_s is not None else []
        pre = "atrim=" + ":".join(cut) + ",asetpts=PTS-STARTPTS"
    return _Job(args, None, [f for _, f in terms], pre=pre)


def _job_from_arrays(arrays: dict, terms, *, sr: int) -> _Job:
    """All sources side by side as channels of one pipe; FFmpeg splits them apart again."""
    channels, pos = [], 0
    for name, _ in terms:
        c = arrays[name].shape[0]
        channels.append((pos, pos + 1) if c == 2 else (pos, None))
        pos += c
    args, data = _pipe_args(np.concatenate([arrays[n] for n, _ in terms], axis=0), sr)
    return _Job(args, data, [f for _, f in terms], channels=channels)


def _job_from_mix(arrays: dict, terms, *, sr: int, semitones: float, target_lufs, progress) -> _Job:
    """Sum here, shift the key and set the loudness, so FFmpeg only limits and encodes."""
    from .pitch import shift_pitch

    y = _mix_arrays(arrays, terms, arrays.get("__mixture__"))
    if semitones:
        y = shift_pitch(y, sr, semitones=semitones, progress=progress)
    if target_lufs is not None:
        y, _ = match_loudness(y, sr, target_lufs=target_lufs)
    args, data = _pipe_args(y, sr)
    return _Job(args, data, [1.0])


def _encode(job: _Job, out_path: Path, *, limiter: str | None, bitrate_kbps: int) -> None:
    """Run the FFmpeg graph into a temporary file, rename it into place, and report a clipping peak."""
    ext = out_path.suffix.lower().lstrip(".")
    graph = build_mix_graph(job.factors, channels=job.channels, pre=job.pre, limiter=limiter)
    encode = list(_ENCODERS[ext])
    if ext == "mp3":
        encode[2:2] = ["-b:a", f"{int(bitrate_kbps)}k"]
    with atomic_output(out_path) as tmp:
        proc = _run([*job.args, "-filter_complex", graph, "-map", "[out]", *encode, "file:" + str(tmp)],
                    data=job.data, what=f"Writing '{out_path.name}'")
    peak = _parse_peak(proc.stderr)
    if peak is not None:
        warn_if_clipping(peak=peak, ext=ext)


def write_backing_blocks(
    blocks,
    out_path,
    *,
    sr: int,
    channels: int,
    stems,
    drop=None,
    keep=None,
    gains_db: dict | None = None,
    method: str = "sum",
    semitones: float = 0.0,
    target_lufs: float | None = None,
    limit: bool = False,
    ceiling_db: float = -1.0,
    bitrate_kbps: int = 320,
    inputs=(),
    expected_s: float | None = None,
) -> Path:
    """Write a backing track of a long song from its stems a block at a time (memory stays flat).

    The same sum as :func:`write_backing_track`, made block by block and fed
    to one FFmpeg encoder (with the limiter, if asked). A key shift is made a
    block at a time with context (:func:`kit.stream_map.map_with_context`). A
    loudness target needs the whole track measured before its gain is known, so
    the track is first written to a temporary float file beside ``out_path``
    while FFmpeg's EBU R128 meter measures it, then levelled, limited and
    encoded from that file (the disk holds the track twice meanwhile).

    Parameters
    ----------
    blocks : iterable of (dict, np.ndarray)
        ``(stems, mixture)`` per block, in order, e.g. from
        :func:`kit.separators.blocks.iter_blocks`; ``mixture`` is the song under the block.
    out_path : str or Path
        ``.mp3``, ``.wav`` or ``.flac``; written atomically.
    sr, channels : int
        The blocks' sample rate and channels.
    stems : sequence of str
        The stem names the blocks hold.
    drop, keep, gains_db, method, semitones, target_lufs, limit, ceiling_db, bitrate_kbps, inputs
        As for :func:`write_backing_track`.
    expected_s : float, optional
        About how long the track is (a float WAV over 4 GB is written as RF64).

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import kit, tempfile, os
    >>> from kit.mix import write_backing_blocks
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> halves = [({k: v[:, :44100] for k, v in stems.items()}, mix[:, :44100]),
    ...           ({k: v[:, 44100:] for k, v in stems.items()}, mix[:, 44100:])]
    >>> out = write_backing_blocks(halves, os.path.join(tempfile.mkdtemp(), "b.wav"), sr=44100, channels=2,
    ...                            stems=list(stems), drop="vocals")
    >>> round(kit.audio.probe_audio(out).duration_s, 2)
    2.0
    """
    from .pitch import check_semitones

    names = [str(n) for n in stems]
    terms, _ = _plan_terms(dict.fromkeys(names), drop=drop, keep=keep, gains_db=gains_db, method=method,
                           mixture=True, start_s=None, end_s=None, limit=limit, ceiling_db=ceiling_db)
    semitones = check_semitones(semitones)
    if target_lufs is not None:
        target_lufs = check_lufs(target_lufs)
    out_path = Path(out_path)
    mixed = (_mix_arrays(block_stems, terms, mixture) for block_stems, mixture in blocks)
    if semitones:
        from .pitch import shift_pitch_in_blocks

        mixed = shift_pitch_in_blocks(mixed, sr, semitones=semitones)
    limiter = _limiter_filter(int(sr), ceiling_db, 50.0) + "," if limit else ""
    if target_lufs is None:
        return _write_mixed(mixed, out_path, sr=sr, channels=channels, filters=limiter, bitrate_kbps=bitrate_kbps,
                            inputs=inputs, expected_s=expected_s)
    return _write_levelled(mixed, out_path, sr=sr, channels=channels, target_lufs=target_lufs, limiter=limiter,
                           bitrate_kbps=bitrate_kbps, inputs=inputs, expected_s=expected_s)


def _write_mixed(mixed, out_path: Path, *, sr, channels, filters: str, bitrate_kbps, inputs, expected_s) -> Path:
    """Encode a stream of blocks through one FFmpeg (``filters`` first), warning if it clips."""
    from .audio import open_audio_writer

    ext = out_path.suffix.lower().lstrip(".")
    with open_audio_writer(out_path, sr, channels, bitrate_kbps=bitrate_kbps,
                           filters=filters + "astats=measure_perchannel=none:measure_overall=Peak_level",
                           inputs=inputs, expected_s=expected_s) as writer:
        for y in mixed:
            writer.write(y)
    peak = _parse_peak(writer.log)
    if peak is not None:
        warn_if_clipping(peak=peak, ext=ext)
    return out_path


def _write_levelled(mixed, out_path: Path, *, sr, channels, target_lufs, limiter, bitrate_kbps, inputs,
                    expected_s) -> Path:
    """Two passes: write and measure (FFmpeg's ``ebur128``, BS.1770 to 0.1 LU), then level, limit and encode."""
    import tempfile

    from .audio import open_audio_stream, open_audio_writer
    from .loudness import parse_ebur128_summary

    out_path = check_output_path(out_path, inputs=inputs)
    with tempfile.TemporaryDirectory(prefix=".kit-level-", dir=out_path.parent) as folder:
        measured_path = Path(folder) / "measured.wav"
        with open_audio_writer(measured_path, sr, channels, filters="ebur128", expected_s=expected_s) as writer:
            for y in mixed:
                writer.write(y)
        measured = parse_ebur128_summary(writer.log)["integrated_lufs"]
        if not math.isfinite(measured) or measured < -69.0:  # BS.1770's absolute gate is -70 LUFS
            raise OptionError("The backing track is silent, so it has no loudness to match; leave out --lufs.")
        gain = np.float32(db_to_gain(target_lufs - measured))
        with open_audio_stream(measured_path) as stream:
            return _write_mixed(_read_scaled(stream, gain), out_path, sr=sr, channels=channels, filters=limiter,
                                bitrate_kbps=bitrate_kbps, inputs=inputs, expected_s=expected_s)


def _read_scaled(stream, gain):
    """A decoded file a minute at a time, times ``gain``."""
    while True:
        y = stream.read(stream.sr * 60)
        if not y.shape[1]:
            return
        yield y * gain
