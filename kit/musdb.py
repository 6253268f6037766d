"""Read tracks from a MUSDB18 copy that is already on this machine.

Nothing is downloaded. The layout read is the decoded one of "MUSDB18-HQ"
(or MUSDB18 converted with ``musdbconvert``)::

    ROOT/train/TRACK NAME/{mixture,drums,bass,other,vocals}.wav
    ROOT/test/TRACK NAME/{mixture,drums,bass,other,vocals}.wav

Any format :func:`kit.load` reads works in place of ``.wav``. The compressed
MUSDB18 release (``*.stem.mp4``) must be converted first.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np

from .audio import AUDIO_EXTENSIONS
from .errors import InputFileError, OptionError

__all__ = ["MUSDB_STEMS", "MUSDB_SUBSETS", "find_musdb_tracks", "load_musdb_track"]

MUSDB_STEMS = ("drums", "bass", "other", "vocals")
MUSDB_SUBSETS = ("train", "test")


def _stem_file(track_dir: Path, name: str) -> Path | None:
    for ext in AUDIO_EXTENSIONS:
        p = track_dir / f"{name}{ext}"
        if p.is_file():
            return p
    return None


def find_musdb_tracks(root: str | os.PathLike, *, subset: str | None = None) -> list[Path]:
    """Track folders of a MUSDB18 copy, sorted by subset then name.

    Parameters
    ----------
    root : str or Path
        The folder that holds ``train/`` and ``test/``.
    subset : {"train", "test"}, optional
        Only this half; default both (train first, as musdb orders them).

    Returns
    -------
    tracks : list of Path
        Folders that contain a ``mixture`` file.

    Examples
    --------
    >>> find_musdb_tracks("/data/musdb18hq", subset="test")  # doctest: +SKIP
    [PosixPath('/data/musdb18hq/test/AM Contra - Heart Peripheral'), ...]
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(f"MUSDB18 folder '{root}' does not exist; give the folder that holds train/ and test/.")
    if subset is not None and subset not in MUSDB_SUBSETS:
        raise OptionError(f"subset='{subset}' is not a MUSDB18 subset; use 'train' or 'test'.")
    subsets = [subset] if subset else list(MUSDB_SUBSETS)
    tracks = []
    for sub in subsets:
        folder = root / sub
        if folder.is_dir():
            tracks += sorted(d for d in folder.iterdir() if d.is_dir() and _stem_file(d, "mixture"))
    if not tracks:
        if any(root.glob("*.stem.mp4")) or any(root.glob("*/*.stem.mp4")):
            raise InputFileError(
                f"'{root}' holds the compressed MUSDB18 (.stem.mp4); decode it first with "
                "`musdbconvert ROOT OUT` (pip install musdb) and point to OUT."
            )
        raise InputFileError(
            f"No MUSDB18 tracks under '{root}' (expected {'/'.join(subsets)}/TRACK/mixture.wav); "
            "give the folder that holds train/ and test/."
        )
    return tracks


def load_musdb_track(
    root: str | os.PathLike,
    track: str | int = 0,
    *,
    subset: str | None = None,
    sr: int | None = None,
    start_s: float | None = None,
    duration_s: float | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """Load one MUSDB18 track: its mixture and its four true stems.

    Parameters
    ----------
    root : str or Path
        The folder that holds ``train/`` and ``test/``.
    track : str or int
        Track folder name (e.g. ``"AM Contra - Heart Peripheral"``) or index
        into :func:`find_musdb_tracks` (``subset`` applied).
    subset : {"train", "test"}, optional
        Where to look; default both.
    sr : int, optional
        Resample to this rate.
    start_s, duration_s : float, optional
        Load only this excerpt (the same samples of every file).

    Returns
    -------
    mix : np.ndarray, float32, shape (channels, samples)
    stems : dict of str to np.ndarray
        ``drums``, ``bass``, ``other``, ``vocals``, each shaped like ``mix``.
    sr : int

    Examples
    --------
    >>> mix, stems, sr = load_musdb_track("/data/musdb18hq", "AM Contra - Heart Peripheral",
    ...                                   duration_s=10.0)  # doctest: +SKIP

    See also
    --------
    kit.examples.load_musdb_track, kit.evaluate.make_scoreboard
    """
    from .audio import load

    tracks = find_musdb_tracks(root, subset=subset)
    if isinstance(track, (int, np.integer)) and not isinstance(track, bool):
        if not -len(tracks) <= track < len(tracks):
            raise OptionError(
                f"Track index {track} is out of range; this copy has {len(tracks)} tracks (0..{len(tracks) - 1})."
            )
        folder = tracks[track]
    else:
        by_name = {t.name: t for t in tracks}
        if str(track) not in by_name:
            close = difflib.get_close_matches(str(track), list(by_name), n=3)
            hint = (f" Did you mean: {', '.join(repr(c) for c in close)}?" if close
                    else " Use kit.musdb.find_musdb_tracks() to list them.")
            raise OptionError(f"No track named '{track}' under '{root}'.{hint}")
        folder = by_name[str(track)]
    files = {name: _stem_file(folder, name) for name in ("mixture", *MUSDB_STEMS)}
    missing = [n for n, p in files.items() if p is None]
    if missing:
        raise InputFileError(f"Track '{folder}' has no {', '.join(missing)} file; is the copy complete?")
    audio = {name: load(p, sr=sr, start_s=start_s, duration_s=duration_s) for name, p in files.items()}
    rates = {r for _, r in audio.values()}
    if len(rates) != 1:
        raise InputFileError(f"Track '{folder.name}' mixes sample rates {sorted(rates)}; load it with sr=44100.")
    n = min(y.shape[1] for y, _ in audio.values())  # decoders can disagree by a few samples
    mix = audio["mixture"][0][:, :n]
    stems = {name: audio[name][0][:, :n] for name in MUSDB_STEMS}
    return mix, stems, rates.pop()
