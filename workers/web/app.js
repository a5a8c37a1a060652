// moodmix web page: upload with progress (XHR), poll the job, then draw the report. No libraries, no CDN.
"use strict";

const LABELS = ["sadness", "joy", "love", "anger", "fear", "surprise"];
const STAGE_TEXT = {
  queued: "Waiting for a worker…", decode: "Reading the media…", vad: "Finding the speech…",
  separate: "Separating the voice…", emotion: "Listening to the emotion…", select: "Choosing the music…",
  fit: "Fitting the music to the length…", mix: "Ducking and levelling…", render: "Rendering the file…",
  retrying: "A hiccup on the server; trying again…", done: "Done.", failed: "Failed.",
};
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

let job = null; // {id, token}
let pollTimer = null;
let current = { track: null, musicDb: 0, version: 1 }; // what the newest version uses
let remixing = false;
let levelTimer = null;
// Where each emotion sits on the mood map (valence, arousal), as the models place them (models/mapping.py).
const LABEL_VA = { sadness: [-0.7, -0.45], joy: [0.8, 0.45], love: [0.75, 0.05], anger: [-0.65, 0.75],
  fear: [-0.7, 0.6], surprise: [0.3, 0.75] };
const LABEL_COLOR = { sadness: "#4c6ef5", joy: "#f59f00", love: "#e64980", anger: "#e03131", fear: "#7048e8",
  surprise: "#0ca678" };

// ---- the form's presets, defaults and ranges come from the server (GET /options): one definition -----------
async function loadOptions() {
  try {
    const r = await fetch("/options");
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const opts = await r.json();
    const select = $("preset");
    select.replaceChildren();
    for (const p of opts.presets) {
      const name = p.name.charAt(0).toUpperCase() + p.name.slice(1);
      const option = new Option(`${name} (${p.description})`, p.name, false, p.name === opts.defaults.preset);
      select.append(option);
    }
    const lufs = $("target_lufs");
    lufs.min = opts.ranges.target_lufs.min;
    lufs.max = opts.ranges.target_lufs.max;
    if (!lufs.value) lufs.value = opts.defaults.target_lufs;
  } catch (err) {
    // The server applies its defaults to fields left empty; the form still works.
    $("preset").replaceChildren(new Option("Default preset", "", true, true));
  }
}
loadOptions();

// ---- the music choice on the upload form: pick for me, my own file, or a library track ----------------------
let libraryTracks = null;
for (const radio of document.querySelectorAll("input[name=music-mode]")) {
  radio.addEventListener("change", () => {
    const mode = musicMode();
    $("own-music").hidden = mode !== "own";
    $("library-picker").hidden = mode !== "library";
    if (mode === "library") loadLibrary();
  });
}
function musicMode() {
  return (document.querySelector("input[name=music-mode]:checked") || {}).value || "auto";
}
async function loadLibrary() {
  if (libraryTracks) return;
  try {
    const r = await fetch("/library");
    if (!r.ok) throw new Error((await r.json()).detail || `HTTP ${r.status}`);
    libraryTracks = await r.json();
  } catch (err) {
    $("library-list").replaceChildren(textItem(`The library could not be listed: ${err.message}`));
    return;
  }
  renderLibrary();
}
function textItem(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}
function renderLibrary() {
  const q = $("library-search").value.trim().toLowerCase();
  const list = $("library-list");
  const chosen = (document.querySelector("input[name=library-track]:checked") || {}).value;
  list.replaceChildren();
  let shown = 0;
  for (const t of libraryTracks || []) {
    const tempo = t.features && t.features.tempo ? `${Math.round(t.features.tempo)} BPM` : "";
    const moods = (t.tags || []).join(", ");
    const text = [t.title, moods, t.credit || ""].join(" ").toLowerCase();
    if (q && !text.includes(q)) continue;
    if (++shown > 200) break;
    const li = document.createElement("li");
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "library-track";
    input.value = t.id;
    input.checked = t.id === chosen;
    label.append(input, ` ${t.title}`);
    const info = document.createElement("div");
    info.className = "reasons";
    info.textContent = [moods && `mood: ${moods}`, tempo, t.credit].filter(Boolean).join(" · ");
    label.append(info);
    li.append(label);
    list.append(li);
  }
  if (!shown) list.append(textItem("No track matches."));
}
$("library-search").addEventListener("input", renderLibrary);

