"""How good is a separation? SDR and SI-SDR per stem, and a scoreboard of methods.

Three measures, in dB (higher is better); every table says which it shows:

- **SDR** (``"sdr"``, the default): museval's BSSEval v4 image SDR, the number
  papers and the MUSDB18 / SiSEC leaderboards report. On each 1 s window it is
  ``10 log10(sum(s**2) / sum((s_hat - s)**2))`` with the sums over both
  channels and all samples: in v4's "images" mode the 512-tap distortion
  filters only split the error into spatial, interference and artefact parts
  (ISR, SIR, SAR); the SDR is the true image against everything that differs
  from it. No gain is forgiven: an estimate at half the level scores 6 dB.
  Matches ``museval.evaluate`` within 1e-6 dB (tests/test_evaluate_museval.py).
- **per-channel SDR** (``"sdr_per_channel"``): BSS Eval SDR of each channel on
  its own, where the estimate may first be fixed up by a 512-tap filter applied
  to the true stem (``fast_bss_eval.sdr``), the channels then pooled. It forgives
  gains and small filters, so it reads higher than museval's SDR (0.8-2.2 dB
  on full mixes); it is slower (a 512 x 512 solve per window and channel).
- **SI-SDR** (``"si_sdr"``, scale-invariant SDR, Le Roux et al. 2019): only a
  gain may be fixed up; no mean removal; pooled over channels.

Windows, as museval: consecutive 1 s windows (the last, incomplete one is
dropped) and the median over windows is reported; ``window_s=None`` scores the
whole signal at once. A window is skipped (NaN) where a reference is silent;
for the SDR, as museval does, a window where *any* of the references scored
together is silent is skipped for all of them. One deliberate difference: a
window where the *estimate* is silent scores 0 dB SDR here (its error is the
whole reference), where museval skips it, which would reward a method for
giving up on hard passages. Values are clipped to ``[-MAX_DB, MAX_DB]`` so that
a perfect estimate (infinite SDR) still prints and serialises to JSON.

This module imports only numpy at the top; fast_bss_eval is imported when
per-channel scores are computed.

See also
--------
notebooks/07_evaluation_and_listening.ipynb
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings

import numpy as np

from .errors import AudioContentError, KitError, KitWarning, OptionError

__all__ = [
    "compute_sdr",
    "compute_sdr_per_channel",
    "compute_si_sdr",
    "make_low_anchor",
    "pool_ratings",
    "compute_framewise",
    "evaluate",
    "make_scoreboard",
    "match_references",
    "ScoreTable",
    "Scoreboard",
    "MAX_DB",
    "METRICS",
    "MEASURES",
]

MAX_DB = 300.0
METRICS = ("sdr", "si_sdr", "sdr_per_channel")
DEFAULT_METRICS = ("sdr", "si_sdr")
# what each metric is, in the words every table prints
MEASURES = {
    "sdr": "SDR = museval BSSEval v4 image SDR (both channels together)",
    "si_sdr": "SI-SDR = scale-invariant SDR (both channels together)",
    "sdr_per_channel": "per-channel SDR = BSS Eval SDR per channel, 512-tap filter allowed (fast_bss_eval)",
}
_LABELS = {"sdr": "SDR", "si_sdr": "SI-SDR", "sdr_per_channel": "SDR/ch"}
# A reference channel quieter than this (sum of squares in a window) counts as
# silent: fast_bss_eval cannot solve for a filter onto nothing.
_SILENT_ENERGY = 1e-12


def _as_2d(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[np.newaxis]
    if x.ndim != 2:
        raise OptionError(f"{what} has shape {x.shape}; expected (channels, samples).")
    if not np.all(np.isfinite(x)):
        raise AudioContentError(f"{what} contains NaN or infinite samples.")
    return x


def _pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref, est = _as_2d(reference, "The reference"), _as_2d(estimate, "The estimate")
    if ref.shape != est.shape:
        raise OptionError(
            f"Reference shape {ref.shape} and estimate shape {est.shape} differ; "
            "give signals with the same channels and length (see match_references)."
        )
    return ref, est


def _windows(x: np.ndarray, win: int) -> np.ndarray:
    """(channels, samples) -> (windows, channels, win), dropping the incomplete tail."""
    n_win = x.shape[1] // win
    return x[:, : n_win * win].reshape(x.shape[0], n_win, win).transpose(1, 0, 2)


def _window_length(n: int, sr, window_s) -> int:
    if window_s is None:
        return n
    if sr is None:
        raise OptionError("Framewise scores need the sample rate: pass sr=..., or window_s=None for one score.")
    if window_s <= 0:
        raise OptionError(f"window_s={window_s} must be positive (MUSDB uses 1.0 s), or None.")
    return max(1, min(n, int(round(window_s * sr))))


def _pooled_db(target_energy: np.ndarray, error_energy: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(target_energy / error_energy)
    db = np.where((target_energy == 0) & (error_energy == 0), -np.inf, db)  # silent estimate
    return np.clip(db, -MAX_DB, MAX_DB)


def _one_blas_thread():
    """Solve the small 512 x 512 systems on one BLAS thread.

    Threads gain nothing at this size, and when the cores are busy (a notebook
    server, a shared CI machine) OpenBLAS threads waiting on each other made
    each solve about 30 times slower here.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it, just run
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _silent_windows(ref: np.ndarray) -> np.ndarray:
    """(windows, channels, n) -> (windows,) bool: museval's test, every sample's channel sum exactly 0."""
    return np.all(np.sum(ref, axis=1) == 0, axis=-1)


