"""Classical separators: centre-channel cancellation, HPSS and REPET-SIM.

None of these needs weights or a GPU; they are the baselines that the neural
models are compared against on the scoreboard (:mod:`kit.evaluate`).

- ``center``: the old karaoke "L - R" trick. Exact for a source panned dead
  centre; needs a stereo mix.
- ``hpss``: harmonic/percussive separation by median filtering
  (:func:`librosa.decompose.hpss`'s masks, with bottleneck's faster running median).
- ``repet``: REPET-SIM as in librosa's "Vocal separation" recipe, computed in
  blocks so that a whole song fits in bounded memory and time (see
  :func:`filter_repeating`).
"""

from __future__ import annotations

import numpy as np

from ..errors import AudioContentError, OptionError
from ..progress import Progress, report, scaled
from ..spectral import (
    DEFAULT_N_FFT,
    compute_istft,
    compute_masked_waveform,
    compute_stft,
    compute_stft_magnitude,
)
from .base import Separator

__all__ = [
    "CenterSeparator",
    "HPSSSeparator",
    "hpss_masks",
    "median_along",
    "RepetSimSeparator",
    "filter_repeating",
    "compute_repet_sim_masks",
    "make_separator",
    "stems_for",
    "offline_status",
    "REPET_WINDOW_S",
]

_STEMS = {
    "center": ("vocals", "accompaniment"),
    "hpss": ("harmonic", "percussive"),
    "repet": ("vocals", "accompaniment"),
}

# Up to this much audio, REPET-SIM searches the whole song for repetitions and
# reproduces librosa's recipe exactly; longer input searches a sliding window of
# this length around each frame (see filter_repeating).
REPET_WINDOW_S = 60.0

# Bytes a block of gathered neighbour magnitudes may take; bounds peak memory.
_BLOCK_BYTES = 16 * 2**20
# Query frames per similarity block. A block searches the union of its frames' windows
# (window + block - 1 frames); measured, 64 or 128 were no faster than 256 on long songs.
_SIM_BLOCK = 256


# --- REPET-SIM core --------------------------------------------------------

def _librosa_k(n_frames: int, width: int) -> int:
    """librosa.segment.recurrence_matrix's default number of neighbours."""
    return int(2 * np.ceil(np.sqrt(n_frames - 2 * width + 1)))


_PRUNE_ORDER: dict[int, np.ndarray] = {}


def _prune_order(r: int) -> np.ndarray:
    """The order in which librosa keeps links when it cuts a row to k links.

    In connectivity mode every link weighs 1, so librosa's "keep the k closest"
    step (an argsort of equal values) keeps links in the order argsort returns
    for a row of ones: with numpy's sorts that is column order, i.e. the k
    *earliest* of the ``k + 2 * width`` nearest frames that are far enough
    away, not the k closest. We ask numpy the same question, so we keep the
    same links as librosa on this machine whatever its sort does with ties.
    """
    if r not in _PRUNE_ORDER:
        _PRUNE_ORDER[r] = np.argsort(np.ones((1, r)))[0]
    return _PRUNE_ORDER[r]


