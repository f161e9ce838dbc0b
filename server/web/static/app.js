// jewel-retouch web page: drop photos (or a folder), pick a preset and settings, retouch each
// photo as a WebSocket job with live progress, compare before/after, download one or all.
// Protocol: docs/protocol.md (token, GET /v1/info, WebSocket job channel). Plain ES modules;
// the server's Content-Security-Policy allows only these files (no inline code or styles).

import { Cancelled, JobChannel, ServerError, TokenRefused } from "./channel.js";
import { buildSettings, optionsKey } from "./options.js";
import { Viewer } from "./viewer.js";

const TOKEN_KEY = "jewel-retouch-token";
const FORMATS = { png: "png", jpg: "jpeg", jpeg: "jpeg", tif: "tiff", tiff: "tiff", webp: "webp" };
const MIME = { png: "image/png", jpeg: "image/jpeg", tiff: "image/tiff", webp: "image/webp" };
const PREVIEWABLE = new Set(["png", "jpeg", "webp"]); // browsers do not draw TIFF
const THUMB_PX = 320;
const QUEUE_FULL_TRIES = 5;

const STATE_TEXT = {
  queued: "Queued",
  sending: "Uploading",
  running: "Retouching",
  done: "Done",
  warning: "Done, with a warning",
  failed: "Failed",
  cancelled: "Cancelled",
};

const $ = (id) => document.getElementById(id);
const page = {
  token: null,
  info: null,
  presets: [],
  settings: null,
  preset: "",
  jobs: [],
  queue: [],
  running: false,
  cancelRequested: false,
  channel: null,
  current: null,
  runOptions: null,
  selected: null,
  seq: 0,
  viewer: null,
};

// ---------------------------------------------------------------------------------- text

// Server and contract texts name commands between backticks; show them as code, not quotes.
function setRichText(element, text) {
  element.textContent = "";
  String(text)
    .split("`")
    .forEach((part, index) => {
      if (!part) return;
      if (index % 2) {
        const code = document.createElement("code");
        code.textContent = part;
        element.append(code);
      } else element.append(part);
    });
}

