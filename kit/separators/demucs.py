"""Demucs (Meta's waveform/spectrogram separators) behind the kit interface.

Every pretrained Demucs name works (``htdemucs`` default, ``htdemucs_ft``,
``htdemucs_6s``, ``hdemucs_mmi``, ``mdx``, ``mdx_extra``, ``mdx_q``,
``mdx_extra_q``), and any Demucs model in a model folder. The kit decodes the
song itself (:func:`kit.load`) and hands Demucs a tensor, so the stems line up
with the input sample for sample (Demucs's own reader returns MP3 audio about
25 ms late). The network runs through :func:`kit.separators.demucs_batched.apply_batched`:
the same stems as Demucs's ``apply_model``, many segments per network call.
Where the weights come from and how they load: :mod:`kit.separators.demucs_weights`.

See also
--------
notebooks/06_demucs.ipynb
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ..errors import ModelUnavailableError, OptionError
from ..progress import Progress
from .base import Separator
from .demucs_batched import _is_oom, apply_batched
from .demucs_weights import (  # noqa: F401  (download_model, resolve_model_dir: kept importable from here)
    DEMUCS_MODELS,
    NEEDS_DIFFQ,
    WeightsSource,
    check_diffq,
    download_model,
    find_weights,
    is_local_model,
    locate_weights,
    resolve_model_dir,
)
from .demucs_weights import load_weights as _load

__all__ = [
    "DemucsSeparator",
    "make_separator",
    "check_options",
    "max_segment_s",
    "min_segment_s",
    "stems_for",
    "offline_status",
    "is_local_model",
    "DEFAULT_MODEL",
    "PRECISIONS",
]

DEFAULT_MODEL = "htdemucs"
PRECISIONS = ("fp32", "bf16")
RUNTIMES = ("torch", "onnx")  # onnx: ONNX Runtime on the CPU (kit.separators.demucs_onnx)
STEMS_4 = ("drums", "bass", "other", "vocals")
STEMS_6 = ("drums", "bass", "other", "vocals", "guitar", "piano")
_STEMS = {name: STEMS_4 for name in DEMUCS_MODELS}
_STEMS["htdemucs_6s"] = STEMS_6
# A transformer cannot see more than it was trained on: HTDemucs's segment, Fraction(39, 5) s
# (Demucs's own command line refuses longer ones too).
_MAX_SEGMENT_S = {"htdemucs": 7.8, "htdemucs_ft": 7.8, "htdemucs_6s": 7.8}
_MIN_SEGMENT_S = 1.0


def max_segment_s(name: str) -> float | None:
    """The longest segment a pretrained model takes, in seconds (None: no known limit).

    Examples
    --------
    >>> from kit.separators.demucs import max_segment_s
    >>> max_segment_s("htdemucs"), max_segment_s("mdx_extra")
    (7.8, None)
    """
    return _MAX_SEGMENT_S.get(name)


def min_segment_s() -> float:
    """The shortest segment the kit accepts, in seconds."""
    return _MIN_SEGMENT_S


def _max_segment_s(model) -> float:
    from demucs.htdemucs import HTDemucs

    if hasattr(model, "max_allowed_segment"):
        return float(model.max_allowed_segment)
    if isinstance(model, HTDemucs):
        return float(model.segment)
    return float("inf")


@contextlib.contextmanager
def _torch_threads(n: int):
    """Use ``n`` CPU threads for the duration (0: leave torch's setting alone)."""
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class DemucsSeparator(Separator):
    """A Demucs model as a kit separator. Build it with :func:`make_separator`.

    The weights are located when the object is made (so a missing model fails
    at once) and loaded on first use (so a stem-cache hit never loads them).

    Parameters
    ----------
    source : WeightsSource
        Where the weights are (see :func:`kit.separators.demucs_weights.find_weights`).
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    segment : float, optional
        Length in seconds of the segments the song is cut into; default: the
        model's own (7.8 s for htdemucs, its maximum). Smaller segments use less
        memory with hdemucs/mdx models; HTDemucs pads every segment to 7.8 s anyway.
    shifts : int
        Number of random time shifts averaged (Demucs's "shift trick"); 0 is
        fastest, each extra one costs a full pass. Shifts are seeded: the same
        song gives the same stems.
    overlap : float
        Overlap of consecutive segments, in [0, 1).
    jobs : int
        CPU threads for the network (0: torch's default).
    seed : int
        Seed of the shift offsets.
    precision : {"fp32", "bf16"}
        ``bf16`` runs the network under bfloat16 autocast on CUDA (faster, a
        little less exact); elsewhere fp32 is used.
    batch_size : int, optional
        Segments per network call; default sized to the free GPU memory (a
        small fixed batch on the CPU).
    runtime : {"torch", "onnx"}
        ``onnx``: HTDemucs networks run on the CPU through ONNX Runtime
        (:mod:`kit.separators.demucs_onnx`; exported once per model, kept on disk).

    Examples
    --------
    >>> import kit
    >>> sep = kit.get_separator("htdemucs", model_dir="models")  # doctest: +SKIP
    >>> stems = sep.separate(*kit.examples.load_song())  # doctest: +SKIP
    >>> list(stems)  # doctest: +SKIP
    ['drums', 'bass', 'other', 'vocals']

    See also
    --------
    notebooks/06_demucs.ipynb
    """

    sample_rate = 44100
    stereo = True
    min_duration_s = 0.1

    def __init__(self, source: WeightsSource, *, stems, device: str = "auto", segment=None,
                 shifts: int = 1, overlap: float = 0.25, jobs: int = 0, seed: int = 0,
                 precision: str = "fp32", batch_size: int | None = None, runtime: str = "torch"):
        from ..devices import pick_device

        self.name = source.name
        self.source = source
        self.stems = tuple(stems)
        self.segment = segment
        self.shifts = shifts
        self.overlap = overlap
        self.jobs = jobs
        self.seed = seed
        self.batch_size = batch_size
        self.runtime = runtime
        self.requested_device = device or "auto"
        self.device = pick_device(self.requested_device)
        self.precision = precision if self.device.startswith("cuda") else "fp32"
        self._model = None

    # What the stem cache keys on (kit.cache): everything that changes the stems.
    # jobs and batch_size change only the speed.
    @property
    def cache_settings(self) -> dict:
        settings = {"segment": None if self.segment is None else float(self.segment),
                    "shifts": self.shifts, "overlap": self.overlap, "seed": self.seed}
        if self.precision != "fp32":
            settings["precision"] = self.precision
        if self.runtime != "torch" and self.device == "cpu":
            settings["runtime"] = self.runtime  # float rounding differs (1e-5)
        return settings

    @property
    def weights_id(self) -> str:
        self._follow_model_folder()
        return self.source.identity()

    def _follow_model_folder(self) -> None:
        """Weights rewritten in the model folder since (same name, new files) are used from now on.

        kit.separate keeps separators between calls; a few file stats per song
        keep such a kept separator (and the stem cache's key) honest.
        """
        if self.source.kind != "model_dir":
            return
        try:
            fresh = find_weights(self.name, model_dir=self.source.where)
        except (OptionError, ModelUnavailableError):
            return  # the folder is being rewritten or gone: keep what is loaded
        if fresh is not None and fresh.identity() != self.source.identity():
            self.source, self._model = fresh, None

    @property
    def model(self):
        """The loaded Demucs model (loads it on first access)."""
        if self._model is None:
            model = _load(self.source)
            if tuple(model.sources) != self.stems:
                self.stems = tuple(model.sources)
            if model.samplerate != self.sample_rate:
                self.sample_rate = int(model.samplerate)
            self._check_segment(_max_segment_s(model))
            self._model = model
        return self._model

    def load(self) -> DemucsSeparator:
        """Load the weights now (otherwise the first separation does)."""
        _ = self.model
        return self

    def _check_segment(self, max_s: float) -> None:
        if self.segment is not None and self.segment > max_s + 1e-9:
            raise OptionError(
                f"segment={self.segment:g} s is longer than '{self.name}' was trained on; "
                f"use a segment between {_MIN_SEGMENT_S:g} and {max_s:g} s (or leave it unset)."
            )

    def _apply(self, mix, device: str, segment, progress: Progress):
        """The stems of the normalised mix (channels, samples): (sources, channels, samples)."""
        with _torch_threads(self.jobs if device == "cpu" else 0):
            return apply_batched(self.model, mix, shifts=self.shifts, overlap=self.overlap, segment=segment,
                                 seed=self.seed, device=device, batch_size=self.batch_size,
                                 precision=self.precision, runtime=self.runtime, progress=progress)

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        import torch

        self._follow_model_folder()
        model = self.model
        wav = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        # Demucs's usual normalisation (as demucs.api does): the mix mean over channels
        # is the reference; the model was trained on standardised input.
        ref = wav.mean(0)
        mean, std = ref.mean(), ref.std() + 1e-8
        del ref
        mix = (wav - mean) / std
        out = self._apply_with_fallback(mix, progress)
        del mix
        out *= std  # in place: on a 12-minute song each copy of the stems is 1 GB
        out += mean
        return {src: out[i].numpy() for i, src in enumerate(model.sources)}

    def _apply_with_fallback(self, mix, progress: Progress):
        """On a GPU out-of-memory (after the batch has shrunk to one segment): retry with half
        the segment (where that helps), then on the CPU."""
        import torch

        device, segment = self.device, self.segment
        while True:
            try:
                return self._apply(mix, device, segment, progress)
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                if device == "cpu" or not _is_oom(exc):
                    raise
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                current = float(segment) if segment is not None else _model_segment_s(self.model)
                if _segment_saves_memory(self.model) and current / 2 >= _MIN_SEGMENT_S:
                    segment = current / 2
                    warnings.warn(
                        f"The GPU ({device}) ran out of memory; retrying '{self.name}' with "
                        f"segment={segment:g} s.", _kit_warning(), stacklevel=2)
                else:
                    warnings.warn(
                        f"The GPU ({device}) ran out of memory; finishing '{self.name}' on the CPU "
                        "(slower). Close other GPU programs, or use --device cpu.", _kit_warning(), stacklevel=2)
                    device, segment = "cpu", self.segment
                    self.model.to("cpu")

    def __repr__(self) -> str:
        return (f"DemucsSeparator(name={self.name!r}, stems={self.stems}, device={self.device!r}, "
                f"weights={self.source.describe()!r})")


def _segment_saves_memory(model) -> bool:
    """HTDemucs pads every segment to its training length, so a shorter segment saves
    nothing there; the older HDemucs / Demucs models do use less memory."""
    from demucs.htdemucs import HTDemucs

    return not any(isinstance(m, HTDemucs) for m in getattr(model, "models", [model]))


def _kit_warning():
    from ..errors import KitWarning

    return KitWarning


def _model_segment_s(model) -> float:
    inner = getattr(model, "models", [model])[0]
    return float(inner.segment)


_NOTES_SHOWN: set = set()


def _note_once(key: str, text: str) -> None:
    if key not in _NOTES_SHOWN:
        _NOTES_SHOWN.add(key)
        warnings.warn(text, _kit_warning(), stacklevel=3)


def make_separator(name: str = DEFAULT_MODEL, *, device: str = "auto", model_dir=None, segment=None,
                   shifts: int = 1, overlap: float = 0.25, jobs: int = 0, seed: int = 0,
                   precision: str = "fp32", batch_size: int | None = None, runtime: str = "torch",
                   **options) -> DemucsSeparator:
    """Make a Demucs separator; its weights are found now and loaded on first use.

    Parameters
    ----------
    name : str
        A Demucs name (``htdemucs``, ``htdemucs_ft``, ``htdemucs_6s``, ``hdemucs_mmi``,
        ``mdx``, ``mdx_extra``, ``mdx_q``, ``mdx_extra_q``) or a custom model in ``model_dir``.
    device : str
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
    model_dir : str or Path, optional
        Folder of Demucs model files (default ``$KIT_MODEL_DIR``).
    segment : float, optional
        Segment length in seconds, at most the model's training length (7.8 s for htdemucs).
    shifts : int
        Random time shifts averaged, >= 0 (seeded by ``seed``).
    overlap : float
        Segment overlap in [0, 1).
    jobs : int
        CPU threads for the network (0: torch's default).
    seed : int
        Seed of the shift offsets.
    precision : {"fp32", "bf16"}
        ``bf16``: bfloat16 autocast on CUDA; on other devices a note says fp32 is used.
    batch_size : int, optional
        Segments per network call (default: sized to free GPU memory).
    runtime : {"torch", "onnx"}
        ``onnx``: on the CPU, HTDemucs through ONNX Runtime (opt-in; torch with a note
        where onnx/onnxruntime are missing).
    **options
        Accepted and ignored (other families' options).

    Returns
    -------
    separator : DemucsSeparator

    Raises
    ------
    ModelUnavailableError
        Weights not here and not downloadable now; the message says how to get them.
    OptionError
        Invalid segment, shifts, overlap, jobs, precision or device.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.stems_for("htdemucs_6s")
    ('drums', 'bass', 'other', 'vocals', 'guitar', 'piano')
    """
    check_options(name, segment=segment, shifts=shifts, overlap=overlap, jobs=jobs, precision=precision,
                  batch_size=batch_size, runtime=runtime)
    source = locate_weights(name, model_dir=model_dir)
    stems = _STEMS.get(name) or stems_for(name, model_dir=model_dir)
    sep = DemucsSeparator(source, stems=stems, device=device, segment=segment, shifts=shifts,
                          overlap=overlap, jobs=jobs, seed=seed, precision=precision, batch_size=batch_size,
                          runtime=runtime)
    if (device or "auto") == "auto" and sep.device == "cpu":
        _note_once("cpu", f"No CUDA or Apple GPU found: '{name}' runs on the CPU, which takes "
                          "about as long as the song or longer.")
    if precision != sep.precision:
        _note_once(f"precision-{sep.device}", f"precision='{precision}' needs a CUDA GPU; '{name}' runs "
                                              f"in fp32 on {sep.device}.")
    return sep


def check_options(name: str, *, segment=None, shifts=1, overlap=0.25, jobs=0, precision="fp32",
                  batch_size=None, runtime="torch") -> None:
    """Refuse bad Demucs settings with one clear line, before anything is loaded.

    The segment limit is known here for the pretrained names (7.8 s for the
    htdemucs family); a custom model's own limit is checked when it loads.

    Raises
    ------
    OptionError

    Examples
    --------
    >>> from kit.separators.demucs import check_options
    >>> check_options("htdemucs", segment=7.8, shifts=2, overlap=0.5)
    >>> check_options("htdemucs", segment=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kit.errors.OptionError: segment=8 s is longer than 'htdemucs' was trained on; ...
    """
    if segment is not None:
        try:
            segment = float(segment)
        except (TypeError, ValueError):
            raise OptionError(f"segment={segment!r} is not a number of seconds; e.g. segment=7.") from None
        max_s = _MAX_SEGMENT_S.get(name)
        top = f"{max_s:g}" if max_s else "the song length"
        if not segment >= _MIN_SEGMENT_S:
            raise OptionError(f"segment={segment:g} s is too short; use {_MIN_SEGMENT_S:g} to {top} s.")
        if max_s is not None and segment > max_s:
            raise OptionError(
                f"segment={segment:g} s is longer than '{name}' was trained on; "
                f"use a segment between {_MIN_SEGMENT_S:g} and {max_s:g} s (or leave it unset)."
            )
    if not isinstance(shifts, (int, np.integer)) or isinstance(shifts, bool) or shifts < 0:
        raise OptionError(f"shifts={shifts!r} must be a whole number >= 0 (0 fastest, 1 default, 2-10 better).")
    try:
        ok = 0.0 <= float(overlap) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise OptionError(f"overlap={overlap!r} must be at least 0 and below 1 (default 0.25).")
    if not isinstance(jobs, (int, np.integer)) or isinstance(jobs, bool) or jobs < 0:
        raise OptionError(f"jobs={jobs!r} must be a whole number >= 0.")
    if precision not in PRECISIONS:
        raise OptionError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}.")
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise OptionError(f"batch_size={batch_size!r} must be a whole number >= 1 (or None: automatic).")
    if runtime not in RUNTIMES:
        raise OptionError(f"runtime={runtime!r} is not one of {', '.join(RUNTIMES)}.")


