// The browser half of kit.ui.web_mixer.WebMixer: stems decoded once, mixed with Web Audio.
// Switches, solo and gains act on GainNodes at once; nothing is re-rendered or re-sent.
// The kernel is told the settings (for the download) a moment after they stop changing.

const SYNC_DELAY_MS = 400;  // one small message after a gain slider stops, not one per step
const RAMP_S = 0.015;  // a gain change glides over 15 ms: no click, still "at once"
const REST = "__rest__";  // what the model put in no stem (mixture minus all stems): always on
let lastPlayed = null;  // space on the page (not in a mixer) plays and pauses the mixer played last

function clock(s) {
  s = Math.max(0, s || 0);
  const m = Math.floor(s / 60), sec = Math.floor(s - 60 * m);
  return m + ":" + String(sec).padStart(2, "0");
}

function copyBytes(view) {  // decodeAudioData takes (and detaches) an ArrayBuffer of its own
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

function makeButton(text, title, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "jupyter-button widget-button " + cls;
  b.textContent = text;
  b.title = title;
  return b;
}

function render({ model, el }) {
  el.classList.add("kit-web-mixer");
  const names = model.get("stems");
  const sr = model.get("sample_rate");
  let ctx;
  try { ctx = new AudioContext({ sampleRate: sr, latencyHint: "interactive" }); }
  catch (err) { ctx = new AudioContext({ latencyHint: "interactive" }); }  // a rate the device refuses
  const master = ctx.createGain();  // the limiter's gain curve, measured by the kernel
  master.connect(ctx.destination);
  const nodes = {}, targets = {};
  for (const name of [...names, REST]) {
    nodes[name] = ctx.createGain();
    nodes[name].connect(master);
  }

  // --- the page ---------------------------------------------------------------------------
  const transport = document.createElement("div");
  transport.className = "kit-wm-transport";
  const play = makeButton("▶ Play", "play / pause (space)", "kit-wm-play");
  const seek = document.createElement("input");
  seek.type = "range"; seek.min = "0"; seek.step = "0.1"; seek.className = "kit-wm-seek";
  seek.setAttribute("aria-label", "position in the song");
  const time = document.createElement("span");
  time.className = "kit-wm-time";
  transport.append(play, seek, time);
  const ready = document.createElement("div");
  ready.className = "kit-wm-ready";
  ready.setAttribute("role", "status");
  const limiterNote = document.createElement("div");  // the limiter's curve is for an older mix
  limiterNote.className = "kit-wm-limiter";
  limiterNote.setAttribute("role", "status");
  const rowsBox = document.createElement("div");
  rowsBox.className = "kit-wm-rows";
  const controls = {};
  for (const name of names) {
    const row = document.createElement("div");
    row.className = "kit-wm-row";
    const label = document.createElement("b");
    label.className = "kit-wm-name";
    label.textContent = name;
    const on = makeButton("on", "play " + name, "kit-wm-on");
    const solo = makeButton("solo", "hear only soloed stems", "kit-wm-solo");
    const gain = document.createElement("input");
    gain.type = "range"; gain.min = "-24"; gain.max = "12"; gain.step = "0.5";
    gain.className = "kit-wm-gain";
    gain.setAttribute("aria-label", name + " gain in dB");
    const readout = document.createElement("span");
    readout.className = "kit-wm-db";
    row.append(label, on, solo, gain, readout);
    rowsBox.append(row);
    controls[name] = { on, solo, gain, readout };
    on.addEventListener("click", () => change("on", name, !model.get("on")[name]));
    solo.addEventListener("click", () => change("solo", name, !model.get("solo")[name]));
    gain.addEventListener("input", () => change("gains_db", name, parseFloat(gain.value)));
  }
  el.append(transport, ready, rowsBox, limiterNote);

  // --- settings: applied here at once, told to the kernel a moment later ------------------
  let syncTimer = null;
  function change(key, name, value) {
    model.set(key, { ...model.get(key), [name]: value });  // fires change:key -> applyGains
    clearTimeout(syncTimer);
    if (key === "gains_db") syncTimer = setTimeout(() => model.save_changes(), SYNC_DELAY_MS);
    else model.save_changes();  // a switch is one click: the kernel hears of it now
  }
  function applyGains() {
    const on = model.get("on"), solo = model.get("solo"), gains = model.get("gains_db");
    const soloing = names.some((n) => solo[n]);
    const kept = names.filter((n) => (soloing ? solo[n] : on[n]));
    for (const n of names) targets[n] = kept.includes(n) ? Math.pow(10, (gains[n] || 0) / 20) : 0;
    targets[REST] = kept.length ? 1 : 0;  // as the kernel's mix: silence when nothing is kept
    const now = ctx.currentTime;
    for (const n of [...names, REST]) {
      const param = nodes[n].gain;
      param.cancelScheduledValues(now);
      if (ctx.state === "running") {
        param.setValueAtTime(param.value, now);
        param.linearRampToValueAtTime(targets[n], now + RAMP_S);
      } else {
        param.value = targets[n];
      }
    }
    for (const n of names) {
      const c = controls[n], heard = kept.includes(n);
      // the switch says its own state and looks pressed when on (the row greys out when not heard)
      c.on.textContent = on[n] ? "on" : "off";
      c.on.setAttribute("aria-pressed", String(!!on[n]));
      c.on.classList.toggle("mod-active", !!on[n]);
      c.on.title = n + (on[n] ? " is on: click to switch it off" : " is off: click to switch it on");
      c.solo.setAttribute("aria-pressed", String(!!solo[n]));
      c.solo.classList.toggle("mod-warning", !!solo[n]);
      c.gain.value = String(gains[n] || 0);
      c.readout.textContent = ((gains[n] || 0) >= 0 ? "+" : "") + (gains[n] || 0).toFixed(1) + " dB";
      c.gain.closest(".kit-wm-row").classList.toggle("kit-wm-muted", !heard);
    }
    showLimiter();
  }
  // The kernel measures the limiter's gain (and words the "Playing:" line) for the mix it was told
  // about; until it has measured the page's latest settings both belong to the previous mix: say so.
  function mixStale() {
    const m = model.get("measured") || {};
    if (!m.on) return false;  // nothing measured yet
    const on = model.get("on"), solo = model.get("solo"), gains = model.get("gains_db");
    return names.some((n) => !!m.on[n] !== !!on[n] || !!(m.solo || {})[n] !== !!solo[n]
      || Math.abs(((m.gains_db || {})[n] || 0) - (gains[n] || 0)) > 1e-6);
  }
  function showLimiter() {
    const stale = mixStale(), limit = !!(model.get("measured") || {}).limit;
    limiterNote.textContent = !stale ? "" : limit
      ? "Measuring the new mix (a moment): until then the limiter uses the previous mix's curve (peaks may "
        + "pass -1 dBFS or the sound dip) and the 'Playing' line below describes the previous mix."
      : "Measuring the new mix (a moment): the 'Playing' line below still describes the previous mix.";
    limiterNote.classList.toggle("kit-wm-stale", stale);
  }

  // --- audio: chunks of stems (one widget each), decoded once -------------------------------
  const chunks = new Map();  // model id -> {start, n, buffers}
  let generation = model.get("generation");
  let playing = false, waiting = false, offset = 0, t0 = 0, sources = [];
  const duration = () => model.get("duration_s");

  function decodedChunks() {
    return [...chunks.values()].filter((c) => c.buffers && c.generation === generation)
      .sort((a, b) => a.start - b.start);
  }
  function readyEnd() {  // playable from the start without a gap
    let end = 0;
    for (const c of decodedChunks()) { if (c.start > end + 0.01) break; end = Math.max(end, c.start + c.seconds); }
    return end;
  }
  function position() { return playing ? offset + Math.max(0, ctx.currentTime - t0) : offset; }

  function schedule(chunk) {
    const end = chunk.start + chunk.seconds;
    if (end <= offset) return;
    for (const n of Object.keys(chunk.buffers)) {
      const src = ctx.createBufferSource();
      src.buffer = chunk.buffers[n];
      src.connect(nodes[n] || nodes[REST]);
      if (chunk.start >= offset) src.start(t0 + (chunk.start - offset));
      else src.start(t0, offset - chunk.start);
      sources.push(src);
    }
  }
  function stopSources() {
    for (const s of sources) { try { s.stop(); } catch (err) { /* never started */ } s.disconnect(); }
    sources = [];
  }
  function applyEnvelope() {
    const param = master.gain;
    param.cancelScheduledValues(0);
    const data = model.get("envelope");
    const rate = model.get("envelope_rate_hz");
    if (!playing || !data || !data.byteLength || !rate) { param.value = 1; return; }
    const curve = new Float32Array(copyBytes(data));
    const first = Math.ceil(offset * rate);
    if (curve.length - first < 2) { param.value = 1; return; }
    const part = curve.subarray(first);
    param.value = part[0];
    // N points span (N - 1) steps: value k lands at time k / rate, as measured
    param.setValueCurveAtTime(part, t0 + (first / rate - offset), (part.length - 1) / rate);
  }
  async function start() {
    if (ctx.state !== "running") await ctx.resume();
    if (offset >= readyEnd() - 0.05) {
      if (readyEnd() >= duration() - 0.05) offset = 0;  // at the end: from the top
      else { waiting = true; show(); return; }
    }
    waiting = false;
    lastPlayed = el;
    t0 = ctx.currentTime + 0.03;
    stopSources();
    playing = true;
    applyGains();
    for (const c of decodedChunks()) schedule(c);
    applyEnvelope();
    show();
  }
  function stop() {
    offset = position();
    playing = false;
    stopSources();
    applyEnvelope();
    show();
  }
  function toggle() { if (playing || waiting) { waiting = false; stop(); } else start(); }
  function seekTo(s) {
    const was = playing;
    if (playing) stop();
    offset = Math.min(Math.max(0, s), duration());
    if (was) start(); else show();
  }

  async function loadChunk(ref) {
    const id = String(ref).replace(/^IPY_MODEL_/, "");
    if (chunks.has(id)) return;
    const entry = { buffers: null };
    chunks.set(id, entry);
    const child = await model.widget_manager.get_model(id);
    const audio = child.get("audio"), stemNames = child.get("names");
    entry.start = child.get("start_s");
    entry.seconds = child.get("seconds");
    entry.generation = child.get("generation");
    const decoded = await Promise.all(audio.map((view) => ctx.decodeAudioData(copyBytes(view))));
    const buffers = {};
    stemNames.forEach((n, i) => { buffers[n] = decoded[i]; });
    entry.buffers = buffers;
    if (entry.generation !== generation) {
      // new stems (another key): swap when the audio under the playhead is here, keeping the place
      const pos = position();
      const covers = entry.start <= pos + 0.01 && pos < entry.start + entry.seconds;
      if (entry.generation !== model.get("generation") || !(covers || !playing)) return;
      const was = playing || waiting;
      if (playing) stop();
      generation = entry.generation;
      for (const [id, c] of [...chunks.entries()]) if (c.generation !== generation) chunks.delete(id);
      if (was) start();
      show();
      return;
    }
    if (playing) schedule(entry);
    else if (waiting && readyEnd() > offset + 0.05) start();
    show();
  }
  function onChunks() {
    const refs = model.get("chunks") || [];
    const ids = new Set(refs.map((r) => String(r).replace(/^IPY_MODEL_/, "")));
    // chunks the kernel dropped go when their generation is no longer played (see loadChunk)
    for (const [id, c] of [...chunks.entries()]) if (!ids.has(id) && c.generation !== generation) chunks.delete(id);
    for (const ref of refs) loadChunk(ref);
  }
  // --- showing where we are ----------------------------------------------------------------
  function show() {
    const pos = position(), end = readyEnd(), total = duration();
    play.textContent = playing || waiting ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-pressed", String(playing || waiting));
    seek.max = String(total);
    if (document.activeElement !== seek) seek.value = String(pos);
    time.textContent = clock(pos) + " / " + clock(total);
    const pct = total ? Math.min(100, (100 * end) / total) : 0;
    seek.style.background = "linear-gradient(to right, #81c784 " + pct + "%, #e0e0e0 " + pct + "%)";
    const note = model.get("note");
    let text = note;
    if (waiting) text = "Waiting for the next part of the song (" + clock(end) + " ready)... " + note;
    else if (!end) text = "Loading the stems into the page... " + note;
    ready.textContent = text;
  }
  let lastTick = 0;
  function tick() {
    if (playing) {
      const pos = position(), end = readyEnd();
      if (pos >= duration() - 0.02) { stop(); offset = 0; show(); }
      else if (pos >= end - 0.02 && end < duration() - 0.05) { stop(); offset = end; waiting = true; show(); }
      else if (performance.now() - lastTick > 200) { lastTick = performance.now(); show(); }
    }
    frame = requestAnimationFrame(tick);
  }
  let frame = requestAnimationFrame(tick);

  play.addEventListener("click", toggle);
  seek.addEventListener("change", () => seekTo(parseFloat(seek.value)));
  seek.addEventListener("input", () => { time.textContent = clock(parseFloat(seek.value)) + " / " + clock(duration()); });
  // space plays and pauses, in the mixer and on the page (not while typing or on a button)
  function onKey(e) {
    if (e.key !== " " || e.defaultPrevented || e.repeat) return;
    const t = e.target;
    const inside = el.contains(t);
    if (!inside && ((t !== document.body && t !== document.documentElement) || (lastPlayed && lastPlayed !== el))) return;
    if (t.tagName === "BUTTON" && t !== play) return;  // space presses the button
    if (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "range") || t.isContentEditable) return;
    e.preventDefault();
    toggle();
  }
  document.addEventListener("keydown", onKey);

  const onState = () => applyGains();
  model.on("change:gains_db change:on change:solo", onState);
  model.on("change:chunks", onChunks);
  const onEnvelope = () => applyEnvelope();
  model.on("change:envelope", onEnvelope);
  const onNote = () => show();
  model.on("change:note change:duration_s", onNote);
  model.on("change:measured", showLimiter);
  applyGains();
  onChunks();
  show();

  // a handle for scripts and tests: the gain nodes' values, what the page holds
  const handle = {
    ctx, nodes, targets, master, toggle, seekTo, position, readyEnd, model,
    gains: () => Object.fromEntries(Object.entries(nodes).map(([n, g]) => [n, g.gain.value])),
    isPlaying: () => playing,
    isWaiting: () => waiting,
    mixStale,
    chunkCount: () => decodedChunks().length,
    decodedSeconds: () => decodedChunks().reduce((sum, c) => sum + Object.values(c.buffers)[0].duration, 0),
  };
  el.kitMixer = handle;
  (window.kitMixers = window.kitMixers || []).push(handle);

  return () => {
    cancelAnimationFrame(frame);
    clearTimeout(syncTimer);
    document.removeEventListener("keydown", onKey);
    model.off("change:gains_db change:on change:solo", onState);
    model.off("change:chunks", onChunks);
    model.off("change:envelope", onEnvelope);
    model.off("change:note change:duration_s", onNote);
    model.off("change:measured", showLimiter);
    stopSources();
    window.kitMixers = (window.kitMixers || []).filter((h) => h !== handle);
    ctx.close();
  };
}

export default { render };