def _image_sdr_frames(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """ref, est: (windows, channels, n). museval v4 image SDR per window, NaN where the reference is silent."""
    target = np.sum(ref**2, axis=(1, 2))
    error = np.sum((est - ref) ** 2, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(target / error)
    out = np.clip(db, -MAX_DB, MAX_DB)
    out[_silent_windows(ref)] = np.nan
    return out


def _sdr_per_channel_frames(ref: np.ndarray, est: np.ndarray, filter_length: int) -> np.ndarray:
    """ref, est: (windows, channels, n). Per-channel BSS Eval SDR, pooled; NaN where the reference is silent."""
    import fast_bss_eval

    n_win, n_ch, n = ref.shape
    ref_e = np.sum(ref**2, axis=-1)
    est_e = np.sum(est**2, axis=-1)
    live = ref_e > _SILENT_ENERGY
    # share of each estimate channel's energy that the filtered reference explains
    share = np.zeros((n_win, n_ch))
    if np.any(live):
        flen = min(filter_length, n)
        # sdr_loss returns -SDR. One reference per call: no permutation search (it fails
        # on an infinite score), and pairwise=False breaks with numpy 2 in fast_bss_eval 0.1.4.
        with np.errstate(divide="ignore", invalid="ignore"), _one_blas_thread():
            sdr = -fast_bss_eval.sdr_loss(est[live][:, None, :], ref[live][:, None, :],
                                          filter_length=flen, pairwise=True)[:, 0, 0]
        # SDR = 10 log10(share / (1 - share)); this form maps +-inf dB to 1 and 0 cleanly
        with np.errstate(over="ignore"):
            share[live] = 1.0 / (1.0 + np.power(10.0, -np.asarray(sdr, dtype=np.float64) / 10.0))
    target = np.sum(share * est_e, axis=1)
    error = np.sum((1.0 - share) * est_e, axis=1)
    out = _pooled_db(target, error)
    out[~np.any(live, axis=1)] = np.nan
    return out


def _si_sdr_frames(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    ref_e = np.sum(ref**2, axis=-1)
    live = ref_e > _SILENT_ENERGY
    alpha = np.where(live, np.sum(ref * est, axis=-1) / np.where(live, ref_e, 1.0), 0.0)
    target = alpha[..., None] * ref
    out = _pooled_db(np.sum(target**2, axis=(-1, -2)), np.sum((est - target) ** 2, axis=(-1, -2)))
    out[~np.any(live, axis=1)] = np.nan
    return out


def compute_framewise(reference, estimate, *, sr: int | None = None, metric: str = "sdr",
                      window_s: float | None = 1.0, filter_length: int = 512) -> np.ndarray:
    """Scores of consecutive windows, in dB; NaN where the reference is silent.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate in Hz (needed unless ``window_s`` is None).
    metric : {"sdr", "si_sdr", "sdr_per_channel"}
        See the module's docstring (:data:`MEASURES`).
    window_s : float or None
        Window (and hop) in seconds; None: one score for the whole signal.
    filter_length : int
        Distortion filter taps of the per-channel SDR (512 as in BSS Eval v4 / MUSDB).

    Returns
    -------
    scores : np.ndarray, float64, shape (windows,)

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal((2, 8000))
    >>> compute_framewise(ref, ref + 0.1 * ref[::-1], sr=8000, window_s=0.5).shape
    (2,)
    """
    ref, est = _pair(reference, estimate)
    win = _window_length(ref.shape[1], sr, window_s)
    r, e = _windows(ref, win), _windows(est, win)
    if metric == "sdr":
        return _image_sdr_frames(r, e)
    if metric == "sdr_per_channel":
        return _sdr_per_channel_frames(r, e, filter_length)
    if metric == "si_sdr":
        return _si_sdr_frames(r, e)
    raise OptionError(f"Unknown metric '{metric}'; use one of: {', '.join(METRICS)}.")


def _median(scores: np.ndarray) -> float:
    scores = scores[~np.isnan(scores)]
    return float(np.median(scores)) if scores.size else float("nan")


def compute_sdr(reference, estimate, *, sr: int | None = None, window_s: float | None = None) -> float:
    """SDR in dB as museval's BSSEval v4 reports it (median over windows when ``window_s`` is given).

    Both channels count together: ``10 log10(sum(ref**2) / sum((est - ref)**2))``
    per window. Use ``window_s=1.0`` (and ``sr``) for the number papers report.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (channels, samples) or (samples,)
        True stem and its estimate, same shape.
    sr : int, optional
        Sample rate in Hz, needed with ``window_s``.
    window_s : float or None
        None: one score over the whole signal; 1.0: museval's median of 1 s windows.

    Returns
    -------
    sdr_db : float
        NaN if the reference is silent throughout.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(4000)
    >>> noisy = ref + 0.1 * np.random.default_rng(1).standard_normal(4000)  # 20 dB below
    >>> round(compute_sdr(ref, noisy))
    20
    >>> round(compute_sdr(ref, 0.5 * ref))  # no gain is forgiven
    6

    See also
    --------
    compute_sdr_per_channel, compute_si_sdr, evaluate, notebooks/07_evaluation_and_listening.ipynb
    """
    return _median(compute_framewise(reference, estimate, sr=sr, metric="sdr", window_s=window_s))


def compute_sdr_per_channel(reference, estimate, *, sr: int | None = None, window_s: float | None = None,
                            filter_length: int = 512) -> float:
    """Per-channel BSS Eval SDR in dB: each channel may first be fixed up by a ``filter_length``-tap filter.

    This is kit's SDR before it followed museval; it forgives gains and short
    filters, so it reads higher than :func:`compute_sdr`.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(4000)
    >>> noisy = ref + 0.1 * np.random.default_rng(1).standard_normal(4000)
    >>> round(compute_sdr_per_channel(ref, noisy))  # the filter explains a little of the noise
    21
    >>> compute_sdr_per_channel(ref, 0.5 * ref) > 100  # a gain is forgiven
    True

    See also
    --------
    compute_sdr
    """
    return _median(compute_framewise(reference, estimate, sr=sr, metric="sdr_per_channel", window_s=window_s,
                                     filter_length=filter_length))


def compute_si_sdr(reference, estimate, *, sr: int | None = None, window_s: float | None = None) -> float:
    """Scale-invariant SDR in dB (median over windows when ``window_s`` is given).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(4000)
    >>> round(compute_si_sdr(ref, 3 * ref + 0.3 * np.random.default_rng(1).standard_normal(4000)), 0)
    20.0

    See also
    --------
    compute_sdr
    """
    return _median(compute_framewise(reference, estimate, sr=sr, metric="si_sdr", window_s=window_s))


def _fmt(x) -> str:
    return "    n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:7.2f}"


def _json_value(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


class ScoreTable:
    """Scores of one separation, one row per stem: ``{"stem", "sdr_db", "si_sdr_db", "sdr_per_channel_db", "windows"}``.

    Use :meth:`to_text` to print it, :meth:`to_json` to save it; ``table[stem]``
    gives one row and ``table.rows`` all of them. Metrics not computed are NaN;
    ``table.metrics`` lists those that were, and every printout names them.
    """

    def __init__(self, rows: list[dict], *, window_s: float | None, notes: list[str] | None = None,
                 metrics=DEFAULT_METRICS):
        self.rows = rows
        self.window_s = window_s
        self.notes = list(notes or [])
        self.metrics = tuple(metrics)

    def __getitem__(self, stem: str) -> dict:
        for row in self.rows:
            if row["stem"] == stem:
                return row
        raise KeyError(stem)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def mean(self, metric: str = "sdr", *, stems=None) -> float:
        """Mean over stems of a metric (``"sdr"``, ``"si_sdr"``, ``"sdr_per_channel"``), ignoring n/a.

        ``stems`` limits the mean to those stems (a scoreboard averages only the
        stems every method gives, so that its means compare like with like).
        """
        vals = [r[f"{metric}_db"] for r in self.rows
                if not math.isnan(r[f"{metric}_db"]) and (stems is None or r["stem"] in stems)]
        return float(np.mean(vals)) if vals else float("nan")

    def describe(self) -> list[str]:
        """One line per metric shown, saying what it is and how windows were pooled."""
        how = "whole signal" if self.window_s is None else f"median of {self.window_s:g} s windows"
        return [f"{MEASURES[m]}; {how}" for m in self.metrics]

    def to_dict(self) -> dict:
        rows = [{k: _json_value(v) for k, v in r.items()} for r in self.rows]
        return {"window_s": self.window_s, "measures": {m: MEASURES[m] for m in self.metrics}, "stems": rows,
                "mean": {m + "_db": _json_value(self.mean(m)) for m in METRICS}, "notes": self.notes}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kwargs))

    def to_text(self) -> str:
        cols = [m for m in METRICS if m in self.metrics]
        head = f"{'stem':<14}" + "".join(f" {_LABELS[m] + ' dB':>10}" for m in cols)
        lines = [head]
        for r in self.rows:
            lines.append(f"{r['stem']:<14}" + "".join(f" {_fmt(r[m + '_db']):>10}" for m in cols))
        lines.append(f"{'mean':<14}" + "".join(f" {_fmt(self.mean(m)):>10}" for m in cols))
        lines += [f"measure: {d}" for d in self.describe()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()


def match_references(references: dict, estimates: dict, *, on_missing: str = "note") -> tuple[dict, dict, list[str]]:
    """Pair estimated stems with true stems; derive ``accompaniment`` when needed.

    A two-stem method (``vocals`` + ``accompaniment``) is scored against
    four-stem truth by taking the true accompaniment as the sum of every true
    stem except ``vocals``. Stems with no counterpart are left out with a note.

    Returns
    -------
    refs, ests : dict
        Matching stems, in the estimates' order.
    notes : list of str
    """
    refs = {k: v for k, v in references.items() if k != "mixture"}
    notes, summed = [], []
    if "accompaniment" in estimates and "accompaniment" not in refs and "vocals" in refs and len(refs) > 1:
        summed = [k for k in refs if k != "vocals"]
        refs["accompaniment"] = np.sum([np.asarray(refs[k], dtype=np.float64) for k in summed], axis=0)
        notes.append(f"true accompaniment = {' + '.join(summed)}")
    common = [k for k in estimates if k in refs]
    if not common:
        raise OptionError(
            f"No stem names match: estimates have {sorted(estimates)}, references have {sorted(refs)}. "
            "Name the estimates after the true stems (vocals, drums, bass, other, accompaniment)."
        )
    extra = [k for k in estimates if k not in refs]
    missing = [k for k in references if k not in estimates and k != "mixture" and k not in summed]
    if extra:
        notes.append(f"no reference for {', '.join(extra)}: not scored")
    if missing and on_missing == "note":
        notes.append(f"no estimate for {', '.join(missing)}: not scored")
    return {k: refs[k] for k in common}, {k: estimates[k] for k in common}, notes


def evaluate(references: dict, estimates: dict, sr: int | None = None, *, window_s: float | None = 1.0,
             metrics=DEFAULT_METRICS, filter_length: int = 512) -> ScoreTable:
    """Score estimated stems against the true ones: SDR (museval v4) and SI-SDR per stem.

    With the defaults the SDR column is what museval's ``evaluate`` reports
    for the same stems (BSSEval v4 image SDR, median of 1 s windows).

    Parameters
    ----------
    references : dict of str to np.ndarray, shape (channels, samples)
        True stems. An ``accompaniment`` estimate is scored against the sum of
        the true stems other than ``vocals`` when there is no true accompaniment.
    estimates : dict of str to np.ndarray
        Estimated stems, same shapes as the references.
    sr : int
        Sample rate in Hz (needed for windows).
    window_s : float or None
        1.0: museval style, median over 1 s windows; None: one score per stem.
    metrics : tuple of str
        Any of ``"sdr"``, ``"si_sdr"``, ``"sdr_per_channel"`` (slower; see :data:`MEASURES`).
    filter_length : int
        Distortion filter taps of the per-channel SDR.

    Returns
    -------
    table : ScoreTable
        ``table.rows``: ``{"stem", "sdr_db", "si_sdr_db", "sdr_per_channel_db", "windows"}``
        per stem; ``table.to_text()``, ``table.to_json()``.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> table = kit.evaluate(stems, {"vocals": stems["vocals"]}, 44100)
    >>> table["vocals"]["sdr_db"] > 100
    True

    See also
    --------
    make_scoreboard, notebooks/07_evaluation_and_listening.ipynb
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise OptionError(f"Unknown metric(s) {sorted(unknown)}; use: {', '.join(METRICS)}.")
    refs, ests, notes = match_references(references, estimates)
    pairs = {stem: _pair(refs[stem], ests[stem]) for stem in ests}
    # museval scores the stems together and skips a window for all of them when any reference is silent in it
    silent = None
    if "sdr" in metrics:
        for ref, _ in pairs.values():
            win = _window_length(ref.shape[1], sr, window_s)
            s = _silent_windows(_windows(ref, win))
            silent = s if silent is None or silent.shape != s.shape else silent | s
    rows = []
    for stem, (ref, est) in pairs.items():
        row = {"stem": stem}
        n_windows = None
        for m in METRICS:
            if m in metrics:
                frames = compute_framewise(ref, est, sr=sr, metric=m, window_s=window_s, filter_length=filter_length)
                if m == "sdr" and silent is not None and silent.shape == frames.shape:
                    frames = np.where(silent, np.nan, frames)
                row[f"{m}_db"] = _median(frames)
                if n_windows is None:
                    n_windows = int(np.count_nonzero(~np.isnan(frames)))
            else:
                row[f"{m}_db"] = float("nan")
        row["windows"] = n_windows
        rows.append(row)
    return ScoreTable(rows, window_s=window_s, notes=notes, metrics=metrics)


class Scoreboard:
    """Several methods scored on the same clip, best first.

    Attributes
    ----------
    tables : dict of str to ScoreTable
        Each method's per-stem scores.
    ranking : list of (method, score_db)
        Sorted best first by ``rank_by``; methods with no score at the end.
    rank_by : str
        What the score is: ``"vocals SDR"`` or ``"mean SDR"``.
    mean_stems : list of str
        The stems every method was scored on: the "mean" column averages these
        only, so a four-stem method and a two-stem one are compared like with like.
    """

    def __init__(self, tables: dict, *, rank_by: str | None, notes: list[str] | None = None):
        self.tables = tables
        self.notes = list(notes or [])
        self.rank_by = f"{rank_by} SDR" if rank_by else "mean SDR"
        every = [[r["stem"] for r in t.rows] for t in tables.values()]
        self.mean_stems = [s for s in (every[0] if every else []) if all(s in e for e in every)]

        def score(t: ScoreTable) -> float:
            if rank_by is None:
                return t.mean("sdr", stems=self.mean_stems)
            try:
                return t[rank_by]["sdr_db"]
            except KeyError:
                return float("nan")

        scored = [(name, score(t)) for name, t in tables.items()]
        self.ranking = sorted(scored, key=lambda p: (math.isnan(p[1]), -p[1] if not math.isnan(p[1]) else 0))

    @property
    def rows(self) -> list[dict]:
        """One row per method and stem: ``{"method", "stem", "sdr_db", "si_sdr_db", "windows"}``."""
        return [{"method": name, **row} for name, _ in self.ranking for row in self.tables[name].rows]

    @property
    def best(self) -> str:
        return self.ranking[0][0]

    def to_dict(self) -> dict:
        return {
            "rank_by": self.rank_by,
            "measure": MEASURES["sdr"],
            "ranking": [{"method": n, "score_db": _json_value(s),
                         "mean_sdr_db": _json_value(self.tables[n].mean("sdr", stems=self.mean_stems))}
                        for n, s in self.ranking],
            "mean_stems": self.mean_stems,
            "rows": [{k: _json_value(v) for k, v in r.items()} for r in self.rows],
            "notes": self.notes,
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kwargs))

    def to_text(self) -> str:
        stems = []
        for t in self.tables.values():
            stems += [r["stem"] for r in t.rows if r["stem"] not in stems]
        head = f"{'#':>2} {'method':<16}" + "".join(f"{s[:13]:>14}" for s in stems) + f"{'mean':>9}"
        lines = [f"SDR in dB, ranked by {self.rank_by}", head]
        first = next(iter(self.tables.values()), None)
        how = "" if first is None else ("; whole signal" if first.window_s is None
                                        else f"; median of {first.window_s:g} s windows")
        for i, (name, _) in enumerate(self.ranking, 1):
            t = self.tables[name]
            cells = []
            for s in stems:
                try:
                    cells.append(f"{_fmt(t[s]['sdr_db']):>14}")
                except KeyError:
                    cells.append(f"{'-':>14}")
            lines.append(f"{i:>2} {name:<16}" + "".join(cells) + f"{_fmt(t.mean('sdr', stems=self.mean_stems)):>9}")
        lines.append(f"measure: {MEASURES['sdr']}{how}")
        if len(self.mean_stems) < len(stems):
            lines.append(f"mean: of {', '.join(self.mean_stems) or 'no stem'} only, the stems every method gives")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()


def make_scoreboard(mix, true_stems: dict, sr: int, *, separators: dict | None = None, oracles: bool = True,
                    rank_by: str | None = "vocals", window_s: float | None = 1.0, progress=None) -> Scoreboard:
    """Run several separators on one clip and rank them on the same scores.

    Parameters
    ----------
    mix : np.ndarray, shape (channels, samples)
        The mixture (normally the sum of ``true_stems``).
    true_stems : dict of str to np.ndarray
        The true sources, same shape as ``mix``.
    sr : int
        Sample rate in Hz.
    separators : dict of str to Separator or model name, optional
        Methods to compare, e.g. ``{"repet": "repet", "unet": kit.get_separator("unet")}``.
        Default: ``center`` and ``repet``.
    oracles : bool
        Also run the ideal ratio mask, the ideal binary mask and the mixture
        itself (the lower bound).
    rank_by : str or None
        Rank by this stem's SDR (default vocals); None: by mean SDR over stems.
    window_s : float or None
        Passed to :func:`evaluate`.
    progress : callable, optional
        Called with a fraction 0..1.

    Returns
    -------
    board : Scoreboard
        ``board.to_text()``, ``board.ranking``, ``board.tables[method]``.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(5.0)
    >>> board = make_scoreboard(mix, stems, 44100, separators={"center": "center"})
    >>> board.best.startswith("oracle_")  # an ideal mask beats every real method
    True

    See also
    --------
    evaluate, kit.separators.oracle.make_oracle
    """
    from .progress import report, scaled
    from .separators.oracle import make_oracle
    from .separators.registry import get_separator

    methods = dict(separators) if separators is not None else {"center": "center", "repet": "repet"}
    if oracles:
        for kind in ("irm", "ibm", "mixture"):
            sep = make_oracle(kind, true_stems)
            methods.setdefault(sep.name, sep)
    tables, notes, summed = {}, [], {}
    for i, (label, sep) in enumerate(methods.items()):
        step = scaled(progress, i / len(methods), (i + 1) / len(methods))
        if isinstance(sep, str):
            sep = get_separator(sep)
        try:
            estimates = sep.separate(mix, sr, progress=step)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", KitWarning)
                tables[label] = evaluate(true_stems, estimates, sr, window_s=window_s)
        except KitError as exc:  # centre cancellation on mono, HPSS stems with no truth: note, go on
            notes.append(f"{label}: not scored: {exc}")
            continue
        notes += [f"{label}: {n}" for n in tables[label].notes if n.startswith("no reference")]
        # the lower bound's every stem is the mix, so its accompaniment is the mix, not a sum of mixes
        lower_bound = getattr(sep, "name", None) == "mixture" and type(sep).__name__ == "MixtureSeparator"
        summed[label] = _score_summed_accompaniment(true_stems, estimates, sr, window_s,
                                                    mix=mix if lower_bound else None)
    report(progress, 1.0)
    if not tables:
        raise OptionError("No method could be scored on this clip; see the notes: " + "; ".join(notes))
    notes += _add_summed_accompaniment(tables, summed)
    return Scoreboard(tables, rank_by=rank_by, notes=notes)


def _score_summed_accompaniment(true_stems: dict, estimates: dict, sr: int, window_s, *, mix=None) -> tuple | None:
    """A many-stem method's accompaniment (the sum of its stems other than vocals), scored; None if it has none."""
    others = [k for k in estimates if k not in ("vocals", "accompaniment")]
    if "vocals" not in estimates or "accompaniment" in estimates or not others:
        return None
    if mix is not None:
        accompaniment, others = mix, ["mixture"]
    else:
        accompaniment = np.sum([np.asarray(estimates[k], dtype=np.float64) for k in others], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KitWarning)
        table = evaluate(true_stems, {"accompaniment": accompaniment}, sr, window_s=window_s)
    return table.rows[0], others


def _add_summed_accompaniment(tables: dict, summed: dict) -> list[str]:
    """Give four-stem methods an accompaniment row when two-stem methods are on the same board.

    A two-stem method (vocals, accompaniment) and a four-stem one (vocals, drums,
    bass, other) share only the vocals; with the four-stem method's other stems
    summed into an accompaniment, both are scored on the same two stems.
    """
    if not any("accompaniment" in [r["stem"] for r in t.rows] for t in tables.values()):
        return []
    notes = []
    for label, found in summed.items():
        if found is not None and label in tables:
            row, others = found
            tables[label].rows.append(row)
            notes.append(f"{label}: accompaniment = the mixture" if others == ["mixture"]
                         else f"{label}: accompaniment = its {' + '.join(others)}, summed")
    return notes


# --- listening tests ------------------------------------------------------------------


def make_low_anchor(y, sr: int, *, cutoff_hz: float = 3500.0) -> np.ndarray:
    """The MUSHRA low anchor: the reference low-passed at 3.5 kHz (ITU-R BS.1534).

    Every listener should rate it clearly worse than the reference; one who
    does not was not listening (or the playback is broken).

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate in Hz.
    cutoff_hz : float
        Where the low-pass starts (8th-order Butterworth, run forwards and
        backwards so nothing is delayed).

    Returns
    -------
    anchor : np.ndarray, float32, shape like ``y``

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(8000) / 16000
    >>> tones = np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 6000 * t)
    >>> anchor = make_low_anchor(tones, 16000)
    >>> round(float(np.std(anchor)), 2)  # the 6 kHz tone is gone, the 500 Hz one stays
    0.71

    See also
    --------
    kit.ui.listening_test, notebooks/07_evaluation_and_listening.ipynb
    """
    from scipy import signal

    x = np.asarray(y, dtype=np.float64)
    if not cutoff_hz < sr / 2:
        raise OptionError(f"cutoff_hz={cutoff_hz} must be below half the sample rate ({sr / 2:g} Hz).")
    sos = signal.butter(8, cutoff_hz, btype="lowpass", fs=sr, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def pool_ratings(paths) -> dict:
    """Pool the JSON files that :func:`kit.ui.listening_test` saves: every listener's rating per version.

    Parameters
    ----------
    paths : iterable of str or Path
        Ratings files, one per listener.

    Returns
    -------
    pooled : dict
        ``{"ratings": {version: [rating, ...]}, "median": {version: float},
        "sdr_db": {version: float}, "listeners": int}``.

    Examples
    --------
    >>> pool_ratings([])["listeners"]
    0
    """
    from pathlib import Path

    from .errors import InputFileError

    ratings: dict[str, list[float]] = {}
    sdr: dict[str, float] = {}
    n = 0
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            items = data["ratings"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputFileError(f"'{path}' is not a ratings file saved by kit.ui.listening_test "
                                 f"({type(exc).__name__}); leave it out or save it again.") from None
        n += 1
        for name, value in items.items():
            ratings.setdefault(name, []).append(float(value))
        for name, value in (data.get("sdr_db") or {}).items():
            if value is not None:
                sdr[name] = float(value)
    return {"ratings": ratings, "median": {k: float(np.median(v)) for k, v in ratings.items()},
            "sdr_db": sdr, "listeners": n}
