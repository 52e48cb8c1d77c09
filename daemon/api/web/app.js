// Kokoro Inbox page: lists jobs with live progress, uploads books. No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("kokoro-token") || "";
tokenInput.addEventListener("change", () => { localStorage.setItem("kokoro-token", tokenInput.value); refresh(); });

function headers() {
  return tokenInput.value ? { Authorization: "Bearer " + tokenInput.value } : {};
}

async function fetchOk(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) { $("token-box").open = true; throw new Error("This server needs an access token."); }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail ? body.detail.msg : "The server answered " + response.status + ".");
  }
  return response;
}

async function getJSON(path) {
  return (await fetchOk(path)).json();
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

function downloadUrl(job, part) {
  const query = [];
  if (part) query.push("part=" + part);
  if (tokenInput.value) query.push("access_token=" + encodeURIComponent(tokenInput.value));
  return "/download/" + job.job_id + (query.length ? "?" + query.join("&") : "");
}

// A book split into chapter files gets a link per file, named as the file is.
function downloadLinks(job) {
  const files = job.output_files && job.output_files.length ? job.output_files : [job.output_file];
  const kind = (name) => name.split(".").pop().toUpperCase();
  if (files.length === 1) return element("a", { href: downloadUrl(job), download: "" }, "Download " + kind(files[0]));
  const list = element("ol", { class: "parts" });
  files.forEach((name, index) => {
    const label = name.split("/").pop();
    list.append(element("li", {}, element("a", { href: downloadUrl(job, index + 1), download: "" }, label)));
  });
  return list;
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
  if (job.status === "queued" && job.waiting) item.append(element("div", { class: "meta waiting" }, job.waiting));
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
      downloadLinks(job));
  }
  if (job.error) item.append(element("p", { class: "error" }, job.error));
  return item;
}

// The list asks only for what it shows: the newest PAGE jobs, PAGE more per "Show more"
// (fetched with the cursor of the last page), and only jobs matching the search box.
const PAGE = 50, POLL_MAX = 500;
let shown = PAGE, nextCursor = null, search = "", generation = 0;

function jobsUrl(limit, cursor) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (search) params.set("q", search);
  if (cursor) params.set("cursor", cursor);
  return "/jobs?" + params.toString();
}

function place(list, jobs, playing) {
  for (const job of jobs) {
    const old = list.querySelector(`li[data-job="${job.job_id}"]`);
    if (old && playing.has(job.job_id)) continue; // never interrupt a book being listened to
    const fresh = renderJob(job);
    if (old) old.replaceWith(fresh); else list.append(fresh);
  }
}

async function refresh() {
  const asked = generation;
  try {
    const polled = Math.min(shown, POLL_MAX);
    const { jobs, next_cursor } = await getJSON(jobsUrl(polled));
    if (asked !== generation) return; // the search changed meanwhile
    const list = $("jobs");
    const playing = new Set([...list.querySelectorAll("audio")].filter((a) => !a.paused).map((a) => a.closest("li").dataset.job));
    const fresh = new Set(jobs.map((j) => j.job_id));
    // Rows past the polled window (more than POLL_MAX shown) stay as they are: old, finished books.
    const rows = [...list.children];
    rows.slice(0, polled).forEach((li) => { if (!fresh.has(li.dataset.job) && !playing.has(li.dataset.job)) li.remove(); });
    place(list, jobs, playing);
    const order = new Map(jobs.map((j, i) => [j.job_id, i]));
    const rank = (li) => order.has(li.dataset.job) ? order.get(li.dataset.job) : polled + [...rows].indexOf(li);
    [...list.children].sort((a, b) => rank(a) - rank(b)).forEach((li) => list.append(li));
    if (shown <= POLL_MAX) nextCursor = next_cursor;
    $("more").hidden = !nextCursor;
    $("empty").hidden = list.children.length > 0;
    $("empty").textContent = search ? "No books match “" + search + "”." : "No books yet. Upload one above, or drop it into the inbox folder.";
  } catch (error) {
    $("message").textContent = error.message;
  }
}

async function showMore() {
  if (!nextCursor) return;
  const asked = generation;
  try {
    const { jobs, next_cursor } = await getJSON(jobsUrl(PAGE, nextCursor));
    if (asked !== generation) return;
    place($("jobs"), jobs, new Set());
    shown += jobs.length;
    nextCursor = next_cursor;
    $("more").hidden = !nextCursor;
  } catch (error) {
    $("message").textContent = error.message;
  }
}

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    search = $("search").value.trim();
    generation += 1;
    shown = PAGE;
    nextCursor = null;
    $("jobs").replaceChildren();
    refresh();
  }, 300);
});
$("more").addEventListener("click", showMore);