function plain(text) {
  return String(text).replace(/`/g, "");
}

// What the user reads for a server error code (docs/protocol.json "errors", via contract.js).
function errorText(code, message) {
  const known = window.JEWEL_CONTRACT.errors[code];
  let detail = (message || "").trim();
  if (!known) return detail || code || "unknown error";
  if (detail && !/[.!?]$/.test(detail)) detail += ".";
  return detail ? `${known.summary}: ${detail} ${known.advice}` : `${known.summary}. ${known.advice}`;
}

function setStatus(text, isError = false) {
  $("status").textContent = plain(text);
  $("status").classList.toggle("error", isError);
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------- token

function tokenFromFragment() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (!match) return null;
  // Drop the token from the address bar (and from history) once read.
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + page.token } });
  if (response.status === 401) throw new TokenRefused("the server refused this token");
  const body = await response.json().catch(() => null);
  if (!response.ok && !(body && body.error)) {
    throw new Error(`The server answered ${response.status} ${response.statusText} for ${path}.`);
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    throw new Error(errorText(error.code, error.message || response.statusText));
  }
  return body;
}

function askForToken(message) {
  $("app").hidden = true;
  $("problem-panel").hidden = true;
  $("token-panel").hidden = false;
  document.body.dataset.screen = "token";
  const error = $("token-error");
  error.hidden = !message;
  error.textContent = message || "";
  setStatus(message ? "The access token was refused" : "Access token needed", Boolean(message));
  $("token-input").value = "";
  $("token-input").focus();
}

function showProblem(message) {
  $("app").hidden = true;
  $("token-panel").hidden = true;
  $("problem-panel").hidden = false;
  document.body.dataset.screen = "problem";
  setRichText($("problem-detail"), message);
  setStatus("Cannot reach the server", true);
  $("problem-retry").focus();
}

async function connectWith(token) {
  page.token = token;
  setStatus("Connecting to the server...");
  try {
    page.info = await api("/v1/info");
    page.presets = (await api("/web/presets.json")).presets || [];
  } catch (error) {
    if (error instanceof TokenRefused) {
      localStorage.removeItem(TOKEN_KEY);
      askForToken(
        "The server refused that token. Run jewel-retouch token again in the terminal, copy " +
          "the whole line it prints, and paste it below.",
      );
      return;
    }
    showProblem(error.message || String(error));
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("token-panel").hidden = true;
  $("problem-panel").hidden = true;
  $("app").hidden = false;
  document.body.dataset.screen = "app";
  page.settings = buildSettings($("options"), page.info.options || [], settingsChanged);
  page.settings.apply({});
  buildPresets(page.presets);
  const model = page.info.model ? `, model ${page.info.model.version}` : "";
  setStatus(`Connected: server ${page.info.version}${model}`);
  refresh();
  document.body.dataset.ready = "1";
}

// ---------------------------------------------------------------------------------- settings

function buildPresets(presets) {
  const box = $("presets");
  box.textContent = "";
  const all = [{ name: "", title: "Defaults", description: "The server's default settings." },
    ...presets];
  for (const preset of all) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "preset";
    button.dataset.preset = preset.name;
    button.textContent = preset.title || preset.name;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => choosePreset(preset.name));
    box.append(button);
  }
  choosePreset("");
}

function choosePreset(name) {
  const preset = page.presets.find((p) => p.name === name);
  page.preset = preset ? name : "";
  page.presetKey = null;
  page.settings.apply(preset ? preset.options : {});
  page.presetKey = currentKey();
  let text = preset ? preset.description || "" : "The server's default settings.";
  if (preset && preset.format) {
    text += " (Each result keeps its own file's format on this page.)";
  }
  $("preset-description").textContent = plain(text);
  markPreset();
  settingsChanged();
}

function currentKey() {
  try {
    return optionsKey(page.settings.read());
  } catch {
    return null;
  }
}

// The chosen preset stays highlighted; once a value is changed by hand it says so.
function markPreset() {
  const changed = page.presetKey !== null && currentKey() !== page.presetKey;
  for (const button of $("presets").querySelectorAll("button")) {
    const on = button.dataset.preset === page.preset;
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("changed", on && changed);
    button.title = on && changed ? "This preset, with your changes" : "";
  }
}

function settingsChanged() {
  if (!page.settings) return;
  markPreset();
  refresh();
}

function lockSettings(locked) {
  $("settings-fieldset").disabled = locked;
  for (const button of $("presets").querySelectorAll("button")) button.disabled = locked;
  $("settings-lock").hidden = !locked;
  $("settings-panel").classList.toggle("locked", locked);
}

// ---------------------------------------------------------------------------------- files

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

// "shoot/ring.png" -> "shoot/ring_retouched.png" (the folder kept, for the zip).
export function retouchedName(path) {
  const slash = path.lastIndexOf("/");
  const folder = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return folder + base + "_retouched";
  return folder + base.slice(0, dot) + "_retouched" + base.slice(dot);
}

// "shoot/ring.png" + "white_gold" -> "shoot/ring_white_gold.png" (docs/protocol.md, "Metal
// variants").
export function variantName(path, metal) {
  const slash = path.lastIndexOf("/");
  const folder = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return folder + base + "_" + metal;
  return folder + base.slice(0, dot) + "_" + metal + base.slice(dot);
}

function metalTitle(metal) {
  const words = metal.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// A download link for each metal variant of a finished job.
function variantLinks(job, className) {
  return (job.variants || []).map((variant) => {
    const link = document.createElement("a");
    link.className = className;
    link.dataset.variant = variant.name;
    link.textContent = metalTitle(variant.name);
    link.title = `Download the ${variant.name.replace(/_/g, " ")} version`;
    link.href = variant.url;
    link.download = variantName(job.path.split("/").pop(), variant.name);
    return link;
  });
}

function uniquePath(path) {
  const taken = new Set(page.jobs.map((job) => job.path));
  if (!taken.has(path)) return path;
  const dot = path.lastIndexOf(".");
  const stem = dot > path.lastIndexOf("/") ? path.slice(0, dot) : path;
  const ext = dot > path.lastIndexOf("/") ? path.slice(dot) : "";
  for (let n = 2; ; n++) {
    const candidate = `${stem} (${n})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function addFiles(files) {
  const added = [];
  for (const { file, path: rawPath } of files) {
    if (rawPath.split("/").some((part) => part.startsWith("."))) continue; // hidden files
    const path = uniquePath(rawPath);
    const format = FORMATS[extensionOf(path)] || null;
    const job = {
      id: ++page.seq,
      file,
      path,
      format,
      status: "queued",
      result: null,
      resultUrl: null,
      beforeUrl: null,
      warnings: [],
      doneKey: null,
      error: null,
    };
    job.card = makeCard(job);
    page.jobs.push(job);
    added.push(job);
    if (!format) fail(job, "Not a PNG, JPEG, TIFF or WebP file: it is skipped.", false);
    else {
      makeThumbnail(job, file);
      // Photos dropped while a batch runs join it (with the settings it runs with).
      if (page.running) enqueue(job);
    }
  }
  if (added.length) {
    $("drop-zone").classList.add("compact");
    if (!page.selected) selectJob(added.find((job) => job.format) || added[0]);
  }
  refresh();
}

// Folders dropped on the page: walk their entries recursively, keeping relative paths.
async function filesFromDrop(dataTransfer) {
  const out = [];
  const entries = [...dataTransfer.items]
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (!entries.length) {
    return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  }
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((ok, bad) => entry.file(ok, bad));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
        if (!batch.length) break;
        for (const child of batch) await walk(child, prefix + entry.name + "/");
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return out;
}

// ---------------------------------------------------------------------------------- cards

function makeCard(job) {
  const card = document.createElement("li");
  card.className = "card";
  card.tabIndex = 0;
  card.dataset.path = job.path;
  const thumb = document.createElement("div");
  thumb.className = "thumb";
  const placeholder = document.createElement("span");
  placeholder.className = "thumb-placeholder";
  placeholder.textContent = (extensionOf(job.path) || "?").toUpperCase();
  thumb.append(placeholder);
  const flag = document.createElement("span");
  flag.className = "thumb-flag";
  flag.setAttribute("aria-hidden", "true");
  thumb.append(flag);
  const name = document.createElement("p");
  name.className = "card-name";
  name.textContent = job.path.split("/").pop();
  name.title = job.path;
  const state = document.createElement("p");
  state.className = "state";
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.dataset.events = "0";
  bar.setAttribute("aria-label", "progress of " + job.path);
  const message = document.createElement("p");
  message.className = "card-message";
  const actions = document.createElement("div");
  actions.className = "card-actions";
  card.append(thumb, name, state, bar, message, actions);
  card.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) return;
    selectJob(job, true);
  });
  card.addEventListener("keydown", (event) => cardKey(event, job));
  $("grid").append(card);
  Object.assign(job, { card, thumb, stateEl: state, bar, messageEl: message, actions });
  setState(job, "queued");
  return card;
}

