"""Many songs at once: ``kit batch`` on this machine, or on a Ray cluster (:mod:`kit.batch_ray`).

A batch is a list of songs, each separated into ``OUT/<song>/<stem>.<format>``
exactly as ``kit separate`` writes them (and, when asked, a backing track beside
them). What makes it a batch rather than a loop:

* the model is loaded once and reused for every song;
* a song that fails does not stop the others: a mistake in the song (not audio,
  empty, truncated) is reported at once, anything else (out of memory, a worker
  killed) is tried once more, then reported with its one-line reason;
* every file is written atomically, and a song counts as done only when a small
  receipt (``.batch-receipt.json``) is written after its last file. Running the same
  command again skips the songs whose receipt matches the song's bytes and the
  settings, so an interrupted batch resumes where it stopped;
* ``OUT/batch_report.json`` lists what was done, skipped and failed.

Examples
--------
>>> import kit, tempfile, os
>>> folder = tempfile.mkdtemp()
>>> report = kit.batch([kit.examples.song_path()], model="center", out_dir=folder, cache=False)
>>> report["done"], report["failed"]
(1, 0)

See also
--------
notebooks/06_demucs.ipynb
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import KitError, OptionError
from .progress import Progress, report

__all__ = ["BatchJob", "find_songs", "plan_songs", "run_song", "batch", "REPORT_NAME", "RECEIPT_NAME"]

REPORT_NAME = "batch_report.json"
RECEIPT_NAME = ".batch-receipt.json"
_RECEIPT_FORMAT = 1


@dataclass(frozen=True)
class BatchJob:
    """What to do with every song: picklable, so a Ray worker receives it as it is."""

    model: str
    options: dict = field(default_factory=dict)  # model options (model_dir, shifts, ...), device excluded
    device: str = "auto"
    fmt: str = "wav"
    backing: dict | None = None  # keep, gains_db, method, semitones, limit, ceiling_db, target_lufs, label
    cache: bool = True

    def fingerprint(self) -> dict:
        """The settings a receipt must match for a song to count as done."""
        opts = {k: str(v) for k, v in sorted(self.options.items())}
        return {"model": self.model, "options": opts, "format": self.fmt, "backing": self.backing}


def find_songs(inputs) -> list[Path]:
    """The audio files named by ``inputs`` (files, or folders searched recursively), in a stable order.

    A file given by name is taken whatever its ending (it may be audio without one:
    the batch will say if it is not); in a folder, files with an audio ending are
    taken and hidden files skipped.

    Parameters
    ----------
    inputs : sequence of str or Path

    Returns
    -------
    songs : list of Path, without duplicates

    Examples
    --------
    >>> import kit
    >>> [p.name for p in find_songs([kit.examples.song_path()])]
    ['audio_example.mp3']
    """
    from .audio import AUDIO_EXTENSIONS

    songs, seen = [], set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            found = [path]
        else:
            raise OptionError(f"'{item}' is neither a file nor a folder; give songs or folders of songs.")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                songs.append(p)
    if not songs:
        raise OptionError("No audio files found in " + ", ".join(f"'{i}'" for i in inputs)
                          + "; give .mp3, .wav, .flac, ... files or folders holding them.")
    return songs


def plan_songs(songs, out_dir) -> list[tuple[Path, Path]]:
    """Pair each song with its folder ``out_dir/<song name>``; a second song of the same name gets `` (2)``."""
    out_dir = Path(out_dir)
    taken: dict[str, int] = {}
    plan = []
    for song in songs:
        name = song.stem.strip() or "song"
        n = taken.get(name.lower(), 0) + 1
        taken[name.lower()] = n
        plan.append((song, out_dir / (name if n == 1 else f"{name} ({n})")))
    return plan


def _receipt(song: Path, job: BatchJob) -> dict:
    from .cache import hash_file

    return {"format": _RECEIPT_FORMAT, "song": hash_file(song), **job.fingerprint()}


def is_done(song: Path, song_dir: Path, job: BatchJob) -> bool:
    """True when ``song_dir`` holds a receipt for these bytes and settings, and every file it lists."""
    try:
        saved = json.loads((song_dir / RECEIPT_NAME).read_text())
        outputs = saved.pop("outputs")
        if saved != _receipt(song, job):
            return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return all((song_dir / name).is_file() for name in outputs)


def run_song(separator, song, song_dir, job: BatchJob, *, progress: Progress = None) -> list[Path]:
    """Separate one song into ``song_dir`` (and write its backing track), then its receipt.

    ``kit batch`` calls this once per song, on this machine or in a Ray worker.

    Returns
    -------
    paths : list of Path
        The files written.
    """
    from .audio import atomic_output
    from .commands.separate import write_stems
    from .progress import scaled
    from .separators.api import separate_file

    song, song_dir = Path(song), Path(song_dir)
    if is_long_song(song):  # a block at a time, straight into the files: memory stays flat
        from .commands._long import write_stems_in_blocks

        paths = write_stems_in_blocks(separator, song, song_dir, job.fmt, inputs=[song],
                                      progress=scaled(progress, 0.0, 0.9))
        if job.backing is not None:  # mixed from the stem files as they are read back, a block at a time
            paths.append(_write_backing_in_blocks(dict(zip(separator.stems, paths, strict=True)), song, song_dir,
                                                  job))
    else:
        stems, sr = separate_file(separator, song, progress=scaled(progress, 0.0, 0.9), cache=job.cache,
                                  options=job.options)
        paths = write_stems(stems, sr, song_dir, job.fmt, inputs=[song])
        if job.backing is not None:
            paths.append(_write_backing(stems, sr, song, song_dir, job))
    receipt = {**_receipt(song, job), "outputs": [p.name for p in paths]}
    with atomic_output(song_dir / RECEIPT_NAME) as tmp:
        tmp.write_text(json.dumps(receipt, indent=1))
    report(progress, 1.0)
    return paths


def is_long_song(song: Path) -> bool:
    """True for a song to separate a block at a time (longer than ``$KIT_STREAM_MINUTES``, or of unknown length)."""
    from .audio import probe_audio
    from .separators.blocks import stream_threshold_s

    duration_s = probe_audio(song).duration_s
    return duration_s is None or duration_s > stream_threshold_s()


def _write_backing(stems, sr, song, song_dir, job: BatchJob) -> Path:
    from .mix import write_backing_track

    b = job.backing
    ext = job.fmt
    return write_backing_track(
        stems, song_dir / f"{b.get('label', 'backing')}.{ext}", sr=sr, keep=b["keep"], gains_db=b.get("gains_db"),
        method=b.get("method", "sum"), semitones=b.get("semitones", 0.0), target_lufs=b.get("target_lufs"),
        limit=b.get("limit", False), ceiling_db=b.get("ceiling_db", -1.0), inputs=[song], model=job.model,
        mixture=song if b.get("method") == "minus" else None,
    )


def _write_backing_in_blocks(stem_files: dict, song: Path, song_dir: Path, job: BatchJob) -> Path:
    """The backing track of a long song from its stem files, read back a minute at a time (memory stays flat)."""
    from contextlib import ExitStack

    from .audio import open_audio_stream
    from .mix import write_backing_blocks

    b = job.backing
    minus = b.get("method") == "minus"
    with ExitStack() as files:
        streams = {name: files.enter_context(open_audio_stream(path)) for name, path in stem_files.items()}
        song_stream = files.enter_context(open_audio_stream(song)) if minus else None
        first = next(iter(streams.values()))

        def blocks():
            while True:
                stems = {name: stream.read(first.sr * 60) for name, stream in streams.items()}
                n = min(y.shape[1] for y in stems.values())
                if not n:
                    return
                mixture = song_stream.read(n) if minus else None
                if minus and mixture.shape[1] < n:  # the song's last samples: the stems may run a few longer
                    n = mixture.shape[1]
                yield {k: v[:, :n] for k, v in stems.items()}, mixture

        return write_backing_blocks(
            blocks(), song_dir / f"{b.get('label', 'backing')}.{job.fmt}", sr=first.sr, channels=first.channels,
            stems=list(stem_files), keep=b["keep"], gains_db=b.get("gains_db"), method=b.get("method", "sum"),
            semitones=b.get("semitones", 0.0), target_lufs=b.get("target_lufs"), limit=b.get("limit", False),
            ceiling_db=b.get("ceiling_db", -1.0), inputs=[song])


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """``(one-line reason, worth a retry)``: the song's own fault is final, anything else may pass."""
    if isinstance(exc, KitError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__, False
    if isinstance(exc, MemoryError):
        return "ran out of memory", True
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}", True