let voiceDetails = [];  // from /voices: id, label ("Emma — British English, female"), lang, sample

async function fillPickers() {
  try {
    const [{ voices, details }, { languages }] = await Promise.all([getJSON("/voices"), getJSON("/languages")]);
    voiceDetails = details || voices.map((v) => ({ id: v, label: v, lang: "", sample: "/voices/" + v + "/sample" }));
    const names = Object.fromEntries(voiceDetails.map((d) => [d.lang, d.language]));
    $("lang").replaceChildren(...languages.map((l) => element("option", { value: l }, names[l] ? names[l] : l)));
    $("lang").value = "en-us";
    followLanguage("af_heart");
  } catch (error) {
    $("message").textContent = error.message;
  }
}

// The voices of the chosen language come first, and one of them is chosen; the others stay
// below (an American voice may read a British book).
function followLanguage(wanted) {
  wanted = wanted || $("voice").value;  // read before the options are rebuilt
  const lang = $("lang").value, english = lang.startsWith("en-");
  const rank = (d) => (d.lang === lang ? 0 : english && d.lang.startsWith("en-") ? 1 : 2);
  const groups = [[], [], []];
  for (const d of voiceDetails) groups[rank(d)].push(element("option", { value: d.id }, d.label));
  const titles = ["Voices for this language", "Other English voices", "Other languages"];
  $("voice").replaceChildren(...groups.flatMap((options, i) =>
    options.length ? [element("optgroup", { label: titles[i] }, ...options)] : []));
  const current = voiceDetails.find((d) => d.id === wanted);
  const fallback = voiceDetails.find((d) => d.lang === lang && d.default) || voiceDetails.find((d) => d.lang === lang);
  $("voice").value = current && rank(current) === 0 ? current.id : (fallback || voiceDetails[0]).id;
}

$("lang").addEventListener("change", () => followLanguage());

// A few seconds of the chosen voice; the first time the server makes it, answering 202 with
// Retry-After at once until it is there (it makes one at a time: a few may wait their turn).
const SAMPLE_PATIENCE_MS = 120000;
let sampleAudio = null;
$("listen").addEventListener("click", async () => {
  const detail = voiceDetails.find((d) => d.id === $("voice").value);
  if (!detail) return;
  $("listen").disabled = true;
  $("message").textContent = "Getting a sample of " + detail.label + "…";
  try {
    const deadline = Date.now() + SAMPLE_PATIENCE_MS;
    while (Date.now() < deadline) {
      const response = await fetch(detail.sample, { headers: headers() });
      if (response.status === 202) {
        $("message").textContent = "Making a sample of " + detail.label + "…";
        await new Promise((done) => setTimeout(done, 1000 * Number(response.headers.get("Retry-After"))));
        continue;
      }
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.detail ? body.detail.msg : "The server answered " + response.status + ".");
      }
      if (sampleAudio) URL.revokeObjectURL(sampleAudio.src);
      sampleAudio = new Audio(URL.createObjectURL(await response.blob()));
      $("message").textContent = "";
      await sampleAudio.play();
      return;
    }
    throw new Error("The sample is taking long; try again in a minute.");
  } catch (error) {
    $("message").textContent = error.message;
  } finally {
    $("listen").disabled = false;
  }
});

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

// The feed's address, with its read-only token when the server has one: the feed names
// itself (atom:link rel="self"), so it is asked for only when someone opens "Podcast".
$("feed-box").addEventListener("toggle", async () => {
  if (!$("feed-box").open) return;
  try {
    const text = await (await fetchOk("/feed.xml")).text();
    const feed = new DOMParser().parseFromString(text, "application/xml");
    const self = [...feed.getElementsByTagNameNS("http://www.w3.org/2005/Atom", "link")]
      .find((link) => link.getAttribute("rel") === "self");
    if (self) $("feed").href = $("feed").textContent = self.getAttribute("href");
  } catch (error) {
    $("feed").textContent = error.message;
  }
});

fillPickers();
refresh();
function bytes(count) {
  return count >= 2 ** 30 ? (count / 2 ** 30).toFixed(1) + " GB" : Math.round(count / 2 ** 20) + " MB";
}

async function showDisk() {
  try {
    const response = await fetch("/health");
    const free = (await response.json()).disk_free_bytes || {};
    const parts = [];
    if (free.outbox !== undefined) parts.push(bytes(free.outbox) + " free for audiobooks");
    if (free.processing !== undefined && free.processing !== free.outbox) parts.push(bytes(free.processing) + " for work in progress");
    $("disk").textContent = parts.join(", ");
  } catch (error) {
    $("disk").textContent = "";
  }
}

setInterval(refresh, 2000);
showDisk();
setInterval(showDisk, 30000);
