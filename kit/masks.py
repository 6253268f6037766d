"""Time-frequency masks: binary, ratio (IRM), Wiener-style and librosa soft masks.

A mask is an array of weights in 0..1 shaped like a magnitude spectrogram
``(channels, freqs, frames)`` (or ``(freqs, frames)``, shared by every channel).
Multiplying a mixture's complex spectrogram by a mask keeps the mixture's phase
and scales each time-frequency bin; :func:`apply_mask` does exactly that.

Conventions used throughout:

- *binary mask*: 1 where the target is louder than the rest (by ``threshold_db``).
- *ratio mask* (IRM): ``|T|^p / (|T|^p + |I|^p)``; ``p=1`` is the magnitude ratio
  ("IRM1" in the MUSDB oracle literature), ``p=2`` the power ratio, i.e. the
  Wiener-style mask ("IRM2").
- *soft mask*: :func:`librosa.util.softmask`, with a ``margin`` that makes the
  target win only where it is clearly louder than the reference.

Where every source is silent, a ratio mask is undefined; we split the bin
evenly (``1 / n_sources``) so that masks of all sources still sum to one.
"""

from __future__ import annotations

import numpy as np

from .errors import OptionError

__all__ = [
    "compute_binary_mask",
    "compute_ratio_mask",
    "compute_wiener_mask",
    "compute_soft_mask",
    "compute_masks",
    "apply_mask",
]


