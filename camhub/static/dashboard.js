"use strict";
// Thumbnails poll snapshot.jpg (ETag, so unchanged frames cost a 304) through a small shared pool of
// requests: a grid of any size stays well under the browser's ~6 connections per host, unlike one MJPEG per tile.
const THUMB_MS = 500;
const MAX_FETCHES = 2;
const tiles = new Map();
const queue = [];
let active = 0;

function pump() {
  while (active < MAX_FETCHES && queue.length) {
    const tile = queue.shift();
    if (!tiles.has(tile.id)) continue;
    active++;
    refreshThumb(tile).finally(() => {
      active--;
      setTimeout(() => { queue.push(tile); pump(); }, document.hidden ? 5000 : THUMB_MS);
      pump();
    });
  }
}

async function refreshThumb(tile) {
  try {
    const headers = tile.etag ? { "If-None-Match": tile.etag } : {};
    const r = await fetch(deviceUrl(tile.id, "/snapshot.jpg"), { headers, cache: "no-store" });
    if (r.status !== 200) return;
    tile.etag = r.headers.get("ETag");
    const url = URL.createObjectURL(await r.blob());
    const img = tile.el.querySelector("img");
    img.onload = () => { if (tile.url) URL.revokeObjectURL(tile.url); tile.url = url; };
    img.src = url;
    tile.el.classList.add("has-frame");
  } catch (e) {
    /* the hub is restarting or the network blinked: try again next round */
  }
}

function tileFor(device) {
  let tile = tiles.get(device.deviceId);
  if (!tile) {
    const el = document.getElementById("tile").content.firstElementChild.cloneNode(true);
    const link = deviceUrl(device.deviceId);
    el.querySelector(".thumb").href = link;
    el.querySelector(".name").href = link;
    el.dataset.device = device.deviceId;
    tile = { id: device.deviceId, el, etag: null, url: null };
    tiles.set(device.deviceId, tile);
    document.getElementById("grid").appendChild(el);
    queue.push(tile);
    pump();
  }
  return tile;
}

function render(data) {
  const now = data.serverTime;
  const seen = new Set();
  for (const d of data.devices) {
    seen.add(d.deviceId);
    const el = tileFor(d).el;
    el.dataset.online = String(d.online);
    el.querySelector(".name").textContent = d.name;
    el.querySelector(".name").title = d.deviceId;
    el.querySelector(".status").textContent = d.status;
    el.querySelector("img").alt = `latest frame from ${d.name}`;
    const values = {
      fps: fmt.fps(d.fps), lastSeen: fmt.ago(d.lastSeen, now), wifiRssi: fmt.rssi(d.wifiRssi),
      freeHeap: fmt.bytes(d.freeHeap), uptimeMs: fmt.duration(d.uptimeMs), frame: fmt.frame(d),
      counts: `${d.frames} / ${d.drops}`, viewers: String(d.viewers),
    };
    for (const dd of el.querySelectorAll("dd[data-k]")) dd.textContent = values[dd.dataset.k];
  }
  for (const [id, tile] of tiles) {
    if (!seen.has(id)) { tile.el.remove(); tiles.delete(id); }
  }
  const online = data.devices.filter((d) => d.online).length;
  document.getElementById("summary").textContent = `${data.devices.length} devices, ${online} online`;
  document.getElementById("version").textContent = data.version;
  document.getElementById("empty").hidden = data.devices.length > 0;
}

// Every page of the registry (the hub serves it 200 devices at a time).
async function allDevices() {
  const first = await getJson("/api/v1/devices");
  let page = first;
  while (page.next) {
    page = await getJson(page.next);
    first.devices.push(...page.devices);
  }
  return first;
}

async function refresh() {
  const error = document.getElementById("error");
  try {
    render(await allDevices());
    error.hidden = true;
  } catch (e) {
    error.textContent = `Cannot reach the hub: ${e.message}`;
    error.hidden = false;
  }
  setTimeout(refresh, 2000);
}

refresh();
