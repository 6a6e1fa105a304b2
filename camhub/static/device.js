"use strict";
// One MJPEG stream for the big picture; stats come from the JSON API. A broken stream (hub restart, network)
// is reopened after a pause; a stream the hub ended because the camera stopped is reopened when the camera's
// frames come back. While the page shows recorded video (body data-mode="recorded", timeline.js) the live
// stream stays closed.
const id = decodeURIComponent(location.pathname.split("/")[2]);
const img = document.getElementById("live");
const streamPath = deviceUrl(id, "/stream.mjpg");
const snapshotPath = deviceUrl(id, "/snapshot.jpg");

function link(elId, path) {
  const a = document.getElementById(elId);
  a.href = path;
  a.textContent = new URL(path, location.href).href;
}
link("stream-url", streamPath);
link("snapshot-url", snapshotPath);

function openStream() {
  if (document.body.dataset.mode === "recorded") return;
  img.src = `${streamPath}?t=${Date.now()}`;
}
function closeStream() {
  img.removeAttribute("src");
}
img.addEventListener("error", () => {
  if (document.body.dataset.mode === "recorded") return;
  document.getElementById("caption").textContent = "stream interrupted, reconnecting…";
  setTimeout(openStream, 2000);
});
openStream();
let streaming = true; // whether the last refresh saw the camera sending frames
const LIVE_S = 3;

function row(dl, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

async function refresh() {
  try {
    const d = await getJson(`/api/v1/devices/${encodeURIComponent(id)}`);
    const now = Date.now() / 1000;
    document.title = `${d.name} · CamStream hub`;
    document.getElementById("name").textContent = d.name;
    const status = document.getElementById("status");
    status.textContent = d.status;
    status.dataset.online = String(d.online);
    const dl = document.getElementById("stats");
    dl.replaceChildren();
    row(dl, "device id", d.deviceId);
    row(dl, "IP address", d.ipAddress || "–");
    row(dl, "fps", fmt.fps(d.fps));
    row(dl, "frame", fmt.frame(d));
    row(dl, "extra latency", d.latencyMs == null ? "–" : `${d.latencyMs} ms`);
    row(dl, "last seen", fmt.ago(d.lastSeen, now));
    row(dl, "last heartbeat", fmt.ago(d.lastHeartbeat, now));
    row(dl, "RSSI", fmt.rssi(d.wifiRssi));
    row(dl, "free heap", fmt.bytes(d.freeHeap));
    row(dl, "uptime", fmt.duration(d.uptimeMs));
    row(dl, "frames", String(d.frames));
    row(dl, "data", fmt.bytes(d.bytes));
    row(dl, "dropped (seq gaps)", String(d.drops));
    row(dl, "rejected", String(d.rejects));
    row(dl, "viewers", String(d.viewers));
    row(dl, "capabilities", d.capabilities.join(", ") || "–");
    const live = d.online && d.lastFrameAt != null && now - d.lastFrameAt < LIVE_S;
    if (live && !streaming) openStream();
    streaming = live;
    let caption = "waiting for the first frame…";
    if (d.lastFrameAt && !live) caption = `camera stopped sending: last frame ${fmt.ago(d.lastFrameAt, now)}`;
    else if (d.lastFrameAt) caption = `frame #${d.lastFrameSeq ?? "?"} received ${fmt.ago(d.lastFrameAt, now)}`;
    document.getElementById("caption").textContent = caption;
  } catch (e) {
    document.getElementById("caption").textContent = `Cannot reach the hub: ${e.message}`;
  }
  setTimeout(refresh, 1000);
}
refresh();
