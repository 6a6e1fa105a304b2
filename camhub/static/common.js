"use strict";
// Formatting shared by the dashboard and the live view; every value goes into textContent, never innerHTML.
const fmt = {
  ago(t, now) {
    if (t == null) return "never";
    const s = Math.max(0, now - t);
    if (s < 2) return "just now";
    if (s < 120) return `${Math.round(s)} s ago`;
    if (s < 7200) return `${Math.round(s / 60)} min ago`;
    return new Date(t * 1000).toLocaleString();
  },
  duration(ms) {
    if (ms == null) return "–";
    let s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400); s %= 86400;
    const h = Math.floor(s / 3600); s %= 3600;
    const m = Math.floor(s / 60); s %= 60;
    return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${s}s`;
  },
  bytes(n) {
    if (n == null) return "–";
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
    if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
    return `${(n / 1073741824).toFixed(2)} GiB`;
  },
  rssi(v) { return v == null ? "–" : `${v} dBm`; },
  fps(v) { return v ? v.toFixed(1) : "0"; },
  frame(d) { return d.width ? `${d.width}×${d.height}, ${fmt.bytes(d.frameBytes)}` : "–"; },
};

function deviceUrl(id, suffix) {
  return `/devices/${encodeURIComponent(id)}${suffix || ""}`;
}

async function getJson(url) {
  return jsonOf(await fetch(url, { cache: "no-store" }));
}

async function postJson(url, body) {
  return jsonOf(await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }));
}

// The body of a JSON response, or an Error carrying the hub's {"error": "..."} message.
async function jsonOf(r) {
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { msg = (await r.json()).error || msg; } catch (e) { /* body was not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}