function cardKey(event, job) {
  if (event.target !== job.card) return;
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    selectJob(job, true);
    return;
  }
  const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  if (event.key in moves || event.key === "Home" || event.key === "End") {
    event.preventDefault();
    const index = page.jobs.indexOf(job);
    let next = index + (moves[event.key] || 0);
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = page.jobs.length - 1;
    const target = page.jobs[Math.max(0, Math.min(page.jobs.length - 1, next))];
    if (target) target.card.focus();
  }
}

// state: queued | sending | running | done | warning | failed | cancelled
function setState(job, state, detail) {
  job.state = state;
  job.card.dataset.state = state;
  let text = STATE_TEXT[state] || state;
  if (state === "running" && detail !== undefined) text += ` ${Math.round(detail * 100)} %`;
  if (state === "warning") {
    text = `Done, ${plural(job.warnings.length, "warning")}`;
  }
  if ((state === "done" || state === "warning") && isStale(job)) text += " (older settings)";
  job.stateEl.textContent = text;
  job.stateEl.className = "state state-" + state;
  job.card.classList.toggle("stale", (state === "done" || state === "warning") && isStale(job));
  job.card.setAttribute("aria-label", `${job.path}: ${text}`);
  job.bar.hidden = !(state === "sending" || state === "running");
  if (page.selected === job) showViewerState(job);
}

function isStale(job) {
  return job.doneKey !== null && page.settings && job.doneKey !== currentKey();
}