def stems_for(name: str, *, model_dir=None, **options) -> tuple[str, ...]:
    """The stems a Demucs model gives, in order, without loading its weights.

    A custom model in the model folder is read once to learn its sources.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> demucs.stems_for("htdemucs")
    ('drums', 'bass', 'other', 'vocals')
    """
    if name in _STEMS:
        return _STEMS[name]
    source = find_weights(name, model_dir=model_dir)
    if source is None:
        raise OptionError(f"Unknown model '{name}'; choose one of: {', '.join(DEMUCS_MODELS)}.")
    import torch

    th = next(f for f in source.files if f.suffix == ".th")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = torch.load(th, map_location="cpu", weights_only=False, mmap=True)
    return tuple(package["kwargs"]["sources"])


def offline_status(name: str, **options) -> tuple[bool, str]:
    """Whether ``name`` can run now without network, and a one-line reason.

    Examples
    --------
    >>> from kit.separators import demucs
    >>> ok, detail = demucs.offline_status("htdemucs", model_dir=None)
    >>> isinstance(ok, bool)
    True
    """
    if name in NEEDS_DIFFQ:
        try:
            check_diffq(name)
        except ModelUnavailableError as exc:
            return False, str(exc)
    try:
        source = find_weights(name, model_dir=options.get("model_dir"))
    except (OptionError, ModelUnavailableError) as exc:
        return False, str(exc)
    if source is None:
        return False, (f"not downloaded: on a machine with internet `kit models download {name} --to DIR`, "
                       "then --model-dir DIR")
    return True, f"weights in the {source.describe()}"
