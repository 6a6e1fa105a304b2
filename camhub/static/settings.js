"use strict";
// The live view's Camera settings panel: what the hub wants this camera to use, what the camera runs now and,
// per setting, whether the camera applied it, has yet to hear of it, or refused it (with its reason). Changing
// them needs the operator password (HTTP Basic, sent with each change); `id` is the page's device (device.js).
(() => {
  const POLL_MS = 2000;
  const api = `/api/v1/devices/${encodeURIComponent(id)}/settings`;
  const el = Object.fromEntries(["set-form", "set-rows", "set-summary", "set-note", "set-password", "set-apply",
    "set-reset", "set-message"].map((k) => [k, document.getElementById(k)]));
  const inputs = new Map(); // setting -> its control
  const stateCells = new Map();
  const nowCells = new Map();
  let fields = null;
  let shownVersion = -1; // the desired version the controls show; -1: none yet
  let dirty = false; // the operator edited a control since: polling must not overwrite it

  function message(text, isError) {
    el["set-message"].textContent = text;
    el["set-message"].className = isError ? "error" : "muted";
    el["set-message"].hidden = !text;
  }

  function control(key, field) {
    let input;
    if (field.kind === "int") {
      input = document.createElement("input");
      input.type = "number";
      input.min = field.min;
      input.max = field.max;
      input.step = 1;
      input.placeholder = "camera's own";
    } else {
      input = document.createElement("select");
      const options = field.kind === "bool" ? [["true", "on"], ["false", "off"]] : field.choices.map((c) => [c, c]);
      for (const [value, label] of [["", "camera's own"], ...options]) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = label;
        input.append(option);
      }
    }
    input.id = `set-${key}`;
    input.dataset.key = key;
    input.addEventListener("input", () => { dirty = true; });
    return input;
  }

  function build(data) {
    fields = data.fields;
    for (const [key, field] of Object.entries(fields)) {
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      const label = document.createElement("label");
      label.textContent = field.label;
      label.title = field.help;
      const input = control(key, field);
      label.htmlFor = input.id;
      const now = document.createElement("td");
      now.className = "muted";
      const state = document.createElement("td");
      state.className = "set-state";
      for (const cell of [label, input]) {
        const td = document.createElement("td");
        td.append(cell);
        tr.append(td);
      }
      tr.append(now, state);
      el["set-rows"].append(tr);
      inputs.set(key, input);
      stateCells.set(key, state);
      nowCells.set(key, now);
    }
  }

  function fill(desired) {
    for (const [key, input] of inputs) {
      input.value = key in desired ? String(desired[key]) : "";
    }
    dirty = false;
  }

  function wanted() {
    const values = {};
    for (const [key, input] of inputs) {
      if (input.value === "") continue;
      const kind = fields[key].kind;
      values[key] = kind === "int" ? Number(input.value) : kind === "bool" ? input.value === "true" : input.value;
    }
    return values;
  }

  function shown(value) {
    return value === true ? "on" : value === false ? "off" : String(value);
  }

  function nowText(key, live, data) {
    const applied = data.reported ? data.reported.applied : {};
    if (key in live && live[key] != null && typeof live[key] !== "object") return shown(live[key]);
    if (key === "adapt" && live.adapt) return live.adapt.policy;
    if (key in applied) return shown(applied[key]);
    return "";
  }

  function render(data) {
    if (!fields) build(data);
    if (!dirty && data.version !== shownVersion) {
      fill(data.desired);
      shownVersion = data.version;
    }
    const live = data.live || {};
    for (const [key, cell] of stateCells) {
      const entry = data.state[key];
      cell.textContent = entry ? entry.state + (entry.reason ? `: ${entry.reason}` : "") : "";
      cell.dataset.state = entry ? entry.state : "";
      nowCells.get(key).textContent = nowText(key, live, data);
    }
    const adapt = live.adapt;
    const picture = live.frameSize ? `${live.frameSize} q${live.quality}` : "not reported yet";
    const rate = live.fps != null ? `, ${live.fps} fps of ${live.targetFps}` : "";
    const link = adapt && adapt.linkKBps ? `; link ~${adapt.linkKBps} KB/s` : "";
    const change = adapt && adapt.reason ? `; last change: ${adapt.reason}` : "";
    el["set-summary"].textContent = `now ${picture}${rate}${link}${change}`;
    const enabled = data.changes.enabled;
    const notes = [];
    if (!enabled) notes.push(data.changes.hint);
    if (!data.supported) notes.push("this camera's firmware does not take settings from the hub");
    el["set-note"].textContent = notes.join("; ");
    el["set-note"].hidden = !notes.length;
    for (const input of [...inputs.values(), el["set-password"], el["set-apply"], el["set-reset"]]) {
      input.disabled = !enabled;
    }
  }

  function basicAuth(password) {
    const bytes = new TextEncoder().encode(`operator:${password}`);
    return `Basic ${btoa(String.fromCharCode(...bytes))}`;
  }

  async function send(values) {
    message("", false);
    try {
      const r = await fetch(api, {
        method: "PUT",
        headers: { "Content-Type": "application/json", Authorization: basicAuth(el["set-password"].value) },
        body: JSON.stringify(values),
      });
      if (r.status === 401) throw new Error("wrong or missing operator password");
      const data = await jsonOf(r);
      dirty = false;
      shownVersion = -1;
      render(data);
      message(`version ${data.version} saved; the camera hears of it with its next heartbeat`, false);
    } catch (e) {
      message(`Not saved: ${e.message}`, true);
    }
  }

  el["set-form"].addEventListener("submit", (event) => {
    event.preventDefault();
    send(wanted());
  });
  el["set-reset"].addEventListener("click", () => send({}));

  async function poll() {
    try {
      render(await getJson(api));
    } catch (e) {
      el["set-summary"].textContent = `settings unavailable: ${e.message}`;
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