function fail(job, message, canRetry = true) {
  job.status = "failed";
  job.error = message;
  job.card.dataset.status = "failed";
  setRichText(job.messageEl, message);
  job.messageEl.title = plain(message);
  setState(job, "failed");
  setActions(job, canRetry);
  if (page.selected === job) selectJob(job);
}

function setActions(job, canRetry = true) {
  job.actions.textContent = "";
  if (job.status === "failed" && canRetry && job.format) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry secondary small";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => retryJob(job));
    job.actions.append(retry);
  }
  if (job.resultUrl) {
    const link = document.createElement("a");
    link.className = "download button secondary small";
    link.textContent = "Download";
    link.href = job.resultUrl;
    link.download = retouchedName(job.path.split("/").pop());
    job.actions.append(link);
    job.actions.append(...variantLinks(job, "variant-download button secondary small"));
  }
}

// A small picture of the photo for its card (decoded at thumbnail size, one at a time).
let thumbnails = Promise.resolve();
function makeThumbnail(job, blob) {
  thumbnails = thumbnails.then(async () => {
    if (!page.jobs.includes(job) || !window.createImageBitmap) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob, { resizeWidth: THUMB_PX, resizeQuality: "medium" });
    } catch {
      return; // TIFF or a damaged file: the card keeps its placeholder
    }
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    const old = job.thumb.querySelector("canvas");
    if (old) old.remove();
    job.thumb.prepend(canvas);
    job.thumb.classList.add("has-image");
  });
}

// ---------------------------------------------------------------------------------- running

function readOptions() {
  page.settings.clearErrors();
  try {
    return page.settings.read();
  } catch (error) {
    page.settings.markError(error);
    setStatus(error.message, true);
    return null;
  }
}

// What "Retouch" would run now: every photo not done, and done ones whose settings changed.
function pendingJobs() {
  const key = currentKey();
  return page.jobs.filter(
    (job) => job.format && (job.status !== "done" || (key !== null && job.doneKey !== key)),
  );
}

function enqueue(job) {
  if (page.queue.includes(job) || page.current === job) return;
  page.queue.push(job);
  job.status = "queued";
  delete job.card.dataset.status;
  job.messageEl.textContent = "";
  setState(job, "queued");
}

function startRun(jobs) {
  if (page.running) {
    for (const job of jobs) enqueue(job);
    refresh();
    return;
  }
  const options = readOptions();
  if (!options) return;
  page.runOptions = options;
  page.runKey = optionsKey(options);
  for (const job of jobs) enqueue(job);
  runQueue();
}

function retryJob(job) {
  startRun([job]);
}

async function runQueue() {
  page.running = true;
  page.cancelRequested = false;
  lockSettings(true);
  refresh();
  let index = 0;
  while (page.queue.length && !page.cancelRequested) {
    const job = page.queue.shift();
    index += 1;
    page.current = job;
    setStatus(`Retouching ${index} of ${index + page.queue.length}: ${job.path}`);
    try {
      if (!page.channel || !page.channel.usable) {
        page.channel = new JobChannel(page.info.websocket.url, page.token);
        await page.channel.open();
      }
      await runOne(page.channel, job);
    } catch (error) {
      if (error instanceof Cancelled || page.cancelRequested) {
        job.status = "cancelled";
        setState(job, "cancelled");
        setActions(job);
      } else if (error instanceof TokenRefused) {
        fail(job, "The server refused the access token.");
        page.current = null;
        finishRun("The server refused the access token.");
        localStorage.removeItem(TOKEN_KEY);
        askForToken(
          "The server refused the token this page had. Run jewel-retouch token again and " +
            "paste the line it prints below.",
        );
        return;
      } else if (error instanceof ServerError) {
        fail(job, errorText(error.code, error.message));
      } else {
        fail(job, error.message || String(error));
      }
      if (page.channel && !page.channel.usable) page.channel = null;
    }
    page.current = null;
  }
  finishRun();
}

function finishRun(reason) {
  const cancelled = page.cancelRequested;
  for (const job of page.queue) setState(job, "queued");
  page.queue = [];
  if (page.channel) page.channel.close();
  page.channel = null;
  page.running = false;
  page.cancelRequested = false;
  lockSettings(false);
  const done = page.jobs.filter((job) => job.status === "done").length;
  const failed = page.jobs.filter((job) => job.status === "failed").length;
  if (reason) setStatus(reason, true);
  else if (cancelled) setStatus(`Cancelled: ${done} retouched, ${failed} failed`);
  else setStatus(`Finished: ${done} retouched, ${failed} failed`, failed > 0);
  document.body.dataset.finished = String(Number(document.body.dataset.finished || 0) + 1);
  for (const job of page.jobs) if (job.status === "done") setState(job, job.state);
  refresh();
}

