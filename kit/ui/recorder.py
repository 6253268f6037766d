"""A Record/Stop button that plays the backing track and records the microphone in the browser.

An ``anywidget`` (plain browser code, no build step), like
:mod:`kit.ui.upload_button`. Pressing *Record* asks for the microphone
(``getUserMedia``, with the browser's echo cancelling, noise suppression and
automatic gain off: they would bend a singer's pitch and level), asks the kernel
for the backing track (sent once per mix as WAV or MP3 bytes), and starts both
in one ``AudioContext``: the backing from its start, the microphone captured
as PCM by a ``ScriptProcessorNode`` (an ``AudioWorklet`` needs a module file and
is missing in older phone browsers) from the moment the backing starts.
*Stop*, or the end of the backing, ends the take; the browser sends it to the
kernel as 16-bit mono PCM in one message (a 3-minute take at 48 kHz is 17 MB,
within :data:`kit.ui.upload.UPLOAD_LIMIT_MB`). Nothing leaves the computer the
kernel runs on.

The kernel hears of a take through the ``take`` trait (``{"y", "sr", "page"}``), of a
microphone the browser could not open through ``problem`` (``{"kind", "detail"}``,
``kind`` one of :data:`PROBLEMS`), and answers the browser's request for the
backing with :meth:`Recorder.send_backing`'s bytes, made by ``get_backing``.

The backing is the mix the singer set on the page when pressing *Record*. The kernel
can be behind the page (a mixer gain reaches it 400 ms after the slider stops; a
change waits while the kernel is busy), so, as :class:`kit.ui.download.DownloadButton`
does, *Record* reads the widgets named with :meth:`Recorder.read_from` as the page
shows them, asks for the backing made from those values, and sends them again with
the take, which is then scored and mixed over the backing that played.
The words for the singer are chosen in the kernel (:mod:`kit.ui.sing`).
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets

from .download import PAGE_STATE_JS, PageValues
from .upload import UPLOAD_LIMIT_MB

__all__ = ["Recorder", "PROBLEMS"]

# why the browser could not record: no microphone permission, no microphone, a page the browser
# keeps from the microphone (plain http on another host), a take over the size limit, anything else
PROBLEMS = ("refused", "missing", "unavailable", "too_big", "backing", "other")

_ESM = PAGE_STATE_JS + r"""
const NOTE = "color:#555;white-space:normal;margin:4px 0 0 2px";