def _as_mag(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        x = np.abs(x)
    if np.any(x < 0):
        raise OptionError(f"{what} has negative values; pass magnitudes (np.abs of a spectrogram).")
    return x.astype(np.float32, copy=False)


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise OptionError(
            f"Spectrogram shapes differ: {a.shape} vs {b.shape}; compute both with the same STFT settings."
        )


def compute_binary_mask(target, interference, *, threshold_db: float = 0.0) -> np.ndarray:
    """Ideal-binary-style mask: 1 where ``target`` beats ``interference`` by ``threshold_db``.

    Parameters
    ----------
    target, interference : np.ndarray, shape (channels, freqs, frames)
        Magnitudes (or complex spectrograms; their magnitude is used).
    threshold_db : float
        How much louder, in dB, the target must be to keep a bin (0: just louder).

    Returns
    -------
    mask : np.ndarray, float32, values 0 or 1

    Examples
    --------
    >>> import numpy as np
    >>> compute_binary_mask(np.array([2.0, 1.0]), np.array([1.0, 2.0])).tolist()
    [1.0, 0.0]

    See also
    --------
    compute_ratio_mask, notebooks/02_masks_and_oracles.ipynb
    """
    t, i = _as_mag(target, "target"), _as_mag(interference, "interference")
    _check_same_shape(t, i)
    gain = 10.0 ** (threshold_db / 20.0)
    # ">" with the threshold, so a bin that is silent in both goes to the interference
    return (t > gain * i).astype(np.float32)


def compute_ratio_mask(target, interference, *, power: float = 1.0) -> np.ndarray:
    """Ratio mask ``|T|^p / (|T|^p + |I|^p)`` (the ideal ratio mask, IRM, with true sources).

    Parameters
    ----------
    target, interference : np.ndarray, shape (channels, freqs, frames)
        Magnitudes (or complex spectrograms).
    power : float
        1: magnitude ratio (IRM1); 2: power ratio, the Wiener-style mask (IRM2).

    Returns
    -------
    mask : np.ndarray, float32, in 0..1; 0.5 where both are silent

    Examples
    --------
    >>> import numpy as np
    >>> compute_ratio_mask(np.array([3.0, 0.0]), np.array([1.0, 0.0])).tolist()
    [0.75, 0.5]

    See also
    --------
    compute_wiener_mask, compute_masks
    """
    t, i = _as_mag(target, "target"), _as_mag(interference, "interference")
    _check_same_shape(t, i)
    return compute_masks({"target": t, "interference": i}, kind="ratio", power=power)["target"]


def compute_wiener_mask(target, interference) -> np.ndarray:
    """Wiener-style mask ``|T|^2 / (|T|^2 + |I|^2)``: :func:`compute_ratio_mask` with ``power=2``.

    Examples
    --------
    >>> import numpy as np
    >>> compute_wiener_mask(np.array([3.0]), np.array([1.0])).tolist()
    [0.8999999761581421]
    """
    return compute_ratio_mask(target, interference, power=2.0)


def compute_soft_mask(x, x_ref, *, margin: float = 1.0, power: float = 1.0, split_zeros: bool = False) -> np.ndarray:
    """librosa's soft mask: ``x^p / (x^p + (margin*x_ref)^p)``, computed stably.

    This is :func:`librosa.util.softmask` (``X = x``, ``X_ref = margin * x_ref``
    in the recipes): with ``margin > 1`` the target must be ``margin`` times
    louder than the reference to get half of a bin. ``power=np.inf`` gives a
    hard (binary) mask.

    Parameters
    ----------
    x, x_ref : np.ndarray, non-negative, same shape
        Target and reference magnitudes.
    margin : float
        Multiplies ``x_ref`` (librosa passes ``margin * x_ref`` as ``X_ref``).
    power : float
        Exponent; larger is harder.
    split_zeros : bool
        Where both are zero: 0.5 if True, else 0 (librosa's default).

    Returns
    -------
    mask : np.ndarray, float32

    Examples
    --------
    >>> import numpy as np
    >>> round(float(compute_soft_mask(np.array([1.0]), np.array([1.0]), margin=2.0, power=2)[0]), 3)
    0.2

    See also
    --------
    librosa.util.softmask, kit.separators.classical.compute_repet_sim_masks
    """
    import librosa

    x, x_ref = _as_mag(x, "x"), _as_mag(x_ref, "x_ref")
    _check_same_shape(x, x_ref)
    if margin < 0:
        raise OptionError(f"margin={margin} must be 0 or more (1 = no margin).")
    if power <= 0:
        raise OptionError(f"power={power} must be positive (1 or 2 are usual; np.inf gives a binary mask).")
    ref = x_ref if margin == 1 else margin * x_ref
    return librosa.util.softmask(x, ref, power=power, split_zeros=split_zeros).astype(np.float32, copy=False)


def compute_masks(mags: dict, *, kind: str = "ratio", power: float = 1.0) -> dict[str, np.ndarray]:
    """Masks for several sources at once, summing to one in every bin.

    Parameters
    ----------
    mags : dict of str to np.ndarray
        Magnitude (or complex) spectrogram of each source, all the same shape.
    kind : {"ratio", "binary"}
        ``ratio``: ``|S_j|^p / sum_k |S_k|^p``; ``binary``: 1 for the loudest
        source in each bin (ties go to the first source named).
    power : float
        Exponent of the ratio mask (1: magnitude, 2: Wiener-style power ratio).

    Returns
    -------
    masks : dict of str to np.ndarray, float32, same keys and shape

    Examples
    --------
    >>> import numpy as np
    >>> m = compute_masks({"a": np.array([3.0]), "b": np.array([1.0])}, kind="ratio")
    >>> {k: v.tolist() for k, v in m.items()}
    {'a': [0.75], 'b': [0.25]}

    See also
    --------
    kit.separators.oracle, notebooks/02_masks_and_oracles.ipynb
    """
    if not mags:
        raise OptionError("compute_masks needs at least one source spectrogram.")
    names = list(mags)
    stack = np.stack([_as_mag(mags[n], f"'{n}'") for n in names])
    if kind == "binary":
        winner = np.argmax(stack, axis=0)
        return {n: (winner == j).astype(np.float32) for j, n in enumerate(names)}
    if kind != "ratio":
        raise OptionError(f"Unknown mask kind '{kind}'; use 'ratio' or 'binary'.")
    if power <= 0:
        raise OptionError(f"power={power} must be positive (1: magnitude ratio, 2: Wiener-style).")
    # float64 so that tiny magnitudes raised to a power do not underflow to 0/0
    p = stack.astype(np.float64) ** power
    total = p.sum(axis=0)
    silent = total <= np.finfo(np.float64).tiny
    total[silent] = 1.0
    out = {}
    for j, n in enumerate(names):
        m = p[j] / total
        m[silent] = 1.0 / len(names)
        out[n] = m.astype(np.float32)
    return out


def apply_mask(spec: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Multiply a (complex) spectrogram by a mask, keeping the mixture's phase.

    Parameters
    ----------
    spec : np.ndarray, shape (channels, freqs, frames) or (freqs, frames)
    mask : np.ndarray, shape like ``spec``, or ``(freqs, frames)`` to use one
        mask for every channel.

    Returns
    -------
    masked : np.ndarray, same shape and dtype as ``spec``

    Examples
    --------
    >>> import numpy as np
    >>> apply_mask(np.ones((2, 3, 4), np.complex64), np.zeros((3, 4))).shape
    (2, 3, 4)

    See also
    --------
    kit.spectral.compute_istft
    """
    spec = np.asarray(spec)
    mask = np.asarray(mask)
    if mask.shape != spec.shape and mask.shape != spec.shape[-2:]:
        raise OptionError(
            f"Mask shape {mask.shape} does not fit spectrogram shape {spec.shape}; "
            "compute the mask from a spectrogram made with the same STFT settings."
        )
    out_dtype = spec.dtype if np.iscomplexobj(spec) or spec.dtype.kind == "f" else np.float32
    return (spec * mask).astype(out_dtype, copy=False)
