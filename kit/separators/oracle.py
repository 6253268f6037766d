"""Oracle separators: the best a mask can do, and the mixture as a floor.

An oracle knows the true stems (the ground truth of a multitrack such as
:func:`kit.examples.make_multitrack` or a MUSDB18 track) and builds the ideal
mask from them. It shows how far a *mask* on the mixture's spectrogram can go,
which bounds every masking method (REPET-SIM, HPSS, the U-Net). The
"mixture" separator returns the mix as every stem: the score a method must
beat to have done anything at all.

They are ordinary :class:`~kit.separators.base.Separator` objects, so they land
on the same scoreboard as real methods (:func:`kit.evaluate.make_scoreboard`),
but they are not in the command line's model list: they need the true stems.
"""

from __future__ import annotations

import numpy as np

from ..audio import check_audio
from ..errors import AudioContentError, OptionError
from ..masks import compute_masks
from ..progress import report
from ..spectral import DEFAULT_N_FFT, compute_istft, compute_stft
from .base import Separator

__all__ = ["OracleMaskSeparator", "MixtureSeparator", "make_oracle", "ORACLE_KINDS"]

ORACLE_KINDS = ("irm", "ibm", "wiener", "mixture")


def _check_true_stems(true_stems) -> dict[str, np.ndarray]:
    if not isinstance(true_stems, dict) or not true_stems:
        raise OptionError("An oracle needs the true stems as a dict {name: waveform}, e.g. from make_multitrack().")
    stems = {name: check_audio(s, what=f"The true stem '{name}'") for name, s in true_stems.items()}
    shapes = {s.shape for s in stems.values()}
    if len(shapes) != 1:
        raise OptionError(f"The true stems have different shapes {sorted(shapes)}; give stems of equal length.")
    return stems


class _OracleBase(Separator):
    sample_rate = None
    stereo = False

    def __init__(self, true_stems: dict):
        self.true_stems = _check_true_stems(true_stems)
        self.stems = tuple(self.true_stems)

    def _check_mix(self, y: np.ndarray) -> None:
        shape = next(iter(self.true_stems.values())).shape
        if y.shape != shape:
            raise AudioContentError(
                f"The mix has shape {y.shape} but the true stems have {shape}; "
                "pass the mixture that goes with these stems."
            )


class OracleMaskSeparator(_OracleBase):
    """Separate with the ideal mask computed from the true stems.

    Parameters
    ----------
    true_stems : dict of str to np.ndarray, shape (channels, samples)
        The true sources; the mixture passed to :meth:`separate` must have the
        same shape (and is normally their sum).
    kind : {"irm", "ibm", "wiener"}
        ``irm``: ideal ratio mask ``|S_j| / sum_k |S_k|`` (magnitude ratio, IRM1);
        ``wiener``: the power ratio ``|S_j|^2 / sum_k |S_k|^2`` (IRM2);
        ``ibm``: ideal binary mask, each bin to its loudest source.
    n_fft, hop_length : int
        STFT sizes in samples.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(2.0)
    >>> est = OracleMaskSeparator(stems, kind="irm").separate(mix, 44100)
    >>> sorted(est) == sorted(stems)
    True

    See also
    --------
    make_oracle, kit.masks.compute_masks, notebooks/02_masks_and_oracles.ipynb
    """

    def __init__(self, true_stems: dict, *, kind: str = "irm", n_fft: int = DEFAULT_N_FFT,
                 hop_length: int | None = None):
        if kind not in ("irm", "ibm", "wiener"):
            raise OptionError(f"Unknown oracle mask '{kind}'; use 'irm', 'ibm' or 'wiener'.")
        super().__init__(true_stems)
        self.kind = kind
        self.name = f"oracle_{kind}"
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length or self.n_fft // 4)

    def _separate(self, y, sr, *, progress=None):
        self._check_mix(y)
        stft = dict(n_fft=self.n_fft, hop_length=self.hop_length)
        mags = {name: np.abs(compute_stft(s, **stft)) for name, s in self.true_stems.items()}
        report(progress, 0.4)
        if self.kind == "ibm":
            masks = compute_masks(mags, kind="binary")
        else:
            masks = compute_masks(mags, kind="ratio", power=1.0 if self.kind == "irm" else 2.0)
        del mags
        spec = compute_stft(y, **stft)
        return {name: compute_istft(spec * m, length=y.shape[1], **stft) for name, m in masks.items()}


class MixtureSeparator(_OracleBase):
    """The lower bound: every stem estimate is the mixture itself.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(1.0)
    >>> est = MixtureSeparator(stems).separate(mix, 44100)
    >>> bool((est["vocals"] == mix).all())
    True
    """

    name = "mixture"

    def _separate(self, y, sr, *, progress=None):
        self._check_mix(y)
        return {name: y.copy() for name in self.stems}


def make_oracle(kind: str, true_stems: dict, **options) -> Separator:
    """Build an oracle separator: ``"irm"``, ``"ibm"``, ``"wiener"`` or ``"mixture"``.

    Parameters
    ----------
    kind : str
        Which oracle (see :class:`OracleMaskSeparator`); ``"mixture"`` is the
        mixture-as-estimate lower bound.
    true_stems : dict of str to np.ndarray
        The true sources, shape (channels, samples) each.
    **options
        ``n_fft``, ``hop_length`` for the mask oracles.

    Examples
    --------
    >>> import kit
    >>> mix, stems = kit.examples.make_multitrack(1.0)
    >>> make_oracle("ibm", stems).name
    'oracle_ibm'

    See also
    --------
    kit.evaluate.make_scoreboard
    """
    if kind == "mixture":
        return MixtureSeparator(true_stems)
    if kind not in ORACLE_KINDS:
        raise OptionError(f"Unknown oracle '{kind}'; choose one of: {', '.join(ORACLE_KINDS)}.")
    allowed = {k: v for k, v in options.items() if k in ("n_fft", "hop_length")}
    return OracleMaskSeparator(true_stems, kind=kind, **allowed)
