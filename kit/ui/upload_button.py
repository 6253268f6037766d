"""An upload button that refuses a file over the size limit in the browser, before sending it.

ipywidgets' ``FileUpload`` reads the whole file and sends it to the kernel in one
websocket message, whatever its size: a file over the server's message limit
(:data:`kit.app_server.WEBSOCKET_LIMIT_MB`) drops the connection and the page dies
without a word, and a file under it but over :data:`kit.ui.upload.UPLOAD_LIMIT_MB`
crosses a slow network whole before the kernel refuses it. Its hidden
``<input type=file>`` is never put in the page, so no script outside the widget can
stop its ``change`` event. This widget (an ``anywidget``: plain browser code, no
build step; it works in Voila, JupyterLab, Notebook 7 and Colab) looks at the
file's size first. Over the limit, it shows the kernel's own sentence
(:func:`kit.ui.upload.too_big_message`) under the button and sends the kernel only
the name and size. Otherwise it sends the bytes in one message, which sets
``value`` in the same shape as ``FileUpload.value``, so :func:`kit.ui.read_upload`
reads either.
"""

from __future__ import annotations

import datetime
import os

import anywidget
import traitlets

from .upload import UPLOAD_LIMIT_MB, too_big_message

__all__ = ["UploadButton"]

_ESM = r"""
const PROBLEM = "box-sizing:border-box;border:1px solid #c62828;background:#ffebee;color:#b71c1c;" +
  "padding:8px 12px;border-radius:4px;white-space:normal;margin-top:4px;max-width:100%";
const NOTE = "color:#555;white-space:normal;margin-top:4px";

function megabytes(size) { return (size / 1e6).toFixed(size < 1e6 ? 1 : 0); }

function render({ model, el }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "jupyter-button widget-button widget-upload";
  button.style.width = "auto";
  const input = document.createElement("input");
  input.type = "file";
  input.style.display = "none";
  const message = document.createElement("div");
  message.className = "kit-upload-message";
  message.setAttribute("role", "status");
  message.style.display = "none";
  el.style.margin = "var(--jp-widgets-margin, 2px)";  // in line with ipywidgets' own
  el.append(button, input, message);
  let sending = false;

  function say(text, style) {
    const problem = style === PROBLEM;
    message.textContent = "";
    if (problem) {  // as the app's error panel words it
      const label = document.createElement("b");
      label.textContent = "Problem: ";
      message.append(label);
    }
    message.append(text);
    message.style.cssText = text ? style : "display:none";
    message.dataset.kind = text ? (problem ? "problem" : "note") : "";
  }
  function update() {
    button.textContent = "";
    const icon = document.createElement("i");
    icon.className = "fa fa-upload";
    button.append(icon, " " + model.get("description"));
    button.disabled = model.get("disabled") || sending;
    input.accept = model.get("accept");
  }

  button.addEventListener("click", () => { input.value = ""; input.click(); });
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    if (file.size > model.get("limit_bytes")) {
      // refuse here: the bytes never leave this computer, only the name and size go to the kernel
      const words = { name: file.name, mb: megabytes(file.size) };
      say(model.get("too_big_template").replace(/\{(name|mb)\}/g, (_, key) => words[key]), PROBLEM);
      input.value = "";
      model.send({ event: "refused", name: file.name, size: file.size });
      return;
    }
    say("Sending '" + file.name + "' (" + megabytes(file.size) + " MB)...", NOTE);
    sending = true;
    update();
    try {
      const data = await file.arrayBuffer();
      model.send({ event: "file", name: file.name, size: file.size, type: file.type,
                   last_modified: file.lastModified }, undefined, [data]);
    } catch (err) {
      sending = false;
      update();
      say("Could not read '" + file.name + "' (" + err + "). Choose the file again.", PROBLEM);
    }
    input.value = "";
  });
  const onMessage = (msg) => {
    if (msg && msg.event === "received") {
      sending = false;
      say("", NOTE);
      update();
    }
  };
  model.on("msg:custom", onMessage);
  model.on("change:description change:disabled change:accept", update);
  update();
  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:description change:disabled change:accept", update);
  };
}
export default { render };
"""


class UploadButton(anywidget.AnyWidget):
    """A one-file upload button that checks the size in the browser.

    Parameters
    ----------
    description : str
        The button's words.
    accept : str
        File types the chooser offers, as for ``<input accept=...>``.
    limit_bytes : int
        Bigger files are refused in the browser; default :data:`UPLOAD_LIMIT_MB` MB.

    Attributes
    ----------
    value : tuple of dict
        Like ``ipywidgets.FileUpload.value``: one dict with ``name``, ``content``
        (a memoryview), ``size``, ``type`` and ``last_modified``; empty until a file
        arrives. Set it to ``()`` to forget the bytes. Kept in the kernel only.
    refused : dict
        ``{"name": ..., "size": ...}`` of the last file refused in the browser.

    Examples
    --------
    >>> button = UploadButton(description="Choose a file", accept="audio/*")
    >>> button.limit_bytes == UPLOAD_LIMIT_MB * 10**6
    True
    """

    _esm = _ESM
    description = traitlets.Unicode("Upload").tag(sync=True)
    accept = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    limit_bytes = traitlets.Int(UPLOAD_LIMIT_MB * 10**6).tag(sync=True)
    # the kernel's refusal with placeholders the browser fills in: one wording for both
    too_big_template = traitlets.Unicode(too_big_message("{name}", "{mb}")).tag(sync=True)
    value = traitlets.Tuple()
    refused = traitlets.Dict()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_browser_message)

    def _on_browser_message(self, _widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        name = os.path.basename(str(content.get("name") or "upload")) or "upload"
        if content.get("event") == "refused":
            refused = {"name": name, "size": int(content.get("size") or 0)}
            if refused == self.refused:
                self.refused = {}  # the same file again: observers hear of it too
            self.refused = refused
        elif content.get("event") == "file" and buffers:
            self.send({"event": "received"})  # first: handling the file may take a while
            data = memoryview(buffers[0])
            stamp = content.get("last_modified")
            modified = (datetime.datetime.fromtimestamp(stamp / 1000, tz=datetime.timezone.utc)
                        if isinstance(stamp, (int, float)) else None)
            self.value = ({"name": name, "content": data, "size": data.nbytes, "type": str(content.get("type", "")),
                           "last_modified": modified},)