@dataclass
class BatchState:
    """What happened to each song so far; written as ``batch_report.json``."""

    model: str
    out_dir: str
    total: int
    engine: str = "this machine"
    done: list = field(default_factory=list)     # {"song", "out", "seconds", "tries"}
    skipped: list = field(default_factory=list)  # {"song", "out"}: done by an earlier run
    failed: list = field(default_factory=list)   # {"song", "reason", "tries"}
    stopped: bool = False
    started: float = field(default_factory=time.time)

    def summary(self) -> dict:
        data = asdict(self)
        data.update(done=len(self.done) + len(self.skipped), failed=len(self.failed),
                    separated=len(self.done), seconds=round(time.time() - self.started, 1),
                    songs={"done": self.done, "skipped": self.skipped, "failed": self.failed})
        del data["skipped"], data["started"]
        return data


def write_report(state: BatchState, out_dir: Path) -> Path:
    """Write ``batch_report.json`` (atomically) and return its path."""
    from .audio import atomic_output

    path = Path(out_dir) / REPORT_NAME
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(state.summary(), indent=1))
    return path


def batch(
    inputs,
    *,
    model: str = "auto",
    out_dir="separated",
    fmt: str = "wav",
    backing: dict | None = None,
    device: str = "auto",
    ray: str | None = None,
    cache: bool = True,
    retries: int = 1,
    progress: Progress = None,
    on_song=None,
    **options,
) -> dict:
    """Separate many songs, each into ``out_dir/<song>/<stem>.<fmt>``; return the batch report.

    Parameters
    ----------
    inputs : sequence of str or Path
        Song files, or folders searched for audio files.
    model : str
        Any model :func:`kit.separate` takes; ``auto`` picks the best usable offline.
    out_dir : str or Path
        Where each song's folder goes. On a Ray cluster it must be a folder every
        node sees at the same path (a shared disk).
    fmt : {"wav", "flac", "mp3"}
    backing : dict, optional
        Also write a backing track per song: ``{"keep": [...], "gains_db": {...},
        "method": "sum", "semitones": 0, "limit": False, ...}`` as
        :func:`kit.write_backing_track` takes them (``kit batch --backing``).
    device : str
        Where the model runs (``auto``: CUDA, then MPS, then CPU).
    ray : str, optional
        ``None`` runs here; ``"auto"`` or ``"HOST:PORT"`` runs on that Ray cluster.
    cache : bool
        Use the stem cache (a song separated before is read back).
    retries : int
        How many more times a song is tried after a failure that may pass.
    progress : callable, optional
        Fraction 0..1 of the whole batch.
    on_song : callable, optional
        Called with ``(kind, entry)`` as each song finishes (``"done"``, ``"skipped"``, ``"failed"``).
    **options
        Model options (``model_dir``, ``shifts``, ...).

    Returns
    -------
    report : dict
        ``done`` (songs done, including those skipped as already done),
        ``failed``, ``separated``, ``songs`` (per-song details) and ``report``
        (the path of ``batch_report.json``).
    """
    from .separators.registry import best_available_model, get_separator, normalize_model_name

    if fmt not in ("wav", "flac", "mp3"):
        raise OptionError(f"Unknown format '{fmt}'; use wav, flac or mp3.")
    songs = find_songs(inputs)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"--out '{out_dir}' is a file; give a folder for the songs, e.g. --out stems/.")
    name = normalize_model_name(model, model_dir=options.get("model_dir"))
    if name == "auto":
        name = best_available_model(device=device, **options)
    job = BatchJob(model=name, options=options, device=device, fmt=fmt, backing=backing, cache=cache)
    if ray is not None:  # before anything is written: a wrong address must leave no folder behind
        from .batch_ray import connect

        connect(ray)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_songs(songs, out_dir.absolute())
    state = BatchState(model=name, out_dir=str(out_dir), total=len(plan))
    todo = []
    for song, song_dir in plan:
        if is_done(song, song_dir, job):
            entry = {"song": str(song), "out": str(song_dir)}
            state.skipped.append(entry)
            if on_song:
                on_song("skipped", entry)
        else:
            todo.append((song, song_dir))
    try:
        if ray is None:
            # the model is loaded once, and only when a song needs it (a resumed batch may need none)
            separator = get_separator(name, device=device, **options) if todo else None
            _run_here(separator, todo, job, state, retries=retries, progress=progress, on_song=on_song)
        else:
            from .batch_ray import run_on_ray

            state.engine = f"Ray cluster at {ray}"
            run_on_ray(todo, job, state, address=ray, retries=retries, progress=progress, on_song=on_song)
    except KeyboardInterrupt:
        state.stopped = True
        raise
    finally:
        summary = state.summary()
        summary["report"] = str(write_report(state, out_dir))
    return summary


