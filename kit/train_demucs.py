"""Train a small HT Demucs on synthetic songs, on a CPU, in class: Demucs heard with no download.

The network is Demucs's own :class:`demucs.htdemucs.HTDemucs` (the hybrid
transformer of Demucs v4: a spectrogram branch and a waveform branch that talk
through a cross-transformer), made small: 8 channels instead of 48, one
transformer layer instead of five, one residual convolution per layer, at
22.05 kHz with a 2048-sample STFT (the frequency resolution of htdemucs's 4096
at 44.1 kHz). About 0.33 million weights against htdemucs's 42 million.

It learns two stems, ``vocals`` and ``accompaniment``, from the same songs and
the same augmentation as the tiny U-Net (:func:`kit.train.make_batch`), with
Demucs's loss: the L1 distance between the estimated and the true waveforms of
both stems, on the standardised mixture (as Demucs normalises at inference).
Training runs for a fixed number of steps with seeded data and weights, so the
same settings give the same curve on any machine; only the time differs, and
:func:`kit.train.estimate_training_s` says it before the run.

See also
--------
kit.train, notebooks/06_demucs.ipynb
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from .errors import OptionError
from .progress import Progress, report
from .separators.base import Separator, fingerprint_weights
from .train import (
    TRAIN_SR,
    StepTimer,
    _lr_at,
    _validate,
    choose_threads,
    make_batch,
    make_training_song,
    make_validation_songs,
)

__all__ = ["train_demucs", "make_small_htdemucs", "TrainedDemucs", "STEMS"]

STEMS = ("vocals", "accompaniment")


def make_small_htdemucs(*, channels: int = 8, segment_s: float = 1.0, seed: int = 0):
    """A real :class:`demucs.htdemucs.HTDemucs`, small, with seeded random weights, at :data:`kit.train.TRAIN_SR`.

    Parameters
    ----------
    channels : int
        Channels of the first layer (htdemucs: 48); each layer doubles them.
    segment_s : float
        The training segment in seconds: the network sees this much at once
        (htdemucs: 7.8 s) and pads shorter input to it.
    seed : int
        Seed of the initial weights.

    Returns
    -------
    net : demucs.htdemucs.HTDemucs
        In training mode, sources :data:`STEMS`.

    Examples
    --------
    >>> net = make_small_htdemucs()
    >>> type(net).__name__, net.sources, net.samplerate
    ('HTDemucs', ['vocals', 'accompaniment'], 22050)
    """
    import torch
    from demucs.htdemucs import HTDemucs

    if channels < 4 or channels % 4:  # GroupNorm in Demucs's layers splits channels into 4 groups
        raise OptionError(f"channels={channels} must be a multiple of 4 (4, 8, 16...); 8 trains in a minute or two.")
    if not 0.25 <= segment_s <= 8.0:
        raise OptionError(f"segment_s={segment_s} must be between 0.25 and 8 seconds; try 1.0.")
    torch.manual_seed(seed)
    # an exact segment in samples, so training (which sets the segment to its input's length) keeps it
    segment = Fraction(int(round(segment_s * TRAIN_SR)), TRAIN_SR)
    return HTDemucs(sources=list(STEMS), audio_channels=2, samplerate=TRAIN_SR, segment=segment, nfft=2048,
                    channels=channels, depth=4, t_layers=1, bottom_channels=0, dconv_mode=3, dconv_depth=1,
                    t_hidden_scale=2.0)


def _standardise(mix):
    """Demucs's normalisation: the mean and standard deviation of the channels' average, per example."""
    ref = mix.mean(dim=-2, keepdim=True)
    mean = ref.mean(dim=-1, keepdim=True)
    std = ref.std(dim=-1, keepdim=True) + 1e-8
    return (mix - mean) / std, mean, std


class TrainedDemucs(Separator):
    """A small HT Demucs trained by :func:`train_demucs`, as a kit separator (``vocals``, ``accompaniment``).

    Segments of the network's training length are overlap-added by Demucs's own
    ``apply_model`` (no shifts, 25 % overlap), as for the pretrained models.

    Parameters
    ----------
    net : demucs.htdemucs.HTDemucs
        The network (switched to eval mode here).
    history : dict, optional
        What training recorded.

    Examples
    --------
    >>> import kit
    >>> model = kit.train_demucs(steps=300)  # doctest: +SKIP
    >>> stems = model.separate(*kit.examples.load_song())  # doctest: +SKIP
    """

    name = "small-htdemucs"
    stems = STEMS
    sample_rate = TRAIN_SR
    stereo = True
    min_duration_s = 0.1

    def __init__(self, net, *, history: dict | None = None):
        self.net = net.eval()
        self.history = dict(history or {})
        self.cache_settings = {}

    @property
    def weights_id(self) -> str:
        """A fingerprint of the weights, so the stem cache tells trained models apart."""
        return fingerprint_weights(self.net)

    def n_parameters(self) -> int:
        """How many numbers training adjusts."""
        return sum(p.numel() for p in self.net.parameters())

    def _separate(self, y: np.ndarray, sr: int, *, progress: Progress = None) -> dict[str, np.ndarray]:
        import torch
        from demucs.apply import apply_model

        mix, mean, std = _standardise(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)))
        with torch.inference_mode():
            out = apply_model(self.net, mix[None], shifts=0, split=True, overlap=0.25, progress=False)[0]
        out = out * std + mean / len(STEMS)  # the stems add up to the mix, its offset included
        report(progress, 1.0)
        return {stem: out[i].numpy() for i, stem in enumerate(STEMS)}


def train_demucs(
    *,
    steps: int = 300,
    seed: int = 0,
    progress: Progress = None,
    callback: Callable[[dict], None] | None = None,
    channels: int = 8,
    batch_size: int = 4,
    patch_s: float = 1.0,
    learning_rate: float = 5e-3,
    song_s: float = 4.0,
    n_validation: int = 2,
    threads: int | None = None,
) -> TrainedDemucs:
    """Train a small HT Demucs to separate vocals, for a fixed number of steps, on the CPU.

    Parameters
    ----------
    steps : int
        Adam steps. A new song joins the pool every 5 steps; validation comes
        before the first step, every tenth of the steps and at the end.
    seed : int
        Seeds the weights and the data: the same settings give the same curve.
    progress : callable, optional
        Called with the share of the steps done, 0..1.
    callback : callable, optional
        Called with the history dict after every validation (for a live plot).
    channels : int
        Width of the network (:func:`make_small_htdemucs`).
    batch_size : int
        Examples per step.
    patch_s : float
        Length of each example in seconds: the network's segment.
    learning_rate : float
        Adam's step size at its peak (short warm-up, then a cosine down to a tenth).
    song_s : float
        Length of each synthetic song made for training and validation.
    n_validation : int
        Validation songs (seeds 0, 1, ...: never used in training).
    threads : int, optional
        torch threads; default: the cores idle now (:func:`kit.train.choose_threads`).

    Returns
    -------
    model : TrainedDemucs
        A separator holding the weights that did best on the validation songs;
        ``model.history`` has the loss and validation SDR by step (step 0 scores
        the untrained net) and ``timing`` (median seconds per step, validation, song).

    Examples
    --------
    >>> import kit
    >>> seconds = kit.train.estimate_training_s(kit.train_demucs, steps=300)  # doctest: +SKIP
    >>> model = kit.train_demucs(steps=300)  # doctest: +SKIP

    See also
    --------
    kit.train.train_unet, notebooks/06_demucs.ipynb
    """
    import torch

    if steps is None or int(steps) != steps or steps < 1:
        raise OptionError(f"steps={steps} must be a whole number, 1 or more; 300 takes a minute or two.")
    if batch_size < 1 or patch_s <= 0 or song_s < patch_s:
        raise OptionError(f"Need batch_size >= 1 and 0 < patch_s <= song_s (got {batch_size}, {patch_s}, {song_s}).")
    steps = int(steps)
    validate_every = max(1, steps // 10)
    old_threads = torch.get_num_threads()
    n_threads = choose_threads(threads)
    torch.set_num_threads(n_threads)
    t0 = time.perf_counter()
    try:
        net = make_small_htdemucs(channels=channels, segment_s=patch_s, seed=seed)
        rng = np.random.default_rng([seed, 1])
        n_samples = int(net.segment * TRAIN_SR)
        opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
        model = TrainedDemucs(net)
        history = {"step": [], "time_s": [], "loss": [], "val_step": [], "val_time_s": [], "val_sdr_db": [],
                   "songs": 0, "threads": n_threads, "seed": seed, "n_parameters": model.n_parameters(),
                   "measure": "SDR (museval v4), median of 1 s windows"}
        val_songs = make_validation_songs(n_validation, duration_s=song_s)
        pool, timer, running = [], StepTimer(), []
        best, best_sdr = None, -math.inf

        def add_song():
            if len(pool) >= 24:
                pool.pop(int(rng.integers(len(pool))))
            pool.append(timer.time("song", make_training_song, rng, duration_s=song_s))
            history["songs"] += 1

        def validate(step: int):
            nonlocal best, best_sdr
            net.eval()
            sdr = timer.time("validation", _validate, model, val_songs)
            net.train()
            history["val_step"].append(step)
            history["val_time_s"].append(round(time.perf_counter() - t0, 2))
            history["val_sdr_db"].append(sdr)
            if sdr > best_sdr:
                best_sdr, best = sdr, copy.deepcopy(net.state_dict())
            if callback is not None:
                callback(history)

        timer.seconds["setup"].append(time.perf_counter() - t0)  # building the net, making validation songs
        for _ in range(2):
            add_song()
        validate(0)
        net.train()
        for step in range(steps):
            if len(pool) < 4 or step % 5 == 0:
                add_song()
            for group in opt.param_groups:
                group["lr"] = _lr_at(step / steps, learning_rate)
            t_step = time.perf_counter()
            mix, vocals = make_batch(pool, rng, batch_size=batch_size, n_samples=n_samples)
            running.append(_step(net, opt, mix, vocals))
            timer.seconds["step"].append(time.perf_counter() - t_step)
            if len(running) >= 5 or step + 1 == steps:
                history["step"].append(step + 1)
                history["time_s"].append(round(time.perf_counter() - t0, 2))
                history["loss"].append(float(np.mean(running)))
                running = []
            if (step + 1) % validate_every == 0 and step + 1 < steps:
                validate(step + 1)
            report(progress, (step + 1) / steps)
        validate(steps)
        net.load_state_dict(best)
        history.update(steps=steps, best_val_sdr_db=best_sdr, timing=timer.summary(),
                       wall_s=round(time.perf_counter() - t0, 1))
        return TrainedDemucs(net, history=history)
    finally:
        torch.set_num_threads(old_threads)


def _step(net, opt, mix, vocals) -> float:
    """One Adam step on a batch: L1 between the estimated and true waveforms of both stems; returns the loss."""
    import torch

    mix, vocals = torch.from_numpy(mix), torch.from_numpy(vocals)
    x, mean, std = _standardise(mix)
    target = torch.stack([vocals, mix - vocals], dim=1)  # (batch, stems, channels, samples)
    target = (target - mean[:, None] / len(STEMS)) / std[:, None]
    loss = (net(x) - target).abs().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())