def _find_neighbours(frames, rows, *, lo, window, n_query, width, k):
    """Repeating frames for ``rows``: what librosa's recurrence_matrix finds, in a window.

    Mirrors sklearn's brute-force cosine k-NN (rows scaled to unit length with
    sklearn's own ``normalize``, float32 ``1 - x.y``, argpartition, argsort,
    dropping the query itself) and then librosa's pruning (no links closer than
    ``width`` frames, at most ``k`` links). ``frames`` is ``(frames, features)``.
    Returns a list of ``(row_positions, targets)`` groups of equal link count.
    """
    from sklearn.preprocessing import normalize

    u0, u1 = int(lo[0]), int(lo[-1]) + window
    # Normalising row by row gives the same bits whatever the slice, so the
    # window is normalised here rather than keeping a normalised copy of the song.
    cand = normalize(frames[u0:u1], copy=True)
    dist = cand[rows - u0] @ cand.T
    del cand
    dist *= -1
    dist += 1
    dist = np.clip(dist, 0.0, 2.0)
    if u1 - u0 > window:  # rows of this block see slightly different windows
        cols = np.arange(u0, u1)
        dist[(cols < lo[:, None]) | (cols >= lo[:, None] + window)] = np.inf
    b = len(rows)
    r_idx = np.arange(b)[:, None]
    nb = np.argpartition(dist, n_query - 1, axis=1)[:, :n_query]
    nb = nb[r_idx, np.argsort(dist[r_idx, nb])] + u0
    keep = nb != rows[:, None]
    keep[np.all(keep, axis=1), 0] = False  # a duplicate frame can push the query itself out
    nb = np.sort(nb[keep].reshape(b, n_query - 1), axis=1)
    valid = np.abs(nb - rows[:, None]) >= width
    counts = valid.sum(axis=1)
    # move the valid links to the front, keeping their (column) order
    nb = np.take_along_axis(nb, np.argsort(~valid, axis=1, kind="stable"), axis=1)
    groups: dict[int, list] = {}
    for r in np.unique(counts):
        pos = np.flatnonzero(counts == r)
        n_links = min(k, int(r))
        sel = _prune_order(int(r))[:n_links]
        groups.setdefault(n_links, []).append((pos, nb[pos][:, sel]))
    # rows with the same number of links share one vectorised median
    return [(np.concatenate([p for p, _ in g]), np.concatenate([t for _, t in g])) for g in groups.values()]


