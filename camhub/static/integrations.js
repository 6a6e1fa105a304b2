"use strict";
// The live view's "Set up a client" section: ready-to-paste settings for Home Assistant, go2rtc, Frigate, ffmpeg,
// VLC, GStreamer and OpenCV, made by the hub for this camera (`id` is the device of the page, device.js).
async function loadSnippets() {
  const box = document.getElementById("snippets");
  const problem = document.getElementById("int-error");
  try {
    const r = await getJson(`/api/v1/devices/${encodeURIComponent(id)}/integrations`);
    box.replaceChildren(...r.snippets.map((s) => {
      const item = document.createElement("details");
      item.dataset.client = s.client;
      const summary = document.createElement("summary");
      summary.textContent = s.title;
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      code.textContent = s.text;
      pre.append(code);
      const copy = document.createElement("button");
      copy.type = "button";
      copy.textContent = "copy";
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(s.text);
          copy.textContent = "copied";
        } catch (e) {
          copy.textContent = "select the text to copy it";
        }
        setTimeout(() => { copy.textContent = "copy"; }, 2000);
      });
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = s.note;
      item.append(summary, pre, copy, note);
      return item;
    }));
    problem.hidden = true;
  } catch (e) {
    problem.textContent = `Cannot load the client settings: ${e.message}`;
    problem.hidden = false;
  }
}
loadSnippets();