function render({ model, el }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "jupyter-button widget-button kit-record-button";
  button.style.cssText = "width:auto;min-width:120px;font-weight:600";
  const status = document.createElement("div");
  status.className = "kit-record-status";
  status.setAttribute("role", "status");
  status.style.cssText = NOTE;
  el.style.margin = "var(--jp-widgets-margin, 2px)";
  el.append(button, status);

  let ctx = null, stream = null, proc = null, src = null, chunks = [], startAt = 0;
  let recording = false, preparing = false, endTimer = null;
  let waitingBacking = null;  // resolves with the backing's bytes when the kernel sends them
  let page = {};  // the mixer as the page showed it at Record: the backing played, and the take's
  const cache = { key: null, bytes: null };

  function say(text) { status.textContent = text; }
  function update() {
    button.textContent = "";
    const icon = document.createElement("i");
    icon.className = recording ? "fa fa-stop" : "fa fa-circle";
    icon.style.color = recording ? "" : "#c62828";
    button.append(icon, recording ? " Stop" : " Record");
    button.classList.toggle("mod-danger", recording);
    button.disabled = !recording && (model.get("disabled") || model.get("busy") || preparing);
    button.title = model.get("disabled") ? model.get("disabled_reason") : "";
  }
  function cleanup() {
    if (endTimer) { clearTimeout(endTimer); endTimer = null; }
    if (src) { src.onended = null; try { src.stop(); } catch (e) { /* never started */ } }
    if (proc) { proc.onaudioprocess = null; proc.disconnect(); }
    if (stream) stream.getTracks().forEach(t => t.stop());
    if (ctx) ctx.close().catch(() => {});
    ctx = stream = proc = src = null;
    recording = preparing = false;
    update();
  }
  function problem(kind, detail) {
    cleanup();
    say("");
    model.send({ event: "problem", kind: kind, detail: String(detail || "") });
  }
  function backingBytes() {
    const version = model.get("backing_version");
    const key = version + " " + JSON.stringify(page);
    if (cache.key === key && cache.bytes) return Promise.resolve(cache.bytes);
    return new Promise((resolve, reject) => {
      waitingBacking = { resolve, reject, key };
      model.send({ event: "want_backing", version: version, page: page });
    });
  }

  async function start() {
    preparing = true;
    update();
    say("Asking for the microphone...");
    const AC = window.AudioContext || window.webkitAudioContext;
    // made and resumed in the click: browsers (iOS Safari above all) let a page play sound only from a click
    ctx = new AC();
    ctx.resume().catch(() => {});
    // the mix the singer set, as the page shows it now (the kernel may not have heard of the last change)
    page = await pageState(model);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      problem("unavailable", window.isSecureContext ? "no getUserMedia" : "not a secure page");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: {
        echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (err) {
      const name = err && err.name;
      const kind = (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
        ? "refused" : (name === "NotFoundError" || name === "OverconstrainedError" ||
                       name === "NotReadableError" || name === "DevicesNotFoundError") ? "missing" : "other";
      problem(kind, name + ": " + (err && err.message));
      return;
    }
    say("Loading the backing track...");
    let buffer;
    try {
      const bytes = await backingBytes();
      buffer = await ctx.decodeAudioData(bytes.slice(0));  // decoding detaches its argument: keep ours
    } catch (err) {
      problem("backing", err);
      return;
    }
    if (!ctx) return;
    if (ctx.state === "suspended") await ctx.resume();
    const rate = ctx.sampleRate;
    const mic = ctx.createMediaStreamSource(stream);
    proc = ctx.createScriptProcessor(4096, 1, 1);
    const mute = ctx.createGain();
    mute.gain.value = 0;  // the processor runs only when connected to the output; the singer hears the band only
    mic.connect(proc);
    proc.connect(mute);
    mute.connect(ctx.destination);
    src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(ctx.destination);
    chunks = [];
    startAt = ctx.currentTime + 0.15;
    proc.onaudioprocess = (e) => {
      const data = e.inputBuffer.getChannelData(0);
      // keep what was captured from the moment the backing started
      const skip = Math.round((startAt - e.playbackTime) * rate);
      if (skip >= data.length) return;
      chunks.push(new Float32Array(skip > 0 ? data.subarray(skip) : data));
    };
    src.onended = () => { endTimer = setTimeout(stop, 400); };  // a late singer's last note
    src.start(startAt);
    recording = true;
    preparing = false;
    update();
    say("Recording: sing along! Press Stop to end the take.");
    model.send({ event: "started" });
  }

  function stop() {
    if (!recording) return;
    const rate = ctx.sampleRate;
    const parts = chunks;
    chunks = [];
    cleanup();
    let n = 0;
    parts.forEach(p => { n += p.length; });
    const pcm = new Int16Array(n);
    let i = 0;
    parts.forEach(p => { for (let k = 0; k < p.length; k++) pcm[i++] = Math.max(-1, Math.min(1, p[k])) * 32767; });
    if (pcm.byteLength > model.get("limit_bytes")) {
      model.send({ event: "problem", kind: "too_big", detail: String(pcm.byteLength) });
      return;
    }
    say("Sending your take (" + (n / rate).toFixed(1) + " s) to be scored...");
    model.send({ event: "take", sr: rate, samples: n, page: page }, undefined, [pcm.buffer]);
  }

  button.addEventListener("click", () => { if (recording) stop(); else if (!preparing) start(); });
  const onMessage = (msg, buffers) => {
    if (!msg) return;
    if (msg.event === "backing" && waitingBacking) {
      const view = buffers && buffers[0];
      const w = waitingBacking;
      waitingBacking = null;
      if (!view) { w.reject("no backing track"); return; }
      cache.bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
      cache.key = w.key;
      w.resolve(cache.bytes);
    } else if (msg.event === "no_backing" && waitingBacking) {
      const w = waitingBacking;
      waitingBacking = null;
      w.reject("no backing track");
    } else if (msg.event === "received") {
      say("");
    }
  };
  model.on("msg:custom", onMessage);
  model.on("change:disabled change:busy change:disabled_reason", update);
  update();
  return () => {
    cleanup();
    model.off("msg:custom", onMessage);
    model.off("change:disabled change:busy change:disabled_reason", update);
  };
}
export default { render };
"""


class Recorder(anywidget.AnyWidget):
    """Record a take in the browser while the backing track plays.

    Parameters
    ----------
    get_backing : callable, optional
        ``get_backing(page)`` is called when the browser asks for the backing track,
        with the page's values at *Record* (a :class:`kit.ui.download.PageValues`;
        empty when no widgets are read); returns the encoded file's bytes (WAV or
        MP3), or None when there is none.

    Attributes
    ----------
    take : dict
        The last take: ``{"y": float32 array (1, samples), "sr": int, "page": dict}``, ``page``
        being the values of the read widgets at *Record* (``{model id: {trait: value}}``,
        for :class:`kit.ui.download.PageValues`); kept in the kernel only. Setting it (a
        test can) is what a recording does.
    problem : dict
        ``{"kind": one of PROBLEMS, "detail": str}``: why the browser could not record.
    disabled, busy : bool
        No song to sing over yet / the kernel is scoring the last take.
    backing_version : int
        Raised by :meth:`new_backing` when the backing changes, so the browser fetches it again.

    Examples
    --------
    >>> rec = Recorder()
    >>> rec.limit_bytes == UPLOAD_LIMIT_MB * 10**6
    True
    """

    _esm = _ESM
    disabled = traitlets.Bool(True).tag(sync=True)
    disabled_reason = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    backing_version = traitlets.Int(0).tag(sync=True)
    limit_bytes = traitlets.Int(UPLOAD_LIMIT_MB * 10**6).tag(sync=True)
    reads = traitlets.List().tag(sync=True)  # [[model id, [trait names]], ...]: read at Record
    take = traitlets.Dict()
    problem = traitlets.Dict()

    def __init__(self, get_backing=None, **kwargs):
        super().__init__(**kwargs)
        self.get_backing = get_backing
        self.on_msg(self._on_browser_message)

    def read_from(self, reads) -> None:
        """Which widgets' values *Record* takes from the page: ``[(widget, ["value"]), ...]``."""
        self.reads = [[widget.model_id, list(keys)] for widget, keys in reads]

    def new_backing(self) -> None:
        """Say that the backing track changed: the browser asks for it again at the next Record."""
        self.backing_version += 1

    def send_backing(self, page: dict | None = None) -> None:
        """Send the backing track's bytes to the browser (its answer to ``want_backing``).

        ``page``: the read widgets' values the browser sent (``{model id: {trait: value}}``).
        """
        data = self.get_backing(PageValues(page)) if self.get_backing is not None else None
        if not data:
            self.send({"event": "no_backing"})
            return
        self.send({"event": "backing", "version": self.backing_version}, buffers=[data])

    def _on_browser_message(self, _widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "want_backing":
            try:
                page = content.get("page")
                self.send_backing(page if isinstance(page, dict) else None)
            except Exception as exc:  # the browser waits for an answer: say there is none
                self.send({"event": "no_backing"})
                self.problem = {"kind": "backing", "detail": f"{type(exc).__name__}: {exc}"}
        elif event == "started":
            self.problem = {}  # an older problem is over: the microphone works now
        elif event == "problem":
            kind = content.get("kind") if content.get("kind") in PROBLEMS else "other"
            self.problem = {}  # the same problem twice: observers hear of it again
            self.problem = {"kind": kind, "detail": str(content.get("detail", ""))[:300]}
        elif event == "take" and buffers:
            self.send({"event": "received"})
            pcm = np.frombuffer(bytes(buffers[0]), dtype="<i2")
            y = (pcm.astype(np.float32) / 32767.0)[np.newaxis]
            page = content.get("page")
            self.take = {"y": y, "sr": int(content.get("sr") or 48000), "page": page if isinstance(page, dict) else {}}