function cancelRun() {
  if (!page.running) return;
  page.cancelRequested = true;
  for (const job of page.queue) setState(job, "queued");
  page.queue = [];
  setStatus("Cancelling...");
  if (page.current && page.channel) page.channel.cancel(jobId(page.current));
  refresh();
}

function jobId(job) {
  return `web-${job.id}-${job.attempt || 0}`;
}

async function runOne(channel, job) {
  job.attempt = (job.attempt || 0) + 1;
  job.status = "running";
  job.error = null;
  job.messageEl.textContent = "";
  delete job.card.dataset.status;
  setActions(job);
  setState(job, "sending");
  job.bar.value = 0;
  const bytes = new Uint8Array(await job.file.arrayBuffer());
  const onProgress = (stage, fraction) => {
    job.bar.value = fraction;
    job.bar.dataset.events = String(Number(job.bar.dataset.events) + 1);
    setState(job, "running", fraction);
    job.stage = stage;
  };
  let answer;
  for (let attempt = 0; ; attempt++) {
    try {
      answer = await channel.run(jobId(job), bytes, job.format, page.runOptions, onProgress);
      break;
    } catch (error) {
      // A full queue is temporary: wait as the server asks, then send again.
      if (!(error instanceof ServerError) || error.code !== "queue_full" ||
          attempt >= QUEUE_FULL_TRIES || page.cancelRequested) {
        throw error;
      }
      job.stateEl.textContent = "Server busy, waiting";
      await new Promise((ok) => setTimeout(ok, 1000 * (error.retryAfter || 1)));
    }
  }
  if (job.resultUrl) URL.revokeObjectURL(job.resultUrl);
  for (const variant of job.variants || []) URL.revokeObjectURL(variant.url);
  job.result = answer.bytes;
  job.variants = (answer.parts || [])
    .filter((part) => part.kind === "variant")
    .map((part) => ({
      name: part.name,
      data: part.data,
      url: URL.createObjectURL(new Blob([part.data], { type: MIME[job.format] })),
    }));
  job.status = "done";
  job.card.dataset.status = "done";
  job.doneKey = page.runKey;
  job.doneOptions = page.runOptions;
  job.warnings = answer.warnings;
  job.card.dataset.warnings = answer.warnings.map((w) => w.code).join(" ");
  job.bar.value = 1;
  job.resultUrl = URL.createObjectURL(new Blob([job.result], { type: MIME[job.format] }));
  job.messageEl.textContent = answer.warnings.map((w) => w.message).join(" ");
  job.messageEl.title = job.messageEl.textContent;
  setState(job, answer.warnings.length ? "warning" : "done");
  setActions(job);
  if (PREVIEWABLE.has(job.format)) makeThumbnail(job, new Blob([job.result], { type: MIME[job.format] }));
  if (!page.selected || page.selected === job) selectJob(job);
  refresh();
}

// ---------------------------------------------------------------------------------- viewer

// byUser: a click or Enter on a card; the large view then scrolls into sight if it is not.
function selectJob(job, byUser = false) {
  if (page.selected && page.selected !== job) page.selected.card.removeAttribute("aria-current");
  page.selected = job;
  job.card.setAttribute("aria-current", "true");
  $("viewer-panel").hidden = false;
  $("viewer-name").textContent = job.path;
  if (!job.beforeUrl && job.format) job.beforeUrl = URL.createObjectURL(job.file);
  const before = PREVIEWABLE.has(job.format) ? job.beforeUrl : null;
  const after = PREVIEWABLE.has(job.format) ? job.resultUrl : null;
  const shown = { before, after };
  page.shown = shown;
  showViewerState(job);
  page.viewer.show(shown).then(() => {
    if (page.shown !== shown) return;
    describeCanvas(job);
  });
  describeCanvas(job);
  if (byUser) {
    const panel = $("viewer-panel").getBoundingClientRect();
    if (panel.top > innerHeight * 0.6 || panel.bottom < 0) {
      $("viewer-panel").scrollIntoView({ block: "nearest" });
    }
  }
}