def _median_last_axis(x: np.ndarray) -> np.ndarray:
    """np.median along the last axis, bit for bit, but through a (much faster) sort.

    The median is the middle order statistic, or the float32 mean of the two
    middle ones, exactly as np.median computes it; a full sort of a short axis
    is about ten times quicker than np.median's partition here.
    """
    n = x.shape[-1]
    s = np.sort(x, axis=-1)
    if n % 2:
        return s[..., n // 2]
    return (s[..., n // 2 - 1] + s[..., n // 2]) / np.float32(2)


def filter_repeating(
    mag: np.ndarray,
    *,
    width: int,
    window_frames: int | None = None,
    progress: Progress = None,
) -> np.ndarray:
    """The repeating part of a magnitude spectrogram: ``min(mag, nn-median(mag))``.

    Each frame is replaced by the median of its most similar frames (cosine
    similarity, at least ``width`` frames away), then capped at the input. This
    is ``np.minimum(S, librosa.decompose.nn_filter(S, aggregate=np.median,
    metric='cosine', width=width))`` from librosa's vocal-separation recipe,
    computed in blocks of frames:

    - When the song is at most ``window_frames`` long, every frame searches the
      whole song with librosa's neighbour count ``k = 2 ceil(sqrt(T - 2 width + 1))``
      and the result equals the recipe's bit for bit (same links, same medians;
      the same float32 distances, ties broken the same way, and librosa's
      pruning quirk kept: see ``_prune_order``).
    - When it is longer, each frame searches a window of ``window_frames``
      frames around it (shifted inside the song at the edges) with the ``k`` a
      song of that length would get: each frame gets exactly what the recipe
      gives on the window-long excerpt around it. Repetition in a song (bars,
      choruses) mostly lies within +-30 s. Memory is then O(window * block)
      and time grows linearly with the song, where the plain recipe grows
      faster than the song (a k-NN search of every frame against every frame,
      a sparse matrix built row by row in Python, a median per frame).

    Parameters
    ----------
    mag : np.ndarray, float, shape (freqs, frames) or (channels, freqs, frames)
        Magnitude spectrogram. With several channels the search uses all of them
        stacked (as librosa does for multichannel input) and the median is taken
        per channel.
    width : int
        Minimum distance in frames between a frame and its neighbours (2 s in
        the recipe: ``librosa.time_to_frames(2, sr=sr)``).
    window_frames : int, optional
        Search window; None searches the whole input however long.
    progress : callable, optional
        Called with a fraction 0..1.

    Returns
    -------
    mag_repeating : np.ndarray, float32, same shape as ``mag``

    Examples
    --------
    >>> import numpy as np
    >>> mag = np.abs(np.random.default_rng(0).standard_normal((64, 200))).astype(np.float32)
    >>> filter_repeating(mag, width=10).shape
    (64, 200)

    See also
    --------
    compute_repet_sim_masks, notebooks/04_repet_sim.ipynb
    """
    mag = np.asarray(mag, dtype=np.float32)
    if mag.ndim not in (2, 3):
        raise OptionError(f"mag has shape {mag.shape}; expected (freqs, frames) or (channels, freqs, frames).")
    m3 = mag[np.newaxis] if mag.ndim == 2 else mag
    n_ch, n_freq, n_frames = m3.shape
    window = n_frames if window_frames is None else min(n_frames, int(window_frames))
    width = int(width)
    if width < 1 or width >= (window - 1) // 2:
        raise AudioContentError(
            f"REPET-SIM needs more than {2 * width + 2} frames to look {width} frames away for "
            f"repetitions, got {window}; use a longer clip or a smaller width."
        )
    k = _librosa_k(window, width)
    n_query = min(window - 1, k + 2 * width) + 1  # +1: the frame finds itself first
    # One row per frame, channels side by side: librosa's reshape(order="F") layout.
    # Rows make gathering a frame's neighbours a copy of whole rows.
    if n_ch == 1 and m3[0].T.flags.c_contiguous:
        frames = m3[0].T  # librosa.stft's output is already laid out this way: no copy
    else:
        frames = np.empty((n_frames, n_ch * n_freq), dtype=np.float32)
        for c in range(n_ch):
            frames[:, c * n_freq:(c + 1) * n_freq] = m3[c].T
    out = np.empty_like(m3)
    # Any fixed order of a frame's neighbours gives the same median; a shuffled
    # one sorts about three times faster than frames in time order.
    shuffle = np.random.default_rng(0).permutation(max(k, 1))
    chunk = int(np.clip(_BLOCK_BYTES // (4 * n_ch * n_freq * max(k, 1)), 1, 256))
    block = _SIM_BLOCK
    for start in range(0, n_frames, block):
        rows = np.arange(start, min(start + block, n_frames))
        lo = np.clip(rows - window // 2, 0, n_frames - window)
        for pos, targets in _find_neighbours(frames, rows, lo=lo, window=window, n_query=n_query, width=width, k=k):
            if targets.shape[1] == k:
                targets = targets[:, shuffle]
            for a in range(0, len(pos), chunk):
                dest, tg = rows[pos[a:a + chunk]], targets[a:a + chunk]
                if tg.shape[1] == 0:  # no neighbour: librosa keeps the frame as it is
                    med = frames[dest]
                else:  # (rows, links, features) -> (rows, features, links): sort along links
                    med = _median_last_axis(np.ascontiguousarray(frames[tg].transpose(0, 2, 1)))
                for c in range(n_ch):
                    out[c][:, dest] = med[:, c * n_freq:(c + 1) * n_freq].T
        report(progress, rows[-1] / n_frames)
    del frames
    np.minimum(m3, out, out=out)
    return out[0] if mag.ndim == 2 else out


def compute_repet_sim_masks(
    mag: np.ndarray,
    *,
    sr: int,
    hop_length: int = DEFAULT_N_FFT // 4,
    width_s: float = 2.0,
    margin_i: float = 2.0,
    margin_v: float = 10.0,
    power: float = 2.0,
    window_s: float | None = REPET_WINDOW_S,
    progress: Progress = None,
) -> tuple[np.ndarray, np.ndarray]:
    """REPET-SIM soft masks for the repeating background and the foreground (vocals).

    librosa's recipe, with its numbers as defaults::

        S_filter = np.minimum(S, nn_filter(S, aggregate=np.median, metric="cosine",
                                           width=int(librosa.time_to_frames(2, sr=sr))))
        mask_i = softmask(S_filter, margin_i * (S - S_filter), power=power)
        mask_v = softmask(S - S_filter, margin_v * S_filter, power=power)

    With margins above 1 the two masks do not sum to one: a bin goes to the
    foreground only where it is ``margin_v`` times louder than the repeating
    part.

    Parameters
    ----------
    mag : np.ndarray, shape (freqs, frames) or (channels, freqs, frames)
        Magnitude spectrogram ``S``.
    sr : int
        Sample rate in Hz (with ``hop_length``, turns seconds into frames).
    hop_length : int
        STFT hop in samples used for ``mag``.
    width_s : float
        Repetitions closer than this are ignored (recipe: 2 s).
    margin_i, margin_v : float
        Margins of the background and foreground masks (recipe: 2 and 10).
    power : float
        Soft-mask exponent (recipe: 2).
    window_s : float or None
        Input up to this long is processed exactly like the recipe; longer input
        searches for repetitions within a window this long around each frame.
        None: always search the whole input (exact, but quadratic time).
    progress : callable, optional
        Called with a fraction 0..1.

    Returns
    -------
    mask_i, mask_v : np.ndarray, float32, shape like ``mag``
        Background (instruments) and foreground (vocals) masks.

    Examples
    --------
    >>> import kit, numpy as np
    >>> y, sr = kit.examples.load_song(sr=22050, mono=True, duration_s=6.0)
    >>> mag = np.abs(kit.spectral.compute_stft(y))[0]
    >>> mask_i, mask_v = compute_repet_sim_masks(mag, sr=sr)
    >>> mask_v.shape == mag.shape
    True

    See also
    --------
    filter_repeating, RepetSimSeparator, notebooks/04_repet_sim.ipynb
    """
    mag = np.asarray(mag, dtype=np.float32)
    return _repet_sim_masks(mag, sr=sr, hop_length=hop_length, width_s=width_s, margin_i=margin_i,
                            margin_v=margin_v, power=power, window_s=window_s, progress=progress)


def _repet_sim_masks(mag, *, sr, hop_length, width_s, margin_i, margin_v, power, window_s, progress,
                     background: bool = True):
    import librosa

    width = int(librosa.time_to_frames(width_s, sr=sr, hop_length=hop_length))
    window = None if window_s is None else 1 + int(round(window_s * sr)) // hop_length
    s_filter = filter_repeating(mag, width=width, window_frames=window, progress=scaled(progress, 0.0, 0.95))
    mask_i = np.empty_like(mag) if background else None
    # mask_v is written over s_filter block by block: no extra spectrogram for it
    step = 1024  # frames per softmask call: its temporaries stay small
    for a in range(0, mag.shape[-1], step):
        s = mag[..., a:a + step]
        f = s_filter[..., a:a + step]
        diff = s - f
        if background:
            mask_i[..., a:a + step] = librosa.util.softmask(f, margin_i * diff, power=power)
        f[...] = librosa.util.softmask(diff, margin_v * f, power=power)
    report(progress, 1.0)
    return mask_i, s_filter


# --- separators -------------------------------------------------------------

class CenterSeparator(Separator):
    """Centre-channel cancellation: the karaoke "L - R" trick, made to sum to the mix.

    A source panned dead centre is identical in both channels, so the side
    signal ``(L - R) / 2`` contains none of it. The ``accompaniment`` stem is
    that side signal, in anti-phase on the two channels (``[side, -side]``);
    ``vocals`` is the rest, ``mix - accompaniment``, which is the mid signal
    ``(L + R) / 2`` on both channels. Exact for what is centred: the centred
    voice leaves the accompaniment completely, but so do the centred bass and
    kick drum, and the "vocals" keep half of every side-panned instrument. The
    accompaniment collapses to silence when played in mono.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> out = CenterSeparator().separate(mix, 44100)
    >>> sorted(out)
    ['accompaniment', 'vocals']

    See also
    --------
    notebooks/03_centre_and_hpss.ipynb
    """

    name = "center"
    stems = _STEMS["center"]
    stereo = False  # mono must not be copied to stereo: it has no side signal

    def check_input(self, y, sr):
        if y.shape[0] != 2:
            raise AudioContentError(
                "Centre-channel cancellation needs a stereo mix, and this audio is mono; "
                "use --model unet (or repet / hpss) instead."
            )
        side = 0.5 * (y[0] - y[1])
        peak = float(np.max(np.abs(y)))
        if float(np.max(np.abs(side))) <= 1e-6 * max(peak, 1e-30):
            raise AudioContentError(
                "Centre-channel cancellation needs a stereo mix, but both channels are identical "
                "(mono saved as stereo), so nothing is left after cancelling; use --model unet instead."
            )

    def _separate(self, y, sr, *, progress=None):
        side = 0.5 * (y[0] - y[1])
        accompaniment = np.stack([side, -side]).astype(np.float32)
        return {"vocals": y - accompaniment, "accompaniment": accompaniment}


def median_along(x: np.ndarray, length: int, *, axis: int) -> np.ndarray:
    """Running median of odd ``length`` along ``axis``, edges mirrored: ``scipy.ndimage.median_filter``'s answer.

    Equal, value for value, to ``median_filter(x, size=...)`` with ``mode="reflect"``
    and a window only along ``axis``, but through bottleneck's moving median
    (a sorted window slid along the axis): 7-8x faster on a song's spectrogram.
    """
    import bottleneck

    if length % 2 == 0:  # scipy takes the upper of the two middle values, bottleneck their mean
        from scipy.ndimage import median_filter

        size = [1] * x.ndim
        size[axis] = length
        return median_filter(x, size=size, mode="reflect")
    half = length // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (half, half)
    padded = np.pad(x, pad, mode="symmetric")  # scipy's "reflect": d c b a | a b c d | d c b a
    # bottleneck's window ends at each sample: the centred medians start length - 1 in
    out = bottleneck.move_median(padded, length, axis=axis)
    index = [slice(None)] * x.ndim
    index[axis] = slice(length - 1, None)
    return out[tuple(index)]


def hpss_masks(mag: np.ndarray, *, kernel_size=31, power: float = 2.0, margin=1.0):
    """Soft masks of :func:`librosa.decompose.hpss` (``mask=True``), with a faster median filter.

    Parameters
    ----------
    mag : np.ndarray, shape (..., bins, frames)
        Magnitude spectrogram.
    kernel_size, power, margin
        As in :func:`librosa.decompose.hpss` (filter lengths in frames and
        bins; soft-mask exponent; margins >= 1).

    Returns
    -------
    mask_harmonic, mask_percussive : np.ndarray, shape like ``mag``

    Examples
    --------
    >>> import numpy as np
    >>> mag = np.abs(np.random.default_rng(0).normal(size=(64, 40))).astype(np.float32)
    >>> h, p = hpss_masks(mag, kernel_size=7)
    >>> bool(np.allclose(h + p, 1.0))
    True
    """
    import librosa

    win_harm, win_perc = np.broadcast_to(np.asarray(kernel_size), 2)
    margin_harm, margin_perc = np.broadcast_to(np.asarray(margin, dtype=float), 2)
    harm = median_along(mag, int(win_harm), axis=-1)  # along time: sustained tones
    perc = median_along(mag, int(win_perc), axis=-2)  # along frequency: hits
    split_zeros = margin_harm == 1 and margin_perc == 1
    mask_harm = librosa.util.softmask(harm, perc * margin_harm, power=power, split_zeros=split_zeros)
    mask_perc = librosa.util.softmask(perc, harm * margin_perc, power=power, split_zeros=split_zeros)
    return mask_harm, mask_perc


class HPSSSeparator(Separator):
    """Harmonic/percussive separation by median filtering (:func:`librosa.decompose.hpss`).

    Sustained tones are horizontal lines in a spectrogram, drum hits vertical
    ones; a median filter along time keeps the first, along frequency the
    second. Each channel is processed on its own.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Median filter length in frames (harmonic) and bins (percussive).
    margin : float or (float, float)
        Above 1, a bin must be ``margin`` times more harmonic (percussive) than
        percussive (harmonic) to count; the rest becomes a ``residual`` stem.
    power : float
        Soft-mask exponent.
    n_fft, hop_length : int
        STFT sizes in samples.

    Stems: ``harmonic`` and ``percussive`` (``percussive = mix - harmonic``, so
    they sum to the mix exactly); with a margin above 1, ``harmonic``,
    ``percussive`` and ``residual = mix - harmonic - percussive``.

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.examples.load_song(duration_s=2.0)
    >>> sorted(HPSSSeparator(margin=2.0).separate(y, sr))
    ['harmonic', 'percussive', 'residual']
    """

    name = "hpss"

    def __init__(self, *, kernel_size=31, margin=1.0, power: float = 2.0,
                 n_fft: int = DEFAULT_N_FFT, hop_length: int | None = None):
        margins = np.atleast_1d(np.asarray(margin, dtype=float))
        if margins.size not in (1, 2) or np.any(margins < 1.0):
            raise OptionError(f"margin={margin!r} must be a number >= 1 or a pair of them (1 = no margin).")
        self.kernel_size = kernel_size
        self.margin = margin
        self.power = float(power)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length or self.n_fft // 4)
        self.stems = _STEMS["hpss"] + (("residual",) if np.any(margins > 1.0) else ())

    def _separate(self, y, sr, *, progress=None):
        n = y.shape[1]
        spec = compute_stft(y, n_fft=self.n_fft, hop_length=self.hop_length)
        report(progress, 0.1)
        mask_harm, mask_perc = hpss_masks(np.abs(spec), kernel_size=self.kernel_size, power=self.power,
                                          margin=self.margin)
        harm, perc = spec * mask_harm, spec * mask_perc
        del spec, mask_harm, mask_perc
        report(progress, 0.8)
        harmonic = compute_istft(harm, n_fft=self.n_fft, hop_length=self.hop_length, length=n)
        if "residual" not in self.stems:
            return {"harmonic": harmonic, "percussive": y - harmonic}
        percussive = compute_istft(perc, n_fft=self.n_fft, hop_length=self.hop_length, length=n)
        return {"harmonic": harmonic, "percussive": percussive, "residual": y - harmonic - percussive}


class RepetSimSeparator(Separator):
    """REPET-SIM vocal separation (librosa's "Vocal separation" recipe) for whole songs.

    The accompaniment of a song repeats; the voice varies. Each frame is
    compared with similar frames elsewhere in the song, and what they have in
    common (their median) is taken as the repeating background. See
    :func:`compute_repet_sim_masks` for the maths and :func:`filter_repeating`
    for how long songs stay within bounded memory.

    Stereo: the masks are computed once, on the mono downmix ``(L + R) / 2`` (the
    signal ``librosa.load`` gives the recipe by default), and applied to each
    channel. Repetition is a property of the song, not of a channel; one search
    costs half of two, and one mask for both channels keeps every stem's stereo
    image that of the mix.

    Stems: ``vocals`` is the recipe's foreground (``mask_v`` times the mixture);
    ``accompaniment = mix - vocals``, so the two sum to the mix and whatever the
    margins leave undecided stays in the backing track.

    Parameters
    ----------
    width_s : float
        Repetitions closer than this are ignored (recipe: 2 s).
    margin_i, margin_v, power : float
        Soft-mask settings (recipe: 2, 10, 2).
    window_s : float or None
        Songs up to this long follow the recipe exactly; longer ones search for
        repetitions within a window this long around each frame.
    n_fft, hop_length : int
        STFT sizes in samples (librosa's defaults, as in the recipe).

    Examples
    --------
    >>> import kit
    >>> y, sr = kit.examples.load_song(duration_s=5.0)
    >>> sorted(RepetSimSeparator().separate(y, sr))
    ['accompaniment', 'vocals']
    """

    name = "repet"
    stems = _STEMS["repet"]

    def __init__(self, *, width_s: float = 2.0, margin_i: float = 2.0, margin_v: float = 10.0,
                 power: float = 2.0, window_s: float | None = REPET_WINDOW_S,
                 n_fft: int = DEFAULT_N_FFT, hop_length: int | None = None):
        if width_s <= 0:
            raise OptionError(f"width_s={width_s} must be positive (the recipe uses 2 s).")
        if window_s is not None and window_s < 4 * width_s:
            raise OptionError(
                f"window_s={window_s} is too short for width_s={width_s}; use at least {4 * width_s:g} s."
            )
        self.width_s, self.window_s = float(width_s), window_s
        self.margin_i, self.margin_v, self.power = float(margin_i), float(margin_v), float(power)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length or self.n_fft // 4)
        # the neighbour search needs more than 2 * width_s of audio (plus a few frames)
        self.min_duration_s = 2 * self.width_s + 0.25

    def _separate(self, y, sr, *, progress=None):
        stft = dict(n_fft=self.n_fft, hop_length=self.hop_length)
        mid = y.mean(axis=0, dtype=np.float32) if y.shape[0] > 1 else y[0]
        # chunked transforms: a whole song never has a complex spectrogram in memory
        mag = compute_stft_magnitude(mid, **stft)[0]
        del mid
        _, mask_v = _repet_sim_masks(
            mag, sr=sr, hop_length=self.hop_length, width_s=self.width_s, margin_i=self.margin_i,
            margin_v=self.margin_v, power=self.power, window_s=self.window_s, progress=scaled(progress, 0.05, 0.9),
            background=False,  # the accompaniment is mix - vocals: mask_i is not needed
        )
        del mag
        vocals = compute_masked_waveform(y, mask_v, **stft)
        del mask_v  # before the second stem: the peak is the input, two stems and one mask
        return {"vocals": vocals, "accompaniment": y - vocals}


# --- family interface (kit.separators.registry) -----------------------------

_CLASSES = {"center": CenterSeparator, "hpss": HPSSSeparator, "repet": RepetSimSeparator}
_OPTIONS = {
    "center": (),
    "hpss": ("kernel_size", "margin", "power", "n_fft", "hop_length"),
    "repet": ("width_s", "margin_i", "margin_v", "power", "window_s", "n_fft", "hop_length"),
}


def _check_name(name: str) -> None:
    if name not in _CLASSES:
        raise OptionError(f"Unknown classical method '{name}'; choose one of: {', '.join(_CLASSES)}.")


def make_separator(name: str, **options) -> Separator:
    """Build a classical separator; options it does not use (device, model_dir...) are ignored.

    Examples
    --------
    >>> make_separator("hpss", device="cuda").stems
    ('harmonic', 'percussive')
    """
    _check_name(name)
    kwargs = {key: options[key] for key in _OPTIONS[name] if options.get(key) is not None}
    return _CLASSES[name](**kwargs)


def stems_for(name: str, **options) -> tuple[str, ...]:
    """Stem names of a classical method with its default settings."""
    _check_name(name)
    return _STEMS[name]


def offline_status(name: str, **options) -> tuple[bool, str]:
    """Classical methods always run offline: there are no weights."""
    _check_name(name)
    return True, "signal processing, no weights needed (CPU)"
