"""Train a tiny spectrogram U-Net on synthetic songs, on a CPU, in class.

The training songs come from :func:`kit.examples.make_multitrack`, made on the
fly with fresh random seeds (there is no dataset to download and no song is
seen twice in the same way). So that the network learns "voice" rather than
"this one synthesiser", every example is augmented:

- **keys and tempi**: a song synthesised at a different sample rate and
  played back at ours is shifted in pitch (and tempo, which the synthesiser's
  own tempo then corrects);
- **gains** per stem, and an overall level;
- **pans**: each stem's left/right balance moves, and the instruments' sides swap;
- **stem dropout**: a stem, sometimes the vocals, is left out of the mix;
- **mixing songs**: each stem may come from a different song, in another key.

The loss is the L1 distance between the masked mixture magnitude and the true
vocal magnitude (plus the same for the accompaniment with ``1 - mask``), on the
0-11 kHz bins the network sees; the phase is the mixture's, reused.

In class, train for a fixed number of steps (``train_unet(steps=N)``): the same seed and
settings then give the same curve on every run (up to the order a processor adds its sums
in), and :func:`estimate_training_s` says how long it will take there, from a few timed
steps, before the run starts.

Validation uses songs whose seeds training never draws (seeds below
:data:`FIRST_TRAINING_SEED` are kept for validation and tests), scored with
:func:`kit.evaluate.compute_sdr`: median over 1 s windows, museval-style.

See also
--------
kit.separators.tiny_unet, notebooks/05_spectrogram_unet.ipynb
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable

import numpy as np

from .errors import OptionError
from .progress import Progress, report

__all__ = [
    "train_unet", "compute_l1_loss", "make_training_song", "make_validation_songs", "make_batch", "choose_threads",
    "estimate_training_s", "count_validations", "TRAIN_SR", "FIRST_TRAINING_SEED",
]

TRAIN_SR = 22050  # the network sees 0-11 kHz only, so training at half rate loses nothing it uses
FIRST_TRAINING_SEED = 10_000  # seeds below this are never drawn for training: validation and tests use them
_ACCOMP = ("drums", "bass", "other", "guitar", "piano")


def choose_threads(threads: int | None = None) -> int:
    """How many threads torch should use: the cores that are idle now, at least one.

    On a busy machine (a shared CI runner, eight notebooks on a server) more
    threads than idle cores make each step slower, not faster: measured here,
    one thread trained twice as fast as two with the cores already busy.

    Examples
    --------
    >>> choose_threads(2)
    2
    >>> choose_threads() >= 1
    True
    """
    if threads is not None:
        if int(threads) < 1:
            raise OptionError(f"threads={threads} must be 1 or more, or None to pick from the idle cores.")
        return int(threads)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, 8, int(round(cores - busy))))


def make_training_song(rng: np.random.Generator, *, duration_s: float = 6.0, sr: int = TRAIN_SR,
                       seed_range: tuple[int, int] = (FIRST_TRAINING_SEED, 2**31 - 1)) -> dict:
    """One synthetic song with its stems, in a random key and tempo.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the seed, key (+-5 semitones), tempo (70-150 BPM) and extra instruments.
    duration_s : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    seed_range : (int, int)
        Range the song's seed is drawn from.

    Returns
    -------
    song : dict
        ``{"stems": {name: (2, samples) float32}, "seed", "key", "tempo_bpm"}``.

    Examples
    --------
    >>> import numpy as np
    >>> song = make_training_song(np.random.default_rng(0), duration_s=1.0)
    >>> song["stems"]["vocals"].shape
    (2, 22050)
    """
    from .examples import make_multitrack

    seed = int(rng.integers(*seed_range))
    key = float(rng.uniform(-5.0, 5.0))
    tempo = float(rng.uniform(70.0, 150.0))
    extra = tuple(s for s in ("guitar", "piano") if rng.random() < 0.5)
    speed = 2.0 ** (key / 12.0)
    # made at a lower rate and played at ours, everything is `speed` times higher and faster;
    # the synthesiser's own tempo takes the speed-up back out
    _, stems = make_multitrack(duration_s * speed + 0.01, sr=int(round(sr / speed)),
                               stems=("drums", "bass", "other", "vocals", *extra),
                               tempo_bpm=tempo / speed, seed=seed)
    n = int(round(duration_s * sr))
    stems = {k: np.ascontiguousarray(v[:, :n]) for k, v in stems.items()}
    return {"stems": stems, "seed": seed, "key": key, "tempo_bpm": tempo}


def make_validation_songs(n_songs: int = 3, *, duration_s: float = 6.0, sr: int = TRAIN_SR,
                          first_seed: int = 0) -> list[dict]:
    """Songs training never sees: seeds ``first_seed, first_seed + 1, ...`` (below :data:`FIRST_TRAINING_SEED`).

    Each has its own key and tempo, drawn from its seed. Returns a list of
    ``{"mix", "stems", "seed", "key", "tempo_bpm"}``.
    """
    if first_seed + n_songs > FIRST_TRAINING_SEED:
        raise OptionError(f"Validation seeds must stay below {FIRST_TRAINING_SEED}; lower first_seed.")
    songs = []
    for seed in range(first_seed, first_seed + n_songs):
        song = make_training_song(np.random.default_rng([seed, 7]), duration_s=duration_s, sr=sr,
                                  seed_range=(seed, seed + 1))
        song["mix"] = np.sum(list(song["stems"].values()), axis=0)
        songs.append(song)
    return songs


def _crop(stem: np.ndarray, start: int, n: int) -> np.ndarray:
    return stem[:, start:start + n]


def make_batch(pool: list[dict], rng: np.random.Generator, *, batch_size: int, n_samples: int):
    """Augmented training examples: ``(mix, vocals)`` arrays of shape ``(batch, 2, n_samples)``.

    Each example takes its vocals from one song of the pool and each other
    stem from the same song or another one, with random gains, pans, channel
    swaps and stem dropout (see the module's docstring).
    """
    mix = np.zeros((batch_size, 2, n_samples), dtype=np.float32)
    vocals = np.zeros_like(mix)
    for b in range(batch_size):
        home = pool[rng.integers(len(pool))]
        n_song = home["stems"]["vocals"].shape[1]
        start = int(rng.integers(0, max(1, n_song - n_samples)))
        if rng.random() > 0.1:  # one example in ten has no voice: silence must come out as silence
            v = _crop(home["stems"]["vocals"], start, n_samples)
            bal = rng.uniform(-0.15, 0.15)  # vocals stay near the centre, as in most mixes
            vocals[b] = v * np.array([[1 - bal], [1 + bal]]) * 10 ** (rng.uniform(-8, 4) / 20)
        for name in _ACCOMP:
            song = home if rng.random() < 0.5 else pool[rng.integers(len(pool))]
            if name not in song["stems"] or rng.random() < 0.2:  # stem dropout
                continue
            s_start = start if song is home else int(rng.integers(0, max(1, song["stems"][name].shape[1] - n_samples)))
            s = _crop(song["stems"][name], s_start, n_samples)
            if s.shape[1] < n_samples:
                continue
            if rng.random() < 0.5:
                s = s[::-1]  # swap sides
            bal = rng.uniform(-0.4, 0.4)
            mix[b] += s * np.array([[1 - bal], [1 + bal]]) * 10 ** (rng.uniform(-10, 3) / 20)
        mix[b] += vocals[b]
        if rng.random() < 0.1:  # some songs are mono: then only the sound itself tells the voice apart
            mix[b] = mix[b].mean(axis=0)
            vocals[b] = vocals[b].mean(axis=0)
        # overall level: from quiet to nearly full scale
        peak = np.max(np.abs(mix[b])) + 1e-9
        g = 10 ** (rng.uniform(-18, -1) / 20) / peak
        mix[b] *= g
        vocals[b] *= g
    return mix, vocals


def compute_l1_loss(mask, mix_mag, vocals_mag, accompaniment_mag):
    """The training loss: how far the masked mixture is from the vocals, and the rest from the accompaniment.

    Works on numpy arrays and torch tensors alike. The phase plays no part:
    the separated vocals reuse the mixture's phase.

    Parameters
    ----------
    mask : array, values in 0..1
        The network's vocal mask.
    mix_mag, vocals_mag, accompaniment_mag : array, same shape as ``mask``
        Magnitude spectrograms of the mixture, the true vocals and the true accompaniment.

    Returns
    -------
    loss : scalar
        ``mean(|mask * mix - vocals|) + mean(|(1 - mask) * mix - accompaniment|)`` (L1).

    Examples
    --------
    >>> import numpy as np
    >>> mix, voc, acc = np.array([1.0, 2.0]), np.array([1.0, 0.0]), np.array([0.0, 2.0])
    >>> float(compute_l1_loss(np.array([1.0, 0.0]), mix, voc, acc))  # the perfect mask
    0.0
    >>> float(compute_l1_loss(np.array([0.5, 0.5]), mix, voc, acc))
    1.5
    """
    return abs(mask * mix_mag - vocals_mag).mean() + abs((1 - mask) * mix_mag - accompaniment_mag).mean()


class StepTimer:
    """Seconds spent on each kind of work in a training run, for :func:`estimate_training_s`."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {"setup": [], "step": [], "validation": [], "song": []}

    def time(self, kind: str, work: Callable, *args, **kwargs):
        """Run ``work(*args, **kwargs)`` and note how long it took under ``kind``."""
        t = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            self.seconds[kind].append(time.perf_counter() - t)

    def summary(self) -> dict:
        """The median seconds of the setup, one step, one validation and one new song (the first step warms up)."""
        return {f"{kind}_s": float(np.median(v[1:] if len(v) > 1 else v)) if v else 0.0
                for kind, v in self.seconds.items()}


def count_validations(steps: int) -> int:
    """How many validations a run of ``steps`` steps makes: before the first, every tenth of the run, at the end.

    Examples
    --------
    >>> count_validations(300), count_validations(3)
    (11, 4)
    """
    every = max(1, steps // 10)
    return 2 + sum(1 for step in range(1, steps) if step % every == 0)


def estimate_training_s(train: Callable | None = None, *, steps: int, trial_steps: int = 3, **options) -> float:
    """How long ``train(steps=steps, **options)`` will take here: a few steps are timed and scaled up.

    Parameters
    ----------
    train : callable
        :func:`train_unet` (default) or :func:`kit.train_demucs.train_demucs`.
    steps : int
        The run to estimate.
    trial_steps : int
        Steps of the timed trial run (its weights are thrown away).
    **options
        The same settings the real run gets (network size, batch, threads...).

    Returns
    -------
    seconds : float
        The setup, steps, validations and song making, each at its measured (median) cost.
        A machine that gets busier during the run takes longer.

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb, notebooks/06_demucs.ipynb
    """
    if steps is None or int(steps) != steps or steps < 1:
        raise OptionError(f"steps={steps} must be a whole number, 1 or more.")
    train = train or train_unet
    timing = train(steps=trial_steps, **options).history["timing"]
    n_songs = 2 + math.ceil(steps / 5)
    return float(timing["setup_s"] + steps * timing["step_s"] + count_validations(int(steps)) * timing["validation_s"]
                 + n_songs * timing["song_s"])


def _lr_at(fraction: float, lr: float) -> float:
    """Short warm-up, then a cosine from ``lr`` down to a tenth of it, by the share of time used."""
    if fraction < 0.03:
        return lr * (0.1 + 0.9 * fraction / 0.03)
    return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, fraction))))