function describeCanvas(job) {
  const note = $("viewer-note");
  const viewer = page.viewer;
  if (job.format && !PREVIEWABLE.has(job.format)) {
    note.textContent = "Browsers cannot draw TIFF files: download the result to look at it.";
  } else if (viewer.canvasChanged()) {
    const { before, after } = viewer.sizes;
    note.textContent =
      `Framing changed the canvas (${before.w} x ${before.h} px to ${after.w} x ${after.h} px): ` +
      "the original is shown whole inside the new canvas, at its own proportions.";
  } else note.textContent = "";
  $("viewer").dataset.canvasChanged = viewer.canvasChanged() ? "1" : "0";
}

function showViewerState(job) {
  const state = $("viewer-state");
  state.textContent = job.stateEl.textContent;
  state.className = "state state-" + job.state;
  const message = $("viewer-message");
  const warnings = $("viewer-warnings-list");
  warnings.textContent = "";
  if (job.status === "failed") {
    setRichText(message, job.error || "Failed");
    message.hidden = false;
  } else if (job.format && !PREVIEWABLE.has(job.format)) {
    message.textContent = "Browsers cannot show TIFF files: " +
      (job.resultUrl ? "download the result to look at it." : "it is retouched all the same.");
    message.hidden = false;
  } else if (!job.resultUrl) {
    message.textContent = job.state === "cancelled" ? "Cancelled: not retouched." :
      job.state === "queued" ? "Not retouched yet." : "Retouching...";
    message.hidden = false;
  } else message.hidden = true;
  message.dataset.kind = job.status === "failed" ? "error" : "info";
  for (const warning of job.resultUrl ? job.warnings : []) {
    const line = document.createElement("li");
    line.dataset.code = warning.code;
    line.textContent = warning.message;
    warnings.append(line);
  }
  $("viewer-warnings").hidden = !warnings.childElementCount;
  showWarningsToggle();
  const download = $("viewer-download");
  download.hidden = !job.resultUrl;
  if (job.resultUrl) {
    download.href = job.resultUrl;
    download.download = retouchedName(job.path.split("/").pop());
  }
  $("viewer-variants").replaceChildren(
    ...(job.resultUrl ? variantLinks(job, "variant-download button secondary") : []),
  );
  $("viewer-retry").hidden = !(job.status === "failed" && job.format);
}

// The warnings sit on the image; the user may fold them away to see what is under them.
function showWarningsToggle() {
  const count = $("viewer-warnings-list").childElementCount;
  const folded = Boolean(page.warningsFolded);
  $("viewer-warnings").classList.toggle("folded", folded);
  $("warnings-toggle").setAttribute("aria-expanded", String(!folded));
  $("warnings-toggle").textContent = folded ? `Show ${plural(count, "warning")}` : "Hide";
}

// ---------------------------------------------------------------------------------- wiring

function refresh() {
  const pending = page.settings ? pendingJobs() : [];
  const done = page.jobs.filter((job) => job.status === "done");
  const run = $("run");
  const stale = pending.filter((job) => job.status === "done").length;
  if (page.running) run.textContent = "Retouching...";
  else if (!pending.length) run.textContent = done.length ? "All up to date" : "Retouch";
  else if (stale === pending.length) run.textContent = `Re-run ${plural(stale, "photo")} with these settings`;
  else run.textContent = `Retouch ${plural(pending.length, "photo")}`;
  run.disabled = page.running || !pending.length;
  $("toolbar").hidden = !page.jobs.length; // nothing to act on before the first photo
  $("cancel").hidden = !page.running;
  $("cancel").disabled = page.cancelRequested;
  $("clear").disabled = page.running || !page.jobs.length;
  $("download-zip").disabled = page.running || !done.length;
  for (const job of done) {
    if (job.state === "done" || job.state === "warning") {
      const wasStale = job.card.classList.contains("stale");
      if (wasStale !== isStale(job)) setState(job, job.state);
    }
  }
  const counts = {};
  for (const job of page.jobs) counts[job.state] = (counts[job.state] || 0) + 1;
  const parts = [];
  const ok = (counts.done || 0) + (counts.warning || 0);
  if (ok) parts.push(`${ok} done` + (counts.warning ? ` (${counts.warning} with warnings)` : ""));
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.queued) parts.push(`${counts.queued} queued`);
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  $("summary").textContent = page.jobs.length
    ? `${plural(page.jobs.length, "photo")}: ${parts.join(", ")}`
    : "";
}