$("file").addEventListener("change", () => {
  const f = $("file").files[0];
  $("file-label").textContent = f ? `${f.name} (${(f.size / 1e6).toFixed(1)} MB)` : "Choose a voice track or video…";
  $("upload-button").disabled = !f;
});

$("upload-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = $("file").files[0];
  if (!f) return;
  const form = new FormData();
  form.append("file", f, f.name);
  for (const name of ["preset", "mood", "target_lufs", "format"]) {
    const v = $(name).value;
    if (v !== "") form.append(name, v);
  }
  form.append("follow_mood", $("follow_mood").checked ? "true" : "false");
  form.append("separate", $("separate").checked ? "true" : "false");
  const mode = musicMode();
  if (mode === "own") {
    const m = $("music-file").files[0];
    if (!m) { showError("choose your music file, or pick another music option"); return; }
    form.append("music", m, m.name);
  } else if (mode === "library") {
    const t = document.querySelector("input[name=library-track]:checked");
    if (!t) { showError("choose a track from the library, or pick another music option"); return; }
    form.append("track", t.value);
  }
  upload(form);
});

$("again").addEventListener("click", () => {
  if (pollTimer) { clearTimeout(pollTimer); clearInterval(pollTimer); }
  job = null;
  current = { track: null, musicDb: 0, version: 1 };
  $("music-level").value = "0";
  $("music-level-value").textContent = "0 dB";
  $("remix-status").textContent = "";
  $("result-card").hidden = true;
  $("job-card").hidden = true;
  $("upload-progress").hidden = true;
  $("upload-form").reset();
  $("own-music").hidden = true;
  $("library-picker").hidden = true;
  $("alternatives").replaceChildren();
  $("file-label").textContent = "Choose a voice track or video…";
  $("upload-button").disabled = true;
  $("player").replaceChildren();
  $("file").focus();
});

function upload(form) {
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/jobs");
  xhr.responseType = "json";
  $("upload-button").disabled = true;
  $("upload-progress").hidden = false;
  $("job-error").hidden = true;
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const pct = Math.round((100 * e.loaded) / e.total);
    $("upload-bar").value = pct;
    $("upload-pct").textContent = `${pct} %`;
  });
  xhr.addEventListener("load", () => {
    const body = xhr.response || {};
    if (xhr.status === 201) {
      job = { id: body.id, token: body.token };
      $("upload-bar").value = 100;
      $("upload-pct").textContent = "100 %";
      $("job-card").hidden = false;
      $("job-error").hidden = true;
      poll();
    } else {
      showError(body.detail || `upload failed (HTTP ${xhr.status})`);
      $("upload-button").disabled = false;
    }
  });
  xhr.addEventListener("error", () => {
    showError("the upload did not reach the server (too large, or the connection dropped)");
    $("upload-button").disabled = false;
  });
  xhr.send(form);
}

function showError(message) {
  $("job-card").hidden = false;
  $("job-error").hidden = false;
  $("job-error").textContent = message;
  $("job-stage").textContent = "Failed.";
}

async function poll() {
  if (!job) return;
  let status;
  try {
    const r = await fetch(`/jobs/${encodeURIComponent(job.id)}`, {
      headers: { Authorization: `Bearer ${job.token}` }, cache: "no-store",
    });
    if (!r.ok) throw new Error((await r.json()).detail || `HTTP ${r.status}`);
    status = await r.json();
  } catch (err) {
    pollTimer = setTimeout(poll, 2000); // server restarting: keep trying
    return;
  }
  const pct = Math.round(100 * (status.progress || 0));
  $("job-bar").value = pct;
  $("job-stage").textContent = `${STAGE_TEXT[status.stage] || status.stage} ${status.state === "running" ? pct + " %" : ""}`;
  if (status.state === "done") {
    showResult(status);
  } else if (status.state === "failed") {
    showError(status.error || "the job failed");
  } else {
    pollTimer = setTimeout(poll, 700);
  }
}

// The token travels only in the Authorization header: the player and the download use the short-lived signed
// links the done status carries (a URL ends up in logs and histories; these expire in minutes).
function resultUrl(status, download) {
  return download ? status.download_url : status.result_url;
}

// Fresh links before the old ones expire (the download link every 5 minutes; the player's when it fails).
async function freshStatus() {
  if (!job) return null;
  const r = await fetch(`/jobs/${encodeURIComponent(job.id)}`, {
    headers: { Authorization: `Bearer ${job.token}` }, cache: "no-store",
  });
  return r.ok ? r.json() : null;
}