def _validate(model, songs) -> float:
    from .evaluate import compute_sdr

    scores = []
    for song in songs:
        est = model.separate(song["mix"], TRAIN_SR)["vocals"]
        scores.append(compute_sdr(song["stems"]["vocals"], est, sr=TRAIN_SR, window_s=1.0))
    return float(np.nanmean(scores))


def train_unet(
    *,
    minutes: float = 5.0,
    steps: int | None = None,
    seed: int = 0,
    progress: Progress = None,
    callback: Callable[[dict], None] | None = None,
    width: int = 12,
    depth: int = 5,
    batch_size: int = 8,
    patch_s: float = 0.75,
    learning_rate: float = 3e-3,
    song_s: float = 6.0,
    n_validation: int = 3,
    validate_every_s: float | None = None,
    data_share: float = 0.2,
    threads: int | None = None,
    clock: str = "wall",
):
    """Train a tiny U-Net to separate vocals, for a fixed wall-clock time (or number of steps), on the CPU.

    Parameters
    ----------
    minutes : float
        Wall-clock budget, everything included (making songs, validation).
    steps : int, optional
        Train for exactly this many steps instead, whatever the time: the same
        run on a fast or a busy machine (tests use it). A new song joins the
        pool every 5 steps and validation comes every tenth of the steps;
        ``minutes``, ``clock``, ``validate_every_s`` and ``data_share`` are then unused.
    seed : int
        Makes the run repeatable (on the same machine, same threads, same speed).
    progress : callable, optional
        Called with the share of the time budget (or of the steps) used, 0..1.
    callback : callable, optional
        Called with the history dict after every validation (for a live plot).
    width, depth : int
        Network size (see :class:`kit.separators.tiny_unet.TinyUNet`).
    batch_size : int
        Examples per step.
    patch_s : float
        Length of each example in seconds.
    learning_rate : float
        Adam's step size at its peak.
    song_s : float
        Length of each synthetic song made for training and validation.
    n_validation : int
        Validation songs (seeds 0, 1, ...: never used in training).
    validate_every_s : float, optional
        Seconds between validations (default: a tenth of the budget, at least 5 s).
    data_share : float
        Share of the time spent making new songs (the rest trains on the pool).
    threads : int, optional
        torch threads; default: the cores idle now (:func:`choose_threads`).
    clock : {"wall", "cpu"}
        What ``minutes`` counts. ``"wall"``: time on the clock (a busy machine
        trains fewer steps). ``"cpu"``: this process's CPU time, all threads
        together, so that a run on a shared machine gets the compute a quiet one
        would give: 5 minutes of 2 idle cores is about ``minutes=10, clock="cpu"``.

    Returns
    -------
    model : kit.separators.tiny_unet.TrainedUNet
        A separator (``vocals``, ``accompaniment``) holding the weights that did
        best on the validation songs; ``model.history`` has the loss and the
        validation SDR over time (the first validation, at step 0, scores the
        untrained net); ``model.save(path)`` writes it.

    Examples
    --------
    >>> import kit
    >>> model = kit.train.train_unet(minutes=0.1)  # doctest: +SKIP
    >>> mix, stems = kit.examples.make_multitrack(4.0, seed=1)
    >>> sorted(model.separate(mix, 44100))  # doctest: +SKIP
    ['accompaniment', 'vocals']

    See also
    --------
    notebooks/05_spectrogram_unet.ipynb
    """
    import torch

    from .separators.tiny_unet import TinyUNet, TrainedUNet, compute_features, frame_settings

    if not minutes > 0:
        raise OptionError(f"minutes={minutes} must be positive; try 0.1 for a quick look, 5 for a real run.")
    if steps is not None and (int(steps) != steps or steps < 1):
        raise OptionError(f"steps={steps} must be a whole number, 1 or more, or None to train for `minutes`.")
    if batch_size < 1 or patch_s <= 0 or song_s < patch_s:
        raise OptionError(f"Need batch_size >= 1 and 0 < patch_s <= song_s (got {batch_size}, {patch_s}, {song_s}).")
    if clock not in ("wall", "cpu"):
        raise OptionError(f"clock='{clock}' is not known; use 'wall' (time on the clock) or 'cpu' (CPU time).")
    budget_s = 60.0 * minutes
    now = time.perf_counter if clock == "wall" else time.process_time
    t0, wall_t0 = now(), time.perf_counter()
    elapsed = lambda: now() - t0  # noqa: E731
    validate_every_s = validate_every_s or max(5.0, budget_s / 10)
    if steps is not None:
        steps = int(steps)
        validate_every_steps = max(1, steps // 10)

    def used() -> float:
        """The share of the budget spent: steps taken, or time on the chosen clock."""
        return step / steps if steps is not None else elapsed() / budget_s

    def should_validate() -> bool:
        if steps is not None:
            return step % validate_every_steps == 0 and step < steps
        return elapsed() - last_val >= validate_every_s and elapsed() < budget_s

    old_threads = torch.get_num_threads()
    n_threads = choose_threads(threads)
    torch.set_num_threads(n_threads)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng([seed, 1])
        net = TinyUNet(width=width, depth=depth)
        n_fft, hop = frame_settings(TRAIN_SR, n_fft_44k=net.config["n_fft_44k"])
        step_frames = 2**depth
        n_frames = max(step_frames, int(round(patch_s * TRAIN_SR / hop)) // step_frames * step_frames)
        n_samples = (n_frames - 1) * hop  # center=True STFT gives exactly n_frames frames
        window = torch.hann_window(n_fft)
        opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
        model = TrainedUNet(net)

        history = {"step": [], "time_s": [], "loss": [], "val_step": [], "val_time_s": [], "val_sdr_db": [],
                   "songs": 0, "threads": n_threads, "minutes": None if steps else minutes, "seed": seed,
                   "n_parameters": model.n_parameters(), "clock": clock,
                   "measure": "SDR (museval v4), median of 1 s windows"}
        val_songs = make_validation_songs(n_validation, duration_s=song_s)
        pool, pool_size, gen_s = [], 24, 0.0
        timer = StepTimer()
        timer.seconds["setup"].append(time.perf_counter() - wall_t0)  # building the net, making validation songs
        best, best_sdr = None, -math.inf
        step, last_val, running = 0, elapsed(), []

        def add_song():
            nonlocal gen_s
            t = time.perf_counter()
            song = timer.time("song", make_training_song, rng, duration_s=song_s)
            if len(pool) >= pool_size:
                pool.pop(int(rng.integers(len(pool))))
            pool.append(song)
            history["songs"] += 1
            gen_s += time.perf_counter() - t

        def validate():
            nonlocal best, best_sdr, last_val
            net.eval()
            sdr = timer.time("validation", _validate, model, val_songs)
            net.train()
            history["val_step"].append(step)
            history["val_time_s"].append(round(elapsed(), 2))
            history["val_sdr_db"].append(sdr)
            if sdr > best_sdr:
                best_sdr, best = sdr, copy.deepcopy(net.state_dict())
            last_val = elapsed()
            if callback is not None:
                callback(history)

        for _ in range(2):
            add_song()
        validate()  # step 0: the untrained net, what training has to beat
        net.train()
        while step == 0 or used() < 1.0:  # at least one step, however busy the machine
            new_song = step % 5 == 0 if steps is not None else gen_s < data_share * elapsed()
            if len(pool) < 4 or new_song:
                add_song()
            for group in opt.param_groups:
                group["lr"] = _lr_at(used(), learning_rate)
            t_step = time.perf_counter()
            mix, vocals = make_batch(pool, rng, batch_size=batch_size, n_samples=n_samples)
            loss = _step(net, opt, mix, vocals, n_fft=n_fft, hop=hop, window=window, features=compute_features)
            timer.seconds["step"].append(time.perf_counter() - t_step)
            step += 1
            running.append(loss)
            if len(running) >= 5 or used() >= 1.0:
                history["step"].append(step)
                history["time_s"].append(round(elapsed(), 2))
                history["loss"].append(float(np.mean(running)))
                running = []
            if should_validate():
                validate()
            report(progress, min(1.0, used()))
        validate()
        net.load_state_dict(best)
        net.eval()
        history["steps"] = step
        history["timing"] = timer.summary()
        history["best_val_sdr_db"] = best_sdr
        history["train_s"] = round(elapsed(), 1)  # on the chosen clock
        history["wall_s"] = round(time.perf_counter() - wall_t0, 1)
        report(progress, 1.0)
        return TrainedUNet(net, history=history)
    finally:
        torch.set_num_threads(old_threads)


def _step(net, opt, mix, vocals, *, n_fft, hop, window, features) -> float:
    """One Adam step on a batch; returns the loss."""
    import torch

    b = mix.shape[0]
    n_bins = net.n_bins
    spec = torch.stft(torch.from_numpy(mix).reshape(2 * b, -1), n_fft, hop, window=window, return_complex=True)
    voc = torch.stft(torch.from_numpy(vocals).reshape(2 * b, -1), n_fft, hop, window=window, return_complex=True)
    spec, voc = (z.reshape(b, 2, *z.shape[1:]) for z in (spec, voc))
    mask = net(features(spec, n_fft=n_fft, n_bins=n_bins))
    scale = n_fft / 2  # the window's sum: magnitudes on the scale separate() uses
    mix_mag = spec[:, :, :n_bins].abs() / scale
    voc_mag = voc[:, :, :n_bins].abs() / scale
    acc_mag = (spec - voc)[:, :, :n_bins].abs() / scale
    loss = compute_l1_loss(mask, mix_mag, voc_mag, acc_mag)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())
