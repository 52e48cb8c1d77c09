// Kokoro Inbox page: lists jobs with live progress, uploads books. No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("kokoro-token") || "";
tokenInput.addEventListener("change", () => { localStorage.setItem("kokoro-token", tokenInput.value); refresh(); });

function headers() {
  return tokenInput.value ? { Authorization: "Bearer " + tokenInput.value } : {};
}

async function getJSON(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) { $("token-box").open = true; throw new Error("This server needs an access token."); }
  if (!response.ok) throw new Error((await response.json()).detail.msg);
  return response.json();
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "";
  seconds = Math.round(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

function downloadUrl(job) {
  const token = tokenInput.value ? "?access_token=" + encodeURIComponent(tokenInput.value) : "";
  return "/download/" + job.job_id + token;
}

function renderJob(job) {
  const item = element("li", { "data-job": job.job_id, "data-status": job.status });
  const title = job.title || job.source || job.job_id;
  item.append(element("div", { class: "job-head" },
    element("span", { class: "job-title" }, title),
    element("span", { class: "badge " + job.status }, job.status)));
  const bits = [];
  if (job.settings && job.settings.voice) bits.push("voice " + job.settings.voice);
  if (job.status === "processing" && job.eta_seconds) bits.push("about " + clock(job.eta_seconds) + " left");
  if (job.audio_seconds) bits.push(clock(job.audio_seconds) + " of audio");
  item.append(element("div", { class: "meta" }, bits.join(" · ")));
  if (job.status === "queued" || job.status === "processing") {
    const bar = element("progress", { max: "100", value: String(job.progress || 0), "aria-label": "progress" });
    item.append(bar, element("div", { class: "meta percent" }, (job.progress || 0).toFixed(1) + "%"));
    const cancel = element("button", { class: "secondary", type: "button" }, "Cancel");
    cancel.addEventListener("click", async () => {
      await fetch("/jobs/" + job.job_id, { method: "DELETE", headers: headers() });
      refresh();
    });
    item.append(cancel);
  }
  if (job.status === "completed") {
    item.append(element("progress", { max: "100", value: "100", "aria-label": "progress" }),
      element("div", { class: "meta percent" }, "100%"),
      element("audio", { controls: "", preload: "none", src: downloadUrl(job) }),
      element("a", { href: downloadUrl(job), download: "" }, "Download MP3"));
  }
  if (job.error) item.append(element("p", { class: "error" }, job.error));
  return item;
}

async function refresh() {
  try {
    const { jobs } = await getJSON("/jobs");
    $("empty").hidden = jobs.length > 0;
    const list = $("jobs");
    const playing = new Set([...list.querySelectorAll("audio")].filter((a) => !a.paused).map((a) => a.closest("li").dataset.job));
    for (const job of jobs) {
      const old = list.querySelector(`li[data-job="${job.job_id}"]`);
      if (old && playing.has(job.job_id)) continue; // never interrupt a book being listened to
      const fresh = renderJob(job);
      if (old) old.replaceWith(fresh); else list.append(fresh);
    }
    const order = jobs.map((j) => j.job_id);
    [...list.children].sort((a, b) => order.indexOf(a.dataset.job) - order.indexOf(b.dataset.job)).forEach((li) => list.append(li));
  } catch (error) {
    $("message").textContent = error.message;
  }
}

async function fillPickers() {
  try {
    const [{ voices }, { languages }] = await Promise.all([getJSON("/voices"), getJSON("/languages")]);
    $("voice").replaceChildren(...voices.map((v) => element("option", { value: v }, v)));
    $("voice").value = "af_heart";
    $("lang").replaceChildren(...languages.map((l) => element("option", { value: l }, l)));
    $("lang").value = "en-us";
  } catch (error) {
    $("message").textContent = error.message;
  }
}

$("upload").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData($("upload"));
  const request = new XMLHttpRequest();
  const progress = $("upload-progress");
  request.open("POST", "/convert");
  for (const [key, value] of Object.entries(headers())) request.setRequestHeader(key, value);
  request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; });
  request.addEventListener("load", () => {
    progress.hidden = true;
    const body = JSON.parse(request.responseText || "{}");
    $("message").textContent = request.status === 202 ? "Queued." : (body.detail ? body.detail.msg : "Upload failed.");
    if (request.status === 202) $("upload").reset(), fillPickers();
    refresh();
  });
  request.addEventListener("error", () => { progress.hidden = true; $("message").textContent = "Upload failed."; });
  progress.hidden = false;
  progress.value = 0;
  request.send(form);
});

fillPickers();
refresh();
setInterval(refresh, 2000);
