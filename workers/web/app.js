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
  upload(form);
});

$("again").addEventListener("click", () => {
  if (pollTimer) { clearTimeout(pollTimer); clearInterval(pollTimer); }
  job = null;
  $("result-card").hidden = true;
  $("job-card").hidden = true;
  $("upload-progress").hidden = true;
  $("upload-form").reset();
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
  $("result-card").hidden = false;
  drawEmotion(report.emotion);
  showMusic(report.music, report.mix);
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
  $("result-title").focus?.();
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
  // valence (x) / arousal (y) in [-1, 1]
  const va = $("va-plot");
  va.replaceChildren();
  const c = 100, r = 85;
  va.append(el("rect", { x: c - r, y: c - r, width: 2 * r, height: 2 * r, class: "axis", fill: "none" }));
  va.append(el("line", { x1: c - r, y1: c, x2: c + r, y2: c, class: "axis" }));
  va.append(el("line", { x1: c, y1: c - r, x2: c, y2: c + r, class: "axis" }));
  va.append(el("text", { x: c + r - 44, y: c + 14 }, "valence"));
  va.append(el("text", { x: c + 4, y: c - r + 12 }, "arousal"));
  const v = Number(emotion.valence || 0), a = Number(emotion.arousal || 0);
  va.append(el("circle", { cx: (c + r * v).toFixed(1), cy: (c - r * a).toFixed(1), r: 7, class: "point" }));
  $("va-text").textContent = `valence ${v.toFixed(2)}, arousal ${a.toFixed(2)}` +
    (emotion.confidence !== undefined ? `, confidence ${Number(emotion.confidence).toFixed(2)}` : "");
}

function showMusic(music, mix) {
  music = music || {};
  $("track-title").textContent = music.title || music.track || "—";
  $("track-rule").textContent = music.rule || "";
  // Every track is credited where it is shown: the pick, and any other track the mix used (follow-mood).
  const credits = [music.credit || (music.title ? `'${music.title}' (no credit recorded)` : "")];
  for (const seg of music.segments || []) {
    if (seg.track !== music.track && seg.credit && !credits.includes(seg.credit)) credits.push(seg.credit);
  }
  $("track-credit").textContent = credits[0] ? "Music: " + credits.filter(Boolean).join("; ") : "";
  const ul = $("track-reasons");
  ul.replaceChildren();
  for (const reason of music.reasons || []) {
    const li = document.createElement("li");
    li.textContent = reason;
    ul.append(li);
  }
  if (mix) {
    $("mix-figures").textContent = `Loudness ${mix.integrated_lufs} LUFS, true peak ${mix.true_peak_dbtp} dBTP` +
      (mix.preset ? `, preset ${mix.preset}` : "");
  }
}
