"use strict";
// The live view's recordings: turn recording on or off; a timeline of the camera's spans (and the gaps between
// them) over a day, zoomable to a minute, that plays from the moment clicked; previous/next span, any second,
// speed, pause; the big picture switches between live and recorded without reloading; export of a range with
// its size estimate first and its progress while it runs. `id`, openStream and closeStream come from device.js.
const POLL_MS = 5000;
const EXPORT_POLL_MS = 1000;
const VIEW_LENGTHS = [86400, 21600, 3600, 600, 60]; // seconds across the timeline, from a day down to a minute
const SEARCH_S = 7 * 86400; // how far previous/next span look
const apiBase = `/api/v1/devices/${encodeURIComponent(id)}`;
const el = Object.fromEntries(["rec-toggle", "rec-summary", "rec-error", "no-spans", "view-prev", "view-next",
  "view-title", "zoom-in", "zoom-out", "view-length", "timeline", "ticks", "segments", "cursor", "hover",
  "prev-span", "next-span", "pause", "seek-time", "seek-go", "speed", "mode-live", "mode-recorded", "position",
  "playback", "player-caption", "export-start", "export-end", "export-start-here", "export-end-here",
  "export-format", "export-go", "export-estimate", "exports", "export-video"]
  .map((k) => [k, document.getElementById(k)]));

const view = { start: 0, length: VIEW_LENGTHS[0], segments: [], chosen: false };
let position = null; // unix seconds of the recorded frame on screen (or where playback will start)
let latest = null; // end of the newest span
let pollTimer = 0;

// -- time helpers -----------------------------------------------------------------------------------------

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });

function localDayStart(t) {
  const d = new Date(t * 1000);
  d.setHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

function toInput(t) { // unix seconds -> datetime-local value (local time, to the second)
  const d = new Date(Math.floor(t) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fromInput(value) { // datetime-local value -> unix seconds, or null
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t / 1000 : null;
}

function timeText(t) {
  return `${dayFormat.format(new Date(t * 1000))} ${clock.format(new Date(t * 1000))}`;
}

function seconds(s) {
  return s < 60 ? `${s.toFixed(1)} s` : fmt.duration(s * 1000);
}

function lengthText(s) {
  return s >= 3600 ? `${s / 3600} h` : s >= 60 ? `${s / 60} min` : `${s} s`;
}

function recError(message) {
  el["rec-error"].textContent = message;
  el["rec-error"].hidden = !message;
}

// -- the timeline -------------------------------------------------------------------------------------------

function tickStep(length) {
  return { 86400: 3 * 3600, 21600: 3600, 3600: 600, 600: 60, 60: 10 }[length];
}

function drawTimeline() {
  const { start, length } = view;
  el.timeline.dataset.viewStart = String(start);
  el.timeline.dataset.viewLength = String(length);
  el["view-title"].textContent = length === 86400 && start === localDayStart(start)
    ? dayFormat.format(new Date(start * 1000))
    : `${timeText(start)} – ${clock.format(new Date((start + length) * 1000))}`;
  el["view-length"].textContent = lengthText(length);
  el["zoom-in"].disabled = length === VIEW_LENGTHS[VIEW_LENGTHS.length - 1];
  el["zoom-out"].disabled = length === VIEW_LENGTHS[0];
  const step = tickStep(length);
  const ticks = [];
  const offset = new Date(start * 1000).getTimezoneOffset() * 60; // ticks on round local times
  for (let t = Math.floor((start - offset) / step + 1) * step + offset; t < start + length; t += step) {
    const tick = document.createElement("span");
    tick.style.left = `${((t - start) / length) * 100}%`;
    const d = new Date(t * 1000);
    tick.textContent = length <= 600 ? clock.format(d) : clock.format(d).slice(0, 5);
    ticks.push(tick);
  }
  el.ticks.replaceChildren(...ticks);
  el.segments.replaceChildren(...view.segments.map((seg) => {
    const block = document.createElement("div");
    block.className = "segment";
    block.style.left = `${((seg.start - start) / length) * 100}%`;
    block.style.width = `max(2px, ${((seg.end - seg.start) / length) * 100}%)`;
    block.title = `${clock.format(new Date(seg.start * 1000))} – ${clock.format(new Date(seg.end * 1000))}, ${seg.frames} frames`;
    return block;
  }));
  drawCursor();
}

function drawCursor() {
  const inside = position !== null && position >= view.start && position <= view.start + view.length;
  el.cursor.hidden = !inside;
  if (inside) el.cursor.style.left = `${((position - view.start) / view.length) * 100}%`;
  const share = position === null ? 0 : Math.min(100, Math.max(0, ((position - view.start) / view.length) * 100));
  el.timeline.setAttribute("aria-valuenow", String(Math.round(share)));
  el.timeline.setAttribute("aria-valuetext", position === null ? "nothing played yet" : timeText(position));
}

let timelineAsked = 0;
async function loadTimeline() {
  const { start, length } = view;
  const asked = ++timelineAsked;
  const r = await getJson(`${apiBase}/timeline?start=${start}&end=${start + length}`);
  if (asked === timelineAsked) { // an answer overtaken by a newer question is dropped
    view.segments = r.segments;
    drawTimeline();
  }
}

function showView(start, length) {
  view.start = start;
  view.length = length;
  view.segments = [];
  drawTimeline();
  loadTimeline().catch((e) => recError(`cannot load the timeline: ${e.message}`));
}

function zoom(direction) {
  const i = VIEW_LENGTHS.indexOf(view.length) + direction;
  if (i < 0 || i >= VIEW_LENGTHS.length) return;
  const length = VIEW_LENGTHS[i];
  view.chosen = true;
  if (length === 86400) return showView(localDayStart(position ?? view.start + view.length / 2), length);
  const centre = position !== null && position >= view.start && position <= view.start + view.length
    ? position : view.start + view.length / 2;
  showView(Math.floor(centre - length / 2), length);
}

function timeAt(event) {
  const box = el.timeline.getBoundingClientRect();
  const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  return Math.floor(view.start + share * view.length);
}

el.timeline.addEventListener("click", (event) => play(timeAt(event)));
el.timeline.addEventListener("mousemove", (event) => {
  const t = timeAt(event);
  el.hover.hidden = false;
  el.hover.textContent = clock.format(new Date(t * 1000));
  el.hover.style.left = `${((t - view.start) / view.length) * 100}%`;
});
el.timeline.addEventListener("mouseleave", () => { el.hover.hidden = true; });
el.timeline.addEventListener("keydown", (event) => {
  const steps = { ArrowLeft: -1, ArrowRight: 1 };
  if (!(event.key in steps)) return;
  event.preventDefault();
  const from = position ?? view.start;
  play(Math.floor(from + steps[event.key] * Math.max(1, view.length / 100)));
});
el["view-prev"].addEventListener("click", () => { view.chosen = true; showView(view.start - view.length, view.length); });
el["view-next"].addEventListener("click", () => { view.chosen = true; showView(view.start + view.length, view.length); });
el["zoom-in"].addEventListener("click", () => zoom(1));
el["zoom-out"].addEventListener("click", () => zoom(-1));

// -- playback -----------------------------------------------------------------------------------------------

const player = { controller: null, url: null, state: "stopped" };

function setMode(mode) {
  document.body.dataset.mode = mode;
  el["mode-live"].setAttribute("aria-pressed", String(mode === "live"));
  el["mode-recorded"].setAttribute("aria-pressed", String(mode === "recorded"));
  if (mode === "live") {
    stopPlayback("stopped");
    openStream();
  } else {
    closeStream();
  }
}

function setState(state, caption) {
  player.state = state;
  el.pause.disabled = state !== "playing" && state !== "paused";
  el.pause.textContent = state === "paused" ? "Resume" : "Pause";
  if (caption !== undefined) el["player-caption"].textContent = caption;
}

function stopPlayback(state) {
  if (player.controller) player.controller.abort();
  player.controller = null;
  setState(state);
}

function showPosition(t) {
  position = t;
  el.position.textContent = timeText(t);
  if (document.activeElement !== el["seek-time"]) el["seek-time"].value = toInput(t);
  if (view.length < 86400 && (t < view.start || t > view.start + view.length)) {
    showView(Math.floor(t - view.length / 2), view.length); // the cursor walked out of a zoomed view
  } else if (view.length === 86400 && (t < view.start || t >= view.start + 86400)) {
    showView(localDayStart(t), 86400);
  } else {
    drawCursor();
  }
}

// Plays recorded video from `t` (unix seconds; a gap starts at the next recorded frame) until the end of what is
// recorded. The multipart stream is read here, not by an <img>, so that each frame's X-Timestamp moves the cursor.
async function play(t) {
  stopPlayback("loading");
  setMode("recorded");
  showPosition(t);
  if (!el["export-start"].value) {
    el["export-start"].value = toInput(t);
    el["export-end"].value = toInput(t + 60);
    refreshEstimate();
  }
  const controller = new AbortController();
  player.controller = controller;
  const speed = el.speed.value;
  setState("loading", `loading recorded video from ${timeText(t)}…`);
  try {
    const r = await fetch(deviceUrl(id, `/playback.mjpg?start=${t}&speed=${speed}`), { signal: controller.signal, cache: "no-store" });
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try { message = (await r.json()).error || message; } catch (e) { /* not JSON */ }
      setState("ended", message);
      return;
    }
    setState("playing", `playing at ${speed}×`);
    await readParts(r.body.getReader(), controller.signal, showFrame);
    if (player.controller === controller) {
      setState("ended", `end of the recording (${position === null ? "" : timeText(position)}); Live shows the camera now`);
    }
  } catch (e) {
    if (e.name !== "AbortError" && player.controller === controller) setState("ended", `playback failed: ${e.message}`);
  }
}

function showFrame(headers, jpeg) {
  // The picture on screen stays when its URL is revoked; revoking at once keeps a fast playback from piling up
  // blobs whose load was overtaken by the next frame.
  if (player.url) URL.revokeObjectURL(player.url);
  player.url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
  el.playback.src = player.url;
  const t = Number(headers["x-timestamp"]);
  if (Number.isFinite(t)) {
    el.playback.dataset.time = String(t);
    showPosition(t);
  }
}

// Calls onPart(headers, body) for each part of a multipart/x-mixed-replace body (each part with Content-Length).
async function readParts(reader, signal, onPart) {
  const CRLF2 = [13, 10, 13, 10];
  let buf = new Uint8Array(0);
  let need = null; // {headers, length} once a part's headers are read
  const decoder = new TextDecoder();
  for (;;) {
    if (need === null) {
      const end = indexOf(buf, CRLF2);
      if (end >= 0) {
        const lines = decoder.decode(buf.subarray(0, end)).split("\r\n").filter((line) => line);
        buf = buf.subarray(end + 4);
        const headers = {};
        for (const line of lines) {
          const colon = line.indexOf(":");
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers["content-length"]);
        if (!Number.isFinite(length)) throw new Error("a recorded part has no Content-Length");
        need = { headers, length };
        continue;
      }
    } else if (buf.length >= need.length) {
      onPart(need.headers, buf.subarray(0, need.length)); // a view: buf is replaced, never written into
      buf = buf.subarray(need.length);
      need = null;
      continue;
    }
    const { value, done } = await reader.read();
    if (done || signal.aborted) return;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf);
    joined.set(value, buf.length);
    buf = joined;
  }
}

function indexOf(haystack, needle) {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function findSpan(direction) {
  // From the position; with none yet, "previous" is the newest span (it may have begun a moment ago).
  const from = position ?? Date.now() / 1000;
  const range = direction > 0 ? [from + 0.5, from + SEARCH_S] : [from - SEARCH_S, position === null ? from : from - 2];
  const r = await getJson(`${apiBase}/timeline?start=${range[0]}&end=${range[1]}`);
  const starts = r.segments.map((seg) => seg.start).filter((s) => (direction > 0 ? s > range[0] : s < range[1]));
  return direction > 0 ? starts[0] : starts[starts.length - 1];
}

async function jump(direction) {
  try {
    const t = await findSpan(direction);
    if (t === undefined) {
      el["player-caption"].textContent = direction > 0 ? "no later span" : "no earlier span";
      return;
    }
    play(Math.floor(t));
  } catch (e) {
    recError(`cannot find the ${direction > 0 ? "next" : "previous"} span: ${e.message}`);
  }
}

el["prev-span"].addEventListener("click", () => jump(-1));
el["next-span"].addEventListener("click", () => jump(1));
el["seek-go"].addEventListener("click", () => {
  const t = fromInput(el["seek-time"].value);
  if (t === null) { el["player-caption"].textContent = "choose a date and time to play from"; return; }
  play(t);
});
el["seek-time"].addEventListener("keydown", (event) => { if (event.key === "Enter") el["seek-go"].click(); });
el.pause.addEventListener("click", () => {
  if (player.state === "playing") {
    stopPlayback("paused");
    el["player-caption"].textContent = `paused at ${timeText(position)}`;
  } else if (player.state === "paused" && position !== null) {
    play(position + 0.001);
  }
});
el.speed.addEventListener("change", () => { if (player.state === "playing" && position !== null) play(Math.floor(position)); });
el["mode-live"].addEventListener("click", () => setMode("live"));
el["mode-recorded"].addEventListener("click", () => {
  if (document.body.dataset.mode === "recorded") return;
  if (position !== null) play(position);
  else jump(-1); // the newest span, from its start
});

// -- export -------------------------------------------------------------------------------------------------

let estimateTimer = 0;
let exportsTimer = 0;
const drawnJobs = new Map();

function exportRange() {
  const start = fromInput(el["export-start"].value);
  const end = fromInput(el["export-end"].value);
  return start !== null && end !== null ? { start, end, format: el["export-format"].value } : null;
}

function refreshEstimate() {
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(async () => {
    const range = exportRange();
    el["export-go"].disabled = true;
    if (range === null) { el["export-estimate"].textContent = "choose when the export starts and ends"; return; }
    try {
      const e = await getJson(`${apiBase}/export?start=${range.start}&end=${range.end}&format=${range.format}`);
      el["export-estimate"].textContent = `${e.frames} frames over ${seconds(e.lastTime - e.firstTime)} ` +
        `(${fmt.bytes(e.sourceBytes)} recorded): the ${e.format.toUpperCase()} file will be about ` +
        `${fmt.bytes(e.estimatedBytes)}${e.reencode ? " (H.264 sizes depend on motion)" : ""}`;
      el["export-go"].disabled = false;
    } catch (err) {
      el["export-estimate"].textContent = err.message;
    }
  }, 250);
}

function jobText(job) {
  const name = job.fileName;
  if (job.state === "done") return `${name}: ${fmt.bytes(job.bytes)}, ${seconds(job.durationS || 0)} of video`;
  if (job.state === "running") {
    return `${name}: ${Math.round(job.progress * 100)}% (${job.framesDone} of ${job.frames} frames), ` +
      `about ${fmt.bytes(job.projectedBytes)}`;
  }
  if (job.state === "queued") return `${name}: waiting for the export before it, about ${fmt.bytes(job.estimatedBytes)}`;
  return `${name}: ${job.state}${job.error ? `: ${job.error}` : ""}`;
}

function drawJob(job) {
  let row = drawnJobs.get(job.id);
  if (!row) {
    row = document.createElement("li");
    row.dataset.id = job.id;
    const text = document.createElement("span");
    const bar = document.createElement("progress");
    bar.max = 1;
    const actions = document.createElement("span");
    row.append(text, bar, actions);
    el.exports.prepend(row);
    drawnJobs.set(job.id, row);
  }
  const [text, bar, actions] = row.children;
  row.dataset.state = job.state;
  text.textContent = jobText(job);
  bar.value = job.progress;
  bar.hidden = job.state !== "running" && job.state !== "queued";
  const buttons = [];
  if (job.state === "done") {
    const link = document.createElement("a");
    link.href = job.url;
    link.download = job.fileName;
    link.textContent = "download";
    buttons.push(link);
    if (job.format === "mp4") {
      const watch = document.createElement("button");
      watch.type = "button";
      watch.textContent = "watch";
      watch.addEventListener("click", () => {
        el["export-video"].src = job.url;
        el["export-video"].hidden = false;
        el["export-video"].play().catch(() => { /* the user presses play */ });
      });
      buttons.push(watch);
    }
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = job.state === "running" || job.state === "queued" ? "cancel" : "delete";
  remove.addEventListener("click", async () => {
    try {
      await jsonOf(await fetch(`/api/v1/exports/${encodeURIComponent(job.id)}`, { method: "DELETE" }));
    } catch (e) { /* gone already */ }
    row.remove();
    drawnJobs.delete(job.id);
  });
  buttons.push(remove);
  if (actions.dataset.state !== job.state) {
    actions.dataset.state = job.state;
    actions.replaceChildren(...buttons);
  }
}

async function refreshExports() {
  clearTimeout(exportsTimer);
  let busy = false;
  try {
    const r = await getJson(`${apiBase}/exports`);
    const seen = new Set();
    for (const job of r.exports) {
      seen.add(job.id);
      drawJob(job);
      busy = busy || job.state === "running" || job.state === "queued";
    }
    for (const [jobId, row] of drawnJobs) {
      if (!seen.has(jobId)) { row.remove(); drawnJobs.delete(jobId); }
    }
  } catch (e) { /* shown on the next try */ }
  exportsTimer = setTimeout(refreshExports, busy ? EXPORT_POLL_MS : POLL_MS * 2);
}

for (const input of ["export-start", "export-end", "export-format"]) {
  el[input].addEventListener("input", refreshEstimate);
  el[input].addEventListener("change", refreshEstimate);
}
el["export-start-here"].addEventListener("click", () => {
  if (position !== null) { el["export-start"].value = toInput(position); refreshEstimate(); }
});
el["export-end-here"].addEventListener("click", () => {
  if (position !== null) { el["export-end"].value = toInput(position + 1); refreshEstimate(); }
});
el["export-go"].addEventListener("click", async () => {
  const range = exportRange();
  if (range === null) return;
  try {
    drawJob(await postJson(`${apiBase}/exports`, range));
    el["export-estimate"].textContent = "";
    refreshExports();
  } catch (e) {
    el["export-estimate"].textContent = `the export was refused: ${e.message}`;
  }
});

// -- recording toggle and polling ---------------------------------------------------------------------------

let recordingsAsked = 0;
async function refreshRecordings() {
  clearTimeout(pollTimer);
  const asked = ++recordingsAsked;
  try {
    const r = await getJson(`${apiBase}/recordings`);
    if (asked !== recordingsAsked) return; // a newer refresh (after a toggle) has the newer answer
    if (!el["rec-toggle"].dataset.busy) {
      el["rec-toggle"].checked = r.recording;
      el["rec-toggle"].disabled = false;
    }
    el["rec-summary"].textContent =
      `${r.recording ? "recording" : "not recording"} · ${r.frames} frames, ${fmt.bytes(r.bytes)} stored`;
    el["no-spans"].hidden = r.spans.length > 0;
    el["mode-recorded"].disabled = r.spans.length === 0;
    latest = r.spans.length ? r.spans[r.spans.length - 1].end : null;
    if (!view.chosen && latest !== null && view.start !== localDayStart(latest)) {
      showView(localDayStart(latest), view.length); // follow the newest recording until the user looks elsewhere
    } else {
      await loadTimeline();
    }
  } catch (e) {
    el["rec-summary"].textContent = `cannot load the recordings: ${e.message}`;
  }
  pollTimer = setTimeout(refreshRecordings, POLL_MS);
}

el["rec-toggle"].addEventListener("change", async () => {
  const toggle = el["rec-toggle"];
  const enabled = toggle.checked;
  toggle.disabled = true;
  toggle.dataset.busy = "1";
  recError("");
  try {
    toggle.checked = (await postJson(`${apiBase}/recording`, { enabled })).recording;
  } catch (e) {
    toggle.checked = !enabled;
    recError(`Could not turn recording ${enabled ? "on" : "off"}: ${e.message}`);
  }
  delete toggle.dataset.busy;
  toggle.disabled = false;
  refreshRecordings();
});

document.body.dataset.mode = "live";
view.start = localDayStart(Date.now() / 1000);
drawTimeline();
refreshRecordings();
refreshExports();
