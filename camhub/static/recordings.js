"use strict";
// The live view's Recordings section: turn recording on or off, list the recorded hourly spans, play one back
// (paced MJPEG) or download it. `id` is the device of the page (device.js).
const REC_POLL_MS = 2000;
const recApi = `/api/v1/devices/${encodeURIComponent(id)}`;
const recEl = Object.fromEntries(["rec-toggle", "rec-summary", "rec-error", "no-spans", "spans", "player",
  "player-title", "speed", "download", "playback", "player-caption"].map((k) => [k, document.getElementById(k)]));
let playing = null; // the span in the player
let drawnSpans = ""; // the list as last drawn: an unchanged list is not rebuilt under the user's pointer
let pollTimer = 0;

function spanTitle(span) {
  const a = new Date(span.start * 1000);
  const b = new Date(span.end * 1000);
  const end = a.toDateString() === b.toDateString() ? b.toLocaleTimeString() : b.toLocaleString();
  return `${a.toLocaleString()} – ${end}`;
}

function spanFacts(span) {
  return `${fmt.duration((span.end - span.start) * 1000)} · ${span.frames} frames · ${fmt.bytes(span.bytes)}`;
}

function recError(message) {
  recEl["rec-error"].textContent = message;
  recEl["rec-error"].hidden = !message;
}

function play(span) {
  playing = span;
  const range = `start=${encodeURIComponent(span.start)}&end=${encodeURIComponent(span.end)}`;
  recEl.playback.src = deviceUrl(id, `/playback.mjpg?${range}&speed=${recEl.speed.value}`);
  recEl.download.href = deviceUrl(id, `/recording.mjpg?${range}`);
  recEl["player-title"].textContent = spanTitle(span);
  recEl["player-caption"].textContent = spanFacts(span);
  recEl.player.hidden = false;
  for (const button of recEl.spans.querySelectorAll("button")) {
    button.setAttribute("aria-current", String(button.dataset.file === span.file));
  }
}

function drawSpans(spans) {
  const key = JSON.stringify(spans);
  if (key === drawnSpans) return;
  drawnSpans = key;
  recEl["no-spans"].hidden = spans.length > 0;
  recEl.spans.replaceChildren(...spans.slice().reverse().map((span) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.file = span.file;
    button.setAttribute("aria-current", String(playing !== null && playing.file === span.file));
    const title = document.createElement("span");
    title.textContent = spanTitle(span);
    const facts = document.createElement("span");
    facts.className = "muted";
    facts.textContent = spanFacts(span);
    button.append(title, facts);
    button.addEventListener("click", () => play(span));
    const li = document.createElement("li");
    li.append(button);
    return li;
  }));
}

async function refreshRecordings() {
  clearTimeout(pollTimer);
  try {
    const r = await getJson(`${recApi}/recordings`);
    if (!recEl["rec-toggle"].dataset.busy) {
      recEl["rec-toggle"].checked = r.recording;
      recEl["rec-toggle"].disabled = false;
    }
    recEl["rec-summary"].textContent =
      `${r.recording ? "recording" : "not recording"} · ${r.frames} frames, ${fmt.bytes(r.bytes)} stored`;
    drawSpans(r.spans);
  } catch (e) {
    recEl["rec-summary"].textContent = `cannot load the recordings: ${e.message}`;
  }
  pollTimer = setTimeout(refreshRecordings, REC_POLL_MS);
}

recEl["rec-toggle"].addEventListener("change", async () => {
  const toggle = recEl["rec-toggle"];
  const enabled = toggle.checked;
  toggle.disabled = true;
  toggle.dataset.busy = "1";
  recError("");
  try {
    toggle.checked = (await postJson(`${recApi}/recording`, { enabled })).recording;
  } catch (e) {
    toggle.checked = !enabled;
    recError(`Could not turn recording ${enabled ? "on" : "off"}: ${e.message}`);
  }
  delete toggle.dataset.busy;
  toggle.disabled = false;
  refreshRecordings();
});

recEl.speed.addEventListener("change", () => { if (playing) play(playing); });
recEl.playback.addEventListener("error", () => {
  recEl["player-caption"].textContent = "playback failed: this span may have been deleted by the retention limit";
});
refreshRecordings();