def record(state: BatchState, kind: str, entry: dict, on_song) -> None:
    getattr(state, kind).append(entry)
    if on_song:
        on_song(kind, entry)


def _run_here(separator, todo, job, state, *, retries, progress, on_song) -> None:
    """One song after another with the model loaded once (torch already uses every core for one song)."""
    from .progress import scaled

    n = max(1, state.total)
    base = len(state.skipped)
    report(progress, base / n)
    for i, (song, song_dir) in enumerate(todo):
        tries = 0
        while True:
            tries += 1
            t0 = time.perf_counter()
            try:
                run_song(separator, song, song_dir, job, progress=scaled(progress, (base + i) / n, (base + i + 1) / n))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one song's failure must not stop the batch
                reason, transient = describe_failure(exc)
                if transient and tries <= retries:
                    continue
                record(state, "failed", {"song": str(song), "reason": reason, "tries": tries}, on_song)
            else:
                record(state, "done", {"song": str(song), "out": str(song_dir), "tries": tries,
                                       "seconds": round(time.perf_counter() - t0, 2)}, on_song)
            break
        report(progress, (base + i + 1) / n)


def parse_backing_options(text: str | None, *, available, model: str) -> dict | None:
    """``"--drop vocals --semitones -1"`` -> the ``backing`` dict of :func:`batch`, checked against the stems."""
    import argparse
    import shlex

    from .commands.backing import parse_gains
    from .mix import check_gains, select_stems
    from .pitch import check_semitones

    if text is None:
        return None

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            raise OptionError(f"--backing {text!r}: {message}; e.g. --backing \"--drop vocals\".")

    p = _Parser(prog="--backing", add_help=False)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--drop")
    which.add_argument("--keep")
    p.add_argument("--gain", action="append", default=[])
    p.add_argument("--method", choices=("sum", "minus"), default="sum")
    p.add_argument("--semitones", type=float, default=0.0)
    p.add_argument("--limit", action="store_true")
    p.add_argument("--ceiling", type=float, default=-1.0)
    p.add_argument("--lufs", type=float, default=None)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise OptionError(f"--backing {text!r} cannot be read ({exc}); quote it as one argument.") from None
    args = p.parse_args(words)
    kept, dropped = select_stems(available, drop=args.drop, keep=args.keep, model=model)
    gains = check_gains(parse_gains(args.gain), available=available, kept=kept, model=model)
    label = "no " + ", ".join(dropped) if dropped else "backing"
    if args.semitones:
        label += f", {args.semitones:+g} st"
    return {"keep": list(kept), "gains_db": gains, "method": args.method,
            "semitones": check_semitones(args.semitones), "limit": args.limit, "ceiling_db": args.ceiling,
            "target_lufs": args.lufs, "label": label}

