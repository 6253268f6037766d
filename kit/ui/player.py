"""The audio player every kit widget uses: an ``ipywidgets.Audio`` holding encoded bytes.

One kind of player for all widgets, so they behave alike in Jupyter, Voila and
Colab, and a test can see that a new sound arrived (the bytes changed). WAV bytes
come from :func:`kit.audio.encode_wav`, MP3 from FFmpeg: this module imports no
audio library itself. Levels
are honest: nothing is normalised, so a quiet stem plays quietly; samples beyond
full scale are clipped as any player would clip them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["encode_for_player", "make_player", "update_player", "make_figure", "make_image",
           "render_figure", "replay_player", "label_row", "FIGURE_DPI", "PLAYER_WAV_MAX_S"]

FIGURE_DPI = 100  # a 9-inch figure is 900 px: fits a laptop page, text at a readable size

# Up to this length the player gets 16-bit WAV (exact, instant to encode, 176 kB a
# second of stereo); longer audio goes as MP3 so a whole song stays a few MB over
# the kernel websocket (Voila's default message limit is about 10 MB).
PLAYER_WAV_MAX_S = 30.0
_MP3_KBPS = 160


def encode_for_player(y, sr: int) -> tuple[bytes, str]:
    """Encode a waveform for a browser player: ``(data, format)`` with format ``"wav"`` or ``"mp3"``.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples) or (samples,)
    sr : int
        Sample rate in Hz.

    Returns
    -------
    data : bytes
    format : str

    Examples
    --------
    >>> import numpy as np
    >>> data, fmt = encode_for_player(np.zeros((2, 4410), np.float32), 44100)
    >>> fmt, data[:4]
    ('wav', b'RIFF')
    """
    from ..audio import check_audio, encode_wav

    y = check_audio(np.asarray(y, dtype=np.float32), what="The audio to play")
    y = np.clip(y, -1.0, 1.0)
    if y.shape[1] <= PLAYER_WAV_MAX_S * sr:
        return encode_wav(y, sr), "wav"
    from ..ffmpeg import run_ffmpeg

    data = np.ascontiguousarray(y.T, dtype="<f4")
    proc = run_ffmpeg(
        ["-f", "f32le", "-ar", str(int(sr)), "-ac", str(y.shape[0]), "-i", "pipe:0",
         # LAME's faster search (level 7): 2.5x less CPU than the default, fine for a preview
         "-c:a", "libmp3lame", "-b:a", f"{_MP3_KBPS}k", "-compression_level", "7", "-f", "mp3", "pipe:1"],
        input_bytes=data.tobytes(), what="Encoding audio for the player",
    )
    return proc.stdout, "mp3"


def label_row(text: str, control, *, width: str = "114px"):
    """A control with its label on the left (ToggleButtons put their description above themselves)."""
    import ipywidgets as widgets

    label = widgets.Label(text, layout=widgets.Layout(width=width, justify_content="flex-end",
                                                      margin="0 8px 0 0"))
    return widgets.HBox([label, control], layout=widgets.Layout(align_items="center"))


def make_player(y=None, sr: int | None = None):
    """An ``ipywidgets.Audio`` player, empty or holding ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> player = make_player(np.zeros((1, 100), np.float32), 8000)
    >>> player.format
    'wav'
    """
    import ipywidgets as widgets

    player = widgets.Audio(value=b"", format="wav", autoplay=False, loop=False, controls=True,
                           layout=widgets.Layout(width="100%", max_width="520px"))
    if y is not None:
        update_player(player, y, sr)
    return player


def update_player(player, y, sr: int) -> None:
    """Put new audio into a player made by :func:`make_player`."""
    data, fmt = encode_for_player(y, sr)
    with player.hold_sync():
        player.format = fmt
        player.value = data


def render_figure(fig, *, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure (widgets show figures as images, the same in every front end)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def make_figure(figsize=(9.0, 3.0)):
    """A matplotlib Figure that pyplot does not track, so widgets leave no figures open."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def make_image(fig=None):
    """An ``ipywidgets.Image`` showing ``fig`` (or empty), sized for a laptop screen."""
    import ipywidgets as widgets

    # its own size, not stretched: a VBox (flex column) stretched it to the page width, blurring the text
    image = widgets.Image(value=b"", format="png",
                          layout=widgets.Layout(width="auto", max_width="100%", height="auto",
                                                align_self="flex-start"))
    if fig is not None:
        image.value = render_figure(fig)
    return image


def replay_player(player) -> None:
    """Make a player start again from the top (with autoplay on): empty it, then refill it.

    Setting the same bytes again would send nothing to the browser, so nothing would play.
    """
    data = player.value
    player.autoplay = True
    player.value = b""
    player.value = data
