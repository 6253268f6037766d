"""Stems mixed in the browser: sent to the page once, compressed, played together with Web Audio.

Re-mixing a whole song in the kernel for every switch or gain change, then encoding
and sending it again, took 3 s a change on a 4-minute song. Here the kernel sends
each stem once as MP3 (LAME's V5, about 130 kbit/s; what the model put in no stem,
the mixture minus all stems, goes along at V7 when it is audible),
and the page (an ``anywidget``: plain browser code in ``web_mixer.js``) decodes
them and plays them through one Web Audio ``GainNode`` per stem. On/off, solo
and gain change those nodes at once; the playhead keeps its place. The page tells
the kernel the settings (``gains_db``, ``on``, ``solo``) a moment after they stop
changing, so that the download, made by the kernel, is what the singer heard.

What the browser cannot do is computed by the kernel: the key change (new stems,
sent again), and the limiter, whose gain over time (:func:`measure_limiter_gain`)
the page applies to the sum.

Audio arrives in parts (:class:`StemPart`, one widget each, so every part crosses
the websocket once and a page opened later still gets it): a long song is playable
from its first part while the rest is separated.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

__all__ = ["WebMixer", "StemPart", "encode_stem", "decode_stem", "measure_limiter_gain", "STEM_QUALITY",
           "REST_QUALITY", "REST_NAME"]

# MP3, which every browser decodes, in LAME's VBR mode V5: about 130 kbit/s on music (3.9 MB for
# 4 minutes of a stereo stem), less on a sparse stem. Its CBR modes at 128-160 kbit/s came back
# 0.43 dB quieter in every band (measured on the bundled song); VBR keeps the level (0.04 dB).
STEM_QUALITY = 5
REST_QUALITY = 7  # the residue is quiet; its coding noise sits under its own level
REST_NAME = "__rest__"  # the page plays it whenever any stem plays (as method="minus" does)
ENVELOPE_RATE_HZ = 200.0  # limiter gain every 5 ms (its attack time), 0.2 MB for 4 minutes

_HERE = Path(__file__).parent


def encode_stem(y: np.ndarray, sr: int, *, quality: int = STEM_QUALITY) -> bytes:
    """MP3 bytes of one stem for the page: LAME VBR ``quality`` (0 best .. 9), with the gapless header.

    The header (written by FFmpeg into a seekable file) tells decoders the encoder's
    delay and padding, so that the decoded stem has the input's length and timing and
    parts of a song join without a gap.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
    sr : int
        Sample rate in Hz.
    quality : int
        LAME's VBR quality (``-V``): 5 is about 130 kbit/s on music.

    Returns
    -------
    bytes

    Examples
    --------
    >>> import numpy as np
    >>> data = encode_stem(np.zeros((2, 44100), np.float32), 44100)
    >>> len(data) < 5_000  # a second of silence costs little in VBR
    True
    """
    from ..audio import check_audio
    from ..ffmpeg import run_ffmpeg

    y = check_audio(np.asarray(y, dtype=np.float32), what="The stem to send")
    data = np.ascontiguousarray(np.clip(y, -1.0, 1.0).T, dtype="<f4")
    with tempfile.TemporaryDirectory(prefix="kit-stem-") as folder:
        out = os.path.join(folder, "stem.mp3")
        run_ffmpeg(["-f", "f32le", "-ar", str(int(sr)), "-ac", str(y.shape[0]), "-i", "pipe:0",
                    # LAME's faster search (level 7): 2.5x less CPU than the default, as the player's
                    "-c:a", "libmp3lame", "-q:a", str(int(quality)), "-compression_level", "7", out],
                   input_bytes=data.tobytes(), what="Encoding a stem for the page")
        return Path(out).read_bytes()


def decode_stem(data: bytes, sr: int) -> np.ndarray:
    """Decode what :func:`encode_stem` made, as a browser does: ``(channels, samples)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((2, 44100), np.float32)
    >>> decode_stem(encode_stem(y, 44100), 44100).shape
    (2, 44100)
    """
    from ..audio import load

    with tempfile.TemporaryDirectory(prefix="kit-stem-") as folder:
        path = Path(folder) / "stem.mp3"
        path.write_bytes(data)
        return load(path, sr=sr)[0]


def _encode_all(arrays: dict, sr: int) -> list[bytes]:
    qualities = [REST_QUALITY if name == REST_NAME else STEM_QUALITY for name in arrays]
    # one FFmpeg per stem, two at a time: a second core halves the wait before the first sound
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda item: encode_stem(item[0], sr, quality=item[1]),
                             zip(arrays.values(), qualities, strict=True)))


def measure_limiter_gain(y: np.ndarray, limited: np.ndarray, sr: int, *,
                         rate_hz: float = ENVELOPE_RATE_HZ) -> np.ndarray:
    """The limiter's gain over time, as the page applies it: one value per ``1 / rate_hz`` s.

    Value ``k`` is the smallest gain the limiter applied to the loud samples (within 3 dB
    of the peak) of the ``1 / rate_hz`` s centred on its time, so that the page's gain
    curve, drawn straight between the values, holds the peaks as FFmpeg's limiter did
    (its gain moves no faster than its 5 ms attack). On a mix limited by 9 dB the result
    peaked 0.13 dB over the limiter's and measured 0.2 LU quieter (within 6 dB: 0.14 dB
    under, 0.3 LU quieter; least squares per block: 1.3 dB over at the peaks).

    Parameters
    ----------
    y, limited : np.ndarray, shape (channels, samples)
        The mix before and after :func:`kit.mix.apply_limiter`.
    sr : int
        Sample rate in Hz.
    rate_hz : float

    Returns
    -------
    gain : np.ndarray, float32, shape (samples // hop + 1,)
        Gain at times ``k / rate`` s, at most 1.
    rate : float
        ``sr / hop`` with a whole ``hop`` in samples: ``rate_hz`` or close to it (a
        curve read at 200 Hz but measured every 220 samples would drift 12 ms in 5 s).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.ones((1, 44100), np.float32)
    >>> gain, rate = measure_limiter_gain(y, 0.5 * y, 44100)
    >>> float(gain[10]), round(rate, 2)
    (0.5, 200.45)
    """
    hop = max(1, int(round(sr / rate_hz)))
    n = y.shape[1]
    blocks = n // hop + 1
    half = hop // 2
    total = blocks * hop
    # block k covers samples k*hop - half .. k*hop + hop - half: centred on its time
    # (the last block may end before the song does: its centre is what counts; padding is never negative)
    right = max(0, total - n - half)
    yy = np.pad(y.astype(np.float64), ((0, 0), (half, right)))[:, :total]
    ll = np.pad(limited.astype(np.float64), ((0, 0), (half, right)))[:, :total]
    a = np.abs(yy).max(axis=0).reshape(blocks, hop)
    b = np.abs(ll).max(axis=0).reshape(blocks, hop)
    loud = (a >= 10 ** (-3 / 20) * a.max(axis=1, keepdims=True)) & (a > 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(loud, b / a, np.inf).min(axis=1)
    gain[~np.isfinite(gain)] = 1.0  # silence: nothing to limit
    return np.clip(gain, 0.0, 1.0).astype(np.float32), sr / hop


class StemPart(widgets.Widget):
    """One stretch of every stem, encoded, as a widget without a view: its bytes cross once."""

    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    audio = traitlets.List().tag(sync=True)  # MP3 bytes per name (sent as binary buffers)
    start_s = traitlets.Float(0.0).tag(sync=True)
    seconds = traitlets.Float(0.0).tag(sync=True)
    generation = traitlets.Int(0).tag(sync=True)

    @property
    def nbytes(self) -> int:
        return sum(len(a) for a in self.audio)


class WebMixer(anywidget.AnyWidget):
    """Play stems in the page and mix them there (see the module's docstring).

    Parameters
    ----------
    stems : list of str
        The stems' names, in the order of their rows.
    sr : int
        Sample rate of the audio parts, Hz.
    duration_s : float
        The song's length (parts may come later).

    Attributes
    ----------
    gains_db, on, solo : dict of str
        The settings, as the page has them (synced back a moment after a change).
    parts : list of StemPart
    bytes_sent : int
        Encoded audio handed to the page so far.

    Examples
    --------
    >>> import numpy as np
    >>> mixer = WebMixer(["vocals", "accompaniment"], 44100, duration_s=1.0)
    >>> part = mixer.add_part({"vocals": np.zeros((2, 44100), np.float32),
    ...                        "accompaniment": np.zeros((2, 44100), np.float32)}, start_s=0.0)
    >>> mixer.ready_s, mixer.on
    (1.0, {'vocals': True, 'accompaniment': True})
    """

    _esm = _HERE / "web_mixer.js"
    _css = _HERE / "web_mixer.css"
    stems = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sample_rate = traitlets.Int(44100).tag(sync=True)
    duration_s = traitlets.Float(0.0).tag(sync=True)
    gains_db = traitlets.Dict().tag(sync=True)
    on = traitlets.Dict().tag(sync=True)
    solo = traitlets.Dict().tag(sync=True)
    chunks = traitlets.List(traitlets.Instance(StemPart)).tag(sync=True, **widgets.widget_serialization)
    generation = traitlets.Int(0).tag(sync=True)
    envelope = traitlets.Bytes(b"").tag(sync=True)  # float32 limiter gain, empty = no limiter
    envelope_rate_hz = traitlets.Float(ENVELOPE_RATE_HZ).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)  # a line under the transport (how far separation got)
    # the settings the limiter's curve (and the kernel's "Playing:" line) were made for, and whether
    # the limiter is on: the page says the curve is stale while its own settings differ
    measured = traitlets.Dict().tag(sync=True)
    ready_s = traitlets.Float(0.0)

    def __init__(self, stems, sr: int, *, duration_s: float, **kwargs):
        names = [str(n) for n in stems]
        super().__init__(stems=names, sample_rate=int(sr), duration_s=float(duration_s),
                         gains_db={n: 0.0 for n in names}, on={n: True for n in names},
                         solo={n: False for n in names}, **kwargs)
        self.bytes_sent = 0

    @property
    def parts(self) -> list[StemPart]:
        return list(self.chunks)

    def add_part(self, arrays: dict, *, start_s: float, new_generation: bool = False) -> StemPart:
        """Encode a stretch of the stems (and :data:`REST_NAME`, if given) and send it to the page.

        With ``new_generation`` the part starts a new set of stems (another key): the page
        swaps to it when the audio under the playhead has arrived, and the older parts go.
        """
        first = next(iter(arrays.values()))
        if new_generation:
            self.generation += 1
        part = StemPart(names=list(arrays), audio=_encode_all(arrays, self.sample_rate), start_s=float(start_s),
                        seconds=first.shape[1] / self.sample_rate, generation=self.generation)
        self.bytes_sent += part.nbytes
        old = [c for c in self.chunks if c.generation != self.generation]
        self.chunks = [c for c in self.chunks if c.generation == self.generation] + [part]
        for c in old:  # the page decoded them long ago; it keeps playing them until the swap
            c.close()
        self.ready_s = round(max(c.start_s + c.seconds for c in self.chunks), 6)
        return part

    def set_limiter_gain(self, gain: np.ndarray | None, rate_hz: float = ENVELOPE_RATE_HZ, *,
                         limit: bool = False) -> None:
        """Have the page apply the limiter's gain curve (from :func:`measure_limiter_gain`); None: no limiter.

        The curve is for the settings the kernel has now (``on``, ``solo``, ``gains_db``);
        ``limit`` says whether the limiter is switched on. The page keeps applying the
        curve after a change of its own until the kernel sends the new one, and says so.
        """
        with self.hold_sync():
            self.envelope_rate_hz = float(rate_hz)
            self.envelope = b"" if gain is None else np.asarray(gain, dtype="<f4").tobytes()
            self.measured = {"on": dict(self.on), "solo": dict(self.solo), "gains_db": dict(self.gains_db),
                             "limit": bool(limit)}

    def close(self):
        for part in self.chunks:
            part.close()
        super().close()