function keepLinksFresh(player) {
  const refresh = async () => {
    const status = await freshStatus().catch(() => null);
    if (status && status.state === "done") $("download").href = resultUrl(status, true);
    return status;
  };
  pollTimer = setInterval(refresh, 5 * 60 * 1000);
  player.addEventListener("error", async () => {
    const status = await refresh();
    if (status && status.state === "done" && player.src !== location.origin + status.result_url) {
      const at = player.currentTime;
      player.src = resultUrl(status, false);
      player.currentTime = at;
    }
  });
}

function showResult(status) {
  const report = status.report || {};
  const first = !current.track;
  $("result-card").hidden = false;
  if (pollTimer) { clearTimeout(pollTimer); clearInterval(pollTimer); }
  drawEmotion(report.emotion);
  drawTimeline(report.emotion);
  showWords(report.emotion);
  showMusic(report.music, report.mix);
  current.track = (report.music || {}).track || null;
  current.version = status.version || 1;
  current.musicDb = Number((report.mix || {}).music_db || 0);
  $("music-level").value = String(current.musicDb);
  $("music-level-value").textContent = `${current.musicDb > 0 ? "+" : ""}${current.musicDb} dB`;
  loadAlternatives();
  const player = document.createElement(status.has_video ? "video" : "audio");
  player.controls = true;
  player.preload = "metadata";
  player.src = resultUrl(status, false);
  player.setAttribute("aria-label", "the mixed result");
  $("player").replaceChildren(player);
  const a = $("download");
  a.href = resultUrl(status, true);
  a.setAttribute("download", status.download_name || "");
  a.textContent = `Download ${status.download_name || ""}`.trim();
  keepLinksFresh(player);
  if (first) $("result-title").focus?.();
}

