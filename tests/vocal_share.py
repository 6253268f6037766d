"""How much of a backing track is the (true) vocal, measured against true stems.

The vocal's share is the backing track's energy in the time-frequency cells where
the true vocal, shifted by itself into the same key, is at least 20 dB louder than
the true band, over the backing's whole energy, in dB. A clean backing track has
only the band's faint spill in those cells; a vocal left in (or brought back by a
key change) fills them. It needs no alignment of waveforms. With a mask of plain
"vocal louder than band" the band's spill moved with the key (about -1 dB per
3 semitones, as its harmonics moved against the STFT bins); 20 dB above the band,
a perfect backing track (the true band) read -32.9, -32.3 and -33.1 dB at 0, -1
and +2 semitones on the 6 s synthetic multitrack.
"""

from __future__ import annotations

import numpy as np

from kit.pitch import shift_pitch
from kit.spectral import compute_stft


def vocal_share_db(backing, vocals, band, sr: int, *, semitones: float = 0.0, above_db: float = 20.0) -> float:
    """The vocal's share of ``backing`` in dB (see the module docstring); stems are true, unshifted."""
    if semitones:
        vocals, band = (shift_pitch(x, sr, semitones=semitones) for x in (vocals, band))
    mag = [np.abs(compute_stft(x, sr=sr)) for x in (backing, vocals, band)]
    mask = mag[1] > mag[2] * 10 ** (above_db / 20)
    power = mag[0] ** 2
    return float(10 * np.log10(np.sum(power[mask]) / np.sum(power)))