function downloadZip() {
  const entries = page.jobs
    .filter((job) => job.status === "done")
    .flatMap((job) => [
      { name: retouchedName(job.path), data: job.result },
      ...(job.variants || []).map((v) => ({ name: variantName(job.path, v.name), data: v.data })),
    ]);
  const link = document.createElement("a");
  const url = URL.createObjectURL(window.makeZip(entries));
  link.href = url;
  link.download = "jewel-retouch-results.zip";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function clearJobs() {
  for (const job of page.jobs) {
    if (job.resultUrl) URL.revokeObjectURL(job.resultUrl);
    if (job.beforeUrl) URL.revokeObjectURL(job.beforeUrl);
    for (const variant of job.variants || []) URL.revokeObjectURL(variant.url);
  }
  page.jobs = [];
  page.selected = null;
  $("grid").textContent = "";
  $("viewer-panel").hidden = true;
  $("drop-zone").classList.remove("compact");
  refresh();
}

function wireDrops() {
  const zone = $("drop-zone");
  // A drop anywhere on the page adds the photos (instead of the browser opening one).
  document.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    zone.classList.add("over");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) zone.classList.remove("over");
  });
  document.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if ($("app").hidden) return;
    addFiles(await filesFromDrop(event.dataTransfer));
  });
  // A click on the empty part of the zone opens the file chooser too (the buttons are the
  // keyboard's way in).
  zone.addEventListener("click", (event) => {
    if (event.target.closest("button")) return;
    $("file-input").click();
  });
  $("choose-files").addEventListener("click", () => $("file-input").click());
  $("choose-folder").addEventListener("click", () => $("folder-input").click());
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (token) connectWith(token);
  });
  $("problem-retry").addEventListener("click", () => connectWith(page.token));
  $("copy-command").addEventListener("click", async () => {
    const button = $("copy-command");
    try {
      await navigator.clipboard.writeText($("token-command").textContent);
      button.textContent = "Copied";
    } catch {
      // No clipboard access: select the command so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents($("token-command"));
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Press Ctrl+C";
    }
  });
  $("file-input").addEventListener("change", (event) => {
    addFiles([...event.target.files].map((file) => ({ file, path: file.name })));
    event.target.value = "";
  });
  $("folder-input").addEventListener("change", (event) => {
    addFiles([...event.target.files].map((file) => ({
      file,
      path: file.webkitRelativePath || file.name,
    })));
    event.target.value = "";
  });
  wireDrops();
  $("run").addEventListener("click", () => startRun(pendingJobs()));
  $("cancel").addEventListener("click", cancelRun);
  $("clear").addEventListener("click", clearJobs);
  $("download-zip").addEventListener("click", downloadZip);
  $("viewer-retry").addEventListener("click", () => page.selected && retryJob(page.selected));
  $("warnings-toggle").addEventListener("click", () => {
    page.warningsFolded = !page.warningsFolded;
    showWarningsToggle();
  });
  $("settings-form").addEventListener("submit", (event) => event.preventDefault());
  page.viewer = new Viewer({
    viewer: $("viewer"),
    before: $("before-img"),
    after: $("after-img"),
    paneAfter: $("pane-after"),
    divider: $("divider"),
    handle: $("handle"),
    zoomLabel: $("zoom-level"),
  });
  $("zoom-fit").addEventListener("click", () => page.viewer.fit());
  $("zoom-100").addEventListener("click", () => page.viewer.actualPixels());
  $("zoom-in").addEventListener("click", () => page.viewer.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => page.viewer.zoomBy(0.8));
}

wire();
// On a phone the presets come first and the full settings fold away (one tap opens them).
if (matchMedia("(max-width: 900px)").matches) $("settings-details").open = false;
const initialToken = tokenFromFragment() || localStorage.getItem(TOKEN_KEY);
if (initialToken) connectWith(initialToken);
else askForToken();