// ---- re-mix: another track, or the music louder/softer; a new version, the player reloads -----------------
async function remix(track, musicDb) {
  if (!job || remixing) return;
  remixing = true;
  setRemixControls(false);
  $("remix-status").textContent = "Mixing again…";
  try {
    const r = await fetch(`/jobs/${encodeURIComponent(job.id)}/remix`, {
      method: "POST", cache: "no-store",
      headers: { Authorization: `Bearer ${job.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ track, music_db: musicDb }),
    });
    const body = await r.json();
    if (r.status !== 202) throw new Error(body.detail || `HTTP ${r.status}`);
    const status = await waitVersion(body.version);
    $("remix-status").textContent = `Version ${body.version} is ready` +
      (status.remixes_left !== undefined ? ` (${status.remixes_left} more changes possible).` : ".");
    showResult(status);
  } catch (err) {
    $("remix-status").textContent = `Could not mix again: ${typeof err.message === "string" ? err.message : err}`;
    $("music-level").value = String(current.musicDb);
    $("music-level-value").textContent = `${current.musicDb} dB`;
  } finally {
    remixing = false;
    setRemixControls(true);
  }
}

async function waitVersion(version) {
  for (;;) {
    const status = await freshStatus();
    if (status) {
      const entry = (status.versions || []).find((v) => v.version === version);
      if (entry && entry.state === "failed") throw new Error(entry.error || "the re-mix failed");
      if (entry && entry.state === "done" && status.version === version) return status;
      if (entry) $("remix-status").textContent = `Mixing again… ${STAGE_TEXT[entry.stage] || entry.stage || ""}`;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

function setRemixControls(enabled) {
  for (const b of document.querySelectorAll("#alternatives button")) b.disabled = !enabled || b.dataset.inUse === "1";
  $("music-level").disabled = !enabled;
}

$("music-level").addEventListener("input", () => {
  const v = Number($("music-level").value);
  $("music-level-value").textContent = `${v > 0 ? "+" : ""}${v} dB`;
});
// Arrow keys move the slider a step at a time: mix again once it has rested for a moment.
$("music-level").addEventListener("change", () => {
  clearTimeout(levelTimer);
  levelTimer = setTimeout(() => {
    const v = Number($("music-level").value);
    if (v !== current.musicDb && current.track) remix(current.track, v);
  }, 700);
});

async function loadAlternatives() {
  const ul = $("alternatives");
  let alts = [];
  try {
    const r = await fetch(`/jobs/${encodeURIComponent(job.id)}/alternatives`, {
      headers: { Authorization: `Bearer ${job.token}` }, cache: "no-store",
    });
    if (r.ok) alts = await r.json();
  } catch (err) { /* the list stays empty */ }
  ul.replaceChildren();
  if (!alts.length) {
    ul.append(textItem("No other tracks were ranked for this mix (you chose the music)."));
    return;
  }
  for (const a of alts.slice(0, 6)) {
    const li = document.createElement("li");
    if (a.in_use) li.className = "in-use";
    const title = document.createElement("strong");
    title.textContent = a.title || a.track;
    li.append(title);
    if (a.in_use) li.append(" (in use)");
    const reasons = document.createElement("p");
    reasons.className = "reasons";
    reasons.textContent = (a.reasons || []).join("; ");
    const credit = document.createElement("p");
    credit.className = "reasons";
    credit.textContent = a.credit ? `Music: ${a.credit}` : "";
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = a.preview_url;
    audio.setAttribute("aria-label", `preview of ${a.title || a.track}`);
    const use = document.createElement("button");
    use.type = "button";
    use.className = "secondary use-track";
    use.dataset.track = a.track;
    use.dataset.inUse = a.in_use ? "1" : "0";
    use.textContent = a.in_use ? "In use" : "Use this one";
    use.setAttribute("aria-label", a.in_use ? `${a.title} is in use` : `Use ${a.title || a.track}`);
    use.disabled = a.in_use || remixing;
    use.addEventListener("click", () => remix(a.track, Number($("music-level").value)));
    li.append(reasons, credit, audio, use);
    ul.append(li);
  }
}

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawEmotion(emotion) {
  const bars = $("emotion-bars");
  const list = $("emotion-list");
  bars.replaceChildren();
  list.replaceChildren();
  if (!emotion || !emotion.labels) {
    bars.append(el("text", { x: 10, y: 100 }, "No speech found: no emotion to show."));
    $("va-plot").replaceChildren();
    $("va-text").textContent = "";
    return;
  }
  const rowH = 30, left = 70, width = 220;
  LABELS.forEach((label, i) => {
    const p = Math.max(0, Math.min(1, Number(emotion.labels[label] || 0)));
    const y = 10 + i * rowH;
    bars.append(el("text", { x: 0, y: y + 15 }, label));
    bars.append(el("rect", { x: left, y, width, height: 20, class: "axis", fill: "none" }));
    bars.append(el("rect", { x: left, y, width: (width * p).toFixed(1), height: 20, class: "bar" }));
    bars.append(el("text", { x: left + width + 4, y: y + 15 }, `${Math.round(100 * p)}%`));
    const li = document.createElement("li");
    li.textContent = `${label}: ${Math.round(100 * p)} percent`;
    list.append(li);
  });
  // the mood map: valence (x: negative ↔ positive), arousal (y: calm ↔ excited), each in [-1, 1]
  const va = $("va-plot");
  va.replaceChildren();
  const c = 120, r = 90;
  va.append(el("rect", { x: c - r, y: c - r, width: 2 * r, height: 2 * r, class: "axis", fill: "none" }));
  va.append(el("line", { x1: c - r, y1: c, x2: c + r, y2: c, class: "axis" }));
  va.append(el("line", { x1: c, y1: c - r, x2: c, y2: c + r, class: "axis" }));
  va.append(el("text", { x: c - r, y: c + r + 14 }, "← negative"));
  va.append(el("text", { x: c + r, y: c + r + 14, "text-anchor": "end" }, "positive →"));
  va.append(el("text", { x: c, y: c - r - 6, "text-anchor": "middle" }, "excited ↑"));
  va.append(el("text", { x: c, y: c + r + 28, "text-anchor": "middle" }, "calm ↓"));
  // label placement beside each emotion's dot (dx, dy, anchor), so that neighbours do not overlap
  const place = { sadness: [6, 3, "start"], joy: [-6, -4, "end"], love: [-6, 12, "end"], anger: [6, -4, "start"],
    fear: [6, 10, "start"], surprise: [6, -4, "start"] };
  for (const [label, [lv, la]] of Object.entries(LABEL_VA)) {
    const x = c + r * lv, y = c - r * la;
    const [dx, dy, anchor] = place[label];
    va.append(el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, class: "ref" }));
    va.append(el("text", { x: (x + dx).toFixed(1), y: (y + dy).toFixed(1), "font-size": "9",
      "text-anchor": anchor }, label));
  }
  const v = Number(emotion.valence || 0), a = Number(emotion.arousal || 0);
  va.append(el("circle", { cx: (c + r * v).toFixed(1), cy: (c - r * a).toFixed(1), r: 7, class: "point" }));
  $("va-text").textContent = `The voice sounds ${v >= 0.15 ? "positive" : v <= -0.15 ? "negative" : "neither positive nor negative"}` +
    ` and ${a >= 0.15 ? "excited" : a <= -0.15 ? "calm" : "neither calm nor excited"}` +
    (emotion.confidence !== undefined ? ` (how sure: ${Math.round(100 * Number(emotion.confidence))} %).` : ".");
}

function topLabel(labels) {
  let best = null;
  for (const k of LABELS) if (best === null || Number(labels[k] || 0) > Number(labels[best] || 0)) best = k;
  return best;
}

function fmtTime(s) {
  const m = Math.floor(s / 60), sec = Math.round(s - 60 * m);
  return `${m}:${String(sec).padStart(2, "0")}`;
}

function drawTimeline(emotion) {
  const svg = $("mood-timeline");
  const list = $("mood-timeline-list");
  svg.replaceChildren();
  list.replaceChildren();
  const tl = (emotion && emotion.timeline) || [];
  if (!tl.length) {
    svg.append(el("text", { x: 0, y: 30 }, "No stretches of speech to show."));
    return;
  }
  const end = Math.max(...tl.map((t) => Number(t.end))) || 1;
  const w = 600;
  for (const t of tl) {
    const label = topLabel(t.labels || {});
    const x = (w * Number(t.start)) / end, width = Math.max(2, (w * (Number(t.end) - Number(t.start))) / end);
    const rect = el("rect", { x: x.toFixed(1), y: 4, width: width.toFixed(1), height: 34, class: "seg",
      fill: LABEL_COLOR[label] || "#888" });
    rect.append(el("title", {}, `${fmtTime(Number(t.start))}–${fmtTime(Number(t.end))}: ${label}`));
    svg.append(rect);
    const li = document.createElement("li");
    li.textContent = `${fmtTime(Number(t.start))}–${fmtTime(Number(t.end))}: ${label}` + (t.text ? ` — “${t.text}”` : "");
    list.append(li);
  }
  svg.append(el("text", { x: 0, y: 54 }, "0:00"));
  svg.append(el("text", { x: w, y: 54, "text-anchor": "end" }, fmtTime(end)));
  let lx = 0;
  for (const label of LABELS) {
    svg.append(el("rect", { x: lx, y: 58, width: 9, height: 9, fill: LABEL_COLOR[label] }));
    svg.append(el("text", { x: lx + 12, y: 67, "font-size": "9" }, label));
    lx += 95;
  }
}

function showWords(emotion) {
  const words = (emotion && emotion.transcript) || "";
  $("words-panel").hidden = !words;
  $("transcript").textContent = words;
  const tr = (emotion && emotion.translation) || "";
  $("translation").hidden = !tr;
  $("translation").textContent = tr ? `In English: ${tr}` : "";
}

function showMusic(music, mix) {
  music = music || {};
  $("track-title").textContent = music.title || music.track || "—";
  // Every track is credited where it is shown: the pick, and any other track the mix used (follow-mood).
  const credits = [music.credit || (music.title ? `'${music.title}' (no credit recorded)` : "")];
  for (const seg of music.segments || []) {
    if (seg.track !== music.track && seg.credit && !credits.includes(seg.credit)) credits.push(seg.credit);
  }
  $("track-credit").textContent = music.track === "own-music" ? "Music: your own"
    : credits[0] ? "Music: " + credits.filter(Boolean).join("; ") : "";
  const ul = $("track-reasons");
  ul.replaceChildren();
  for (const reason of music.reasons || []) {
    const li = document.createElement("li");
    li.textContent = reason;
    ul.append(li);
  }
  if (mix) {
    const level = Number(mix.music_db || 0);
    $("mix-figures").textContent = `Loudness ${mix.integrated_lufs} LUFS, true peak ${mix.true_peak_dbtp} dBTP` +
      (mix.preset ? `, preset ${mix.preset}` : "") +
      (mix.speech_to_music_db !== null && mix.speech_to_music_db !== undefined
        ? `; the music sits ${Number(mix.speech_to_music_db).toFixed(0)} dB under the voice` : "") +
      (level ? ` (${level > 0 ? "+" : ""}${level} dB from the preset)` : "");
  }
}
