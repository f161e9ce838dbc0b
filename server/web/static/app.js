// jewel-retouch web page: pick images (or a folder), pick a preset and options, retouch each
// image as a WebSocket job with live progress, compare before/after, download one or all.
// Protocol: docs/protocol.md (token, GET /v1/info, WebSocket job channel). Plain JavaScript.
"use strict";

const TOKEN_KEY = "jewel-retouch-token";
const FRAME_BYTES = 1 << 20; // 1 MiB binary frames, as the protocol suggests
const FORMATS = { png: "png", jpg: "jpeg", jpeg: "jpeg", tif: "tiff", tiff: "tiff", webp: "webp" };
const MIME = { png: "image/png", jpeg: "image/jpeg", tiff: "image/tiff", webp: "image/webp" };
const PREVIEWABLE = new Set(["png", "jpeg", "webp"]); // browsers do not draw TIFF

const $ = (id) => document.getElementById(id);
const page = { token: null, info: null, presets: [], jobs: [], running: false, selected: null };

class TokenRefused extends Error {}

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
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${path}: ${message}`);
  }
  return body;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function askForToken(message) {
  $("app").hidden = true;
  $("token-panel").hidden = false;
  $("token-error").textContent = message || "";
  setStatus("token needed");
  $("token-input").focus();
}

async function connectWith(token) {
  page.token = token;
  try {
    page.info = await api("/v1/info");
    page.presets = (await api("/web/presets.json")).presets;
  } catch (error) {
    if (error instanceof TokenRefused) {
      localStorage.removeItem(TOKEN_KEY);
      askForToken("That token was refused. Copy it again from `jewel-retouch token`.");
      return;
    }
    setStatus("cannot reach the server: " + error.message, true);
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("token-panel").hidden = true;
  $("app").hidden = false;
  buildOptions(page.info.options);
  buildPresets(page.presets);
  setStatus(`ready (server ${page.info.version}, model ${page.info.model.version})`);
  document.body.dataset.ready = "1";
}

// ---------------------------------------------------------------------------------- options

function buildOptions(specs) {
  const box = $("options");
  box.textContent = "";
  for (const spec of specs) {
    const label = document.createElement("label");
    label.title = spec.description;
    label.append(spec.label + " ");
    let input;
    if (spec.type === "enum") {
      input = document.createElement("select");
      for (const choice of spec.choices) input.add(new Option(choice.replace(/_/g, " "), choice));
    } else {
      input = document.createElement("input");
      if (spec.type === "boolean") input.type = "checkbox";
      else {
        input.type = "number";
        input.step = spec.type === "integer" ? "1" : "0.005";
        if (spec.minimum !== undefined) input.min = spec.minimum;
        if (spec.maximum !== undefined) input.max = spec.maximum;
      }
    }
    input.id = "opt-" + spec.name;
    input.dataset.option = spec.name;
    label.append(input);
    box.append(label);
  }
  applyValues({});
}

function applyValues(values) {
  for (const spec of page.info.options) {
    const input = $("opt-" + spec.name);
    const value = spec.name in values ? values[spec.name] : spec.default;
    if (spec.type === "boolean") input.checked = Boolean(value);
    else input.value = String(value);
  }
}

function readOptions() {
  const options = {};
  for (const spec of page.info.options) {
    const input = $("opt-" + spec.name);
    if (spec.type === "boolean") options[spec.name] = input.checked;
    else if (spec.type === "enum") options[spec.name] = input.value;
    else {
      const number = Number(input.value);
      if (input.value === "" || !Number.isFinite(number)) {
        throw new Error(`${spec.label} must be a number`);
      }
      options[spec.name] = spec.type === "integer" ? Math.round(number) : number;
    }
  }
  return options;
}

function buildPresets(presets) {
  const select = $("preset");
  for (const preset of presets) select.add(new Option(preset.title, preset.name));
  select.addEventListener("change", () => {
    const preset = presets.find((p) => p.name === select.value);
    applyValues(preset ? preset.options : {});
    $("preset-description").textContent = preset
      ? preset.description + " (The page keeps each file's own format.)"
      : "";
  });
}

// ---------------------------------------------------------------------------------- files

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

function addFiles(files) {
  for (const { file, path } of files) {
    if (path.split("/").some((part) => part.startsWith("."))) continue; // hidden files
    const format = FORMATS[extensionOf(path)] || null;
    const job = { file, path, format, status: "waiting", result: null, resultUrl: null };
    job.row = makeRow(job);
    page.jobs.push(job);
    if (!format) fail(job, "not a PNG, JPEG, TIFF or WebP file");
  }
  refreshButtons();
}

function makeRow(job) {
  const row = document.createElement("tr");
  row.dataset.path = job.path;
  const name = document.createElement("td");
  name.className = "job-name";
  name.textContent = job.path;
  const progressCell = document.createElement("td");
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.dataset.events = "0";
  progressCell.append(bar);
  const status = document.createElement("td");
  status.className = "job-status";
  status.textContent = "waiting";
  const actions = document.createElement("td");
  actions.className = "job-actions";
  row.append(name, progressCell, status, actions);
  $("jobs").tBodies[0].append(row);
  job.bar = bar;
  job.statusCell = status;
  job.actions = actions;
  return row;
}

function fail(job, message) {
  job.status = "failed";
  job.error = message;
  job.row.classList.add("failed");
  job.row.dataset.status = "failed";
  job.statusCell.textContent = "error: " + message;
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

// ---------------------------------------------------------------------------------- jobs

// One WebSocket connection; jobs run one after another on it (docs/protocol.md).
class JobChannel {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.queue = [];
    this.waiting = null;
    this.closed = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onmessage = (event) => this.push(event.data);
      ws.onclose = (event) => {
        this.closed = `connection closed (${event.code}${event.reason ? ": " + event.reason : ""})`;
        this.push(null);
      };
      ws.onerror = () => reject(new Error("cannot open the WebSocket channel " + this.url));
      ws.onopen = async () => {
        ws.send(JSON.stringify({ type: "hello", token: this.token, client: "web/0.1.0" }));
        const answer = await this.next();
        if (answer && answer.type === "ready") resolve();
        else if (answer && answer.code === "unauthorized") reject(new TokenRefused(answer.message));
        else reject(new Error(answer ? answer.message : this.closed));
      };
    });
  }

  push(data) {
    let message = data;
    if (typeof data === "string") message = JSON.parse(data);
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(message);
    } else this.queue.push(message);
  }

  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => (this.waiting = resolve));
  }

  get usable() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  async run(id, bytes, format, options, onProgress) {
    const header = { type: "job", id, format, bytes: bytes.length, options, layers: false };
    this.ws.send(JSON.stringify(header));
    for (let at = 0; at < bytes.length; at += FRAME_BYTES) {
      this.ws.send(bytes.subarray(at, at + FRAME_BYTES));
    }
    let expected = null;
    const warnings = []; // lists from `result` and `done.info` (docs/protocol.json "warnings")
    const chunks = [];
    let received = 0;
    for (;;) {
      const message = await this.next();
      if (message === null) throw new Error(this.closed || "connection closed");
      if (message instanceof ArrayBuffer) {
        chunks.push(new Uint8Array(message));
        received += message.byteLength;
        continue;
      }
      if (message.id !== id && message.id !== null && message.id !== undefined) continue;
      if (message.type === "progress") onProgress(message.stage, message.fraction);
      else if (message.type === "result") {
        expected = message.parts.reduce((sum, part) => sum + part.bytes, 0);
        warnings.push(message.warnings);
      } else if (message.type === "done") {
        warnings.push(message.info && message.info.warnings);
        if (expected === null || received !== expected) {
          throw new Error(`incomplete result: ${received} of ${expected} bytes`);
        }
        const result = new Uint8Array(received);
        let offset = 0;
        for (const chunk of chunks) {
          result.set(chunk, offset);
          offset += chunk.length;
        }
        return { bytes: result, warnings: collectWarnings(warnings) };
      } else if (message.type === "error") {
        const error = new Error(errorText(message.code, message.message));
        error.code = message.code;
        error.retryAfter = message.retry_after;
        throw error;
      } else if (message.type === "cancelled") throw new Error("cancelled");
    }
  }

  close() {
    if (this.ws) this.ws.close();
  }
}

async function runAll() {
  let options;
  try {
    options = readOptions();
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  page.running = true;
  refreshButtons();
  let channel = null;
  const todo = page.jobs.filter((job) => job.status === "waiting");
  let index = 0;
  for (const job of todo) {
    index += 1;
    setStatus(`retouching ${index} of ${todo.length}: ${job.path}`);
    try {
      if (!channel || !channel.usable) {
        channel = new JobChannel(page.info.websocket.url, page.token);
        await channel.open();
      }
      await runOne(channel, job, options);
    } catch (error) {
      if (error instanceof TokenRefused) {
        fail(job, "token refused");
        askForToken("The server refused the token.");
        break;
      }
      fail(job, error.message);
    }
  }
  if (channel) channel.close();
  page.running = false;
  const done = page.jobs.filter((job) => job.status === "done").length;
  const failed = page.jobs.filter((job) => job.status === "failed").length;
  setStatus(`finished: ${done} retouched, ${failed} failed`, failed > 0);
  document.body.dataset.finished = String(Number(document.body.dataset.finished || 0) + 1);
  refreshButtons();
}

async function runOne(channel, job, options) {
  job.status = "running";
  job.statusCell.textContent = "sending";
  const bytes = new Uint8Array(await job.file.arrayBuffer());
  const onProgress = (stage, fraction) => {
    job.bar.value = fraction;
    job.bar.dataset.events = String(Number(job.bar.dataset.events) + 1);
    job.statusCell.textContent = `${stage} ${Math.round(fraction * 100)}%`;
  };
  let answer;
  for (let attempt = 0; ; attempt++) {
    try {
      answer = await channel.run("web-" + page.jobs.indexOf(job), bytes, job.format, options,
        onProgress);
      break;
    } catch (error) {
      // A full queue is temporary: wait as the server asks, then send again.
      if (error.code !== "queue_full" || attempt >= 5) throw error;
      job.statusCell.textContent = "server busy, waiting";
      await new Promise((ok) => setTimeout(ok, 1000 * (error.retryAfter || 1)));
    }
  }
  job.result = answer.bytes;
  job.status = "done";
  job.row.dataset.status = "done";
  job.bar.value = 1;
  job.statusCell.textContent = "done";
  showWarnings(job, answer.warnings);
  job.resultUrl = URL.createObjectURL(new Blob([job.result], { type: MIME[job.format] }));
  const show = document.createElement("button");
  show.textContent = "compare";
  show.className = "compare";
  show.addEventListener("click", () => selectJob(job));
  const link = document.createElement("a");
  link.textContent = "download";
  link.className = "download";
  link.href = job.resultUrl;
  link.download = job.path.split("/").pop();
  job.actions.append(show, " ", link);
  if (!page.selected) selectJob(job);
}

// Every warning once (by code), in the order first seen; malformed entries are skipped.
function collectWarnings(lists) {
  const out = [];
  const seen = new Set();
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (!item || typeof item.code !== "string" || typeof item.message !== "string") continue;
      if (!item.code || !item.message || seen.has(item.code)) continue;
      seen.add(item.code);
      out.push({ code: item.code, message: item.message });
    }
  }
  return out;
}

// The model's notes on one image, on its row: "done, 2 warnings" and one line per warning.
function showWarnings(job, warnings) {
  job.warnings = warnings;
  job.row.dataset.warnings = warnings.map((w) => w.code).join(" ");
  if (!warnings.length) return;
  job.row.classList.add("warned");
  job.statusCell.textContent = `done, ${warnings.length} warning${warnings.length > 1 ? "s" : ""}`;
  const list = document.createElement("ul");
  list.className = "job-warnings";
  for (const warning of warnings) {
    const line = document.createElement("li");
    line.dataset.code = warning.code;
    line.textContent = warning.message;
    list.append(line);
  }
  job.statusCell.append(list);
}

// What the user reads for a server error code (docs/protocol.json "errors", via contract.js).
function errorText(code, message) {
  const known = window.JEWEL_CONTRACT.errors[code];
  let detail = (message || "").trim();
  if (!known) return detail || code || "unknown error";
  if (detail && !/[.!?]$/.test(detail)) detail += ".";
  return detail ? `${known.summary}: ${detail} ${known.advice}` : `${known.summary}. ${known.advice}`;
}

// ---------------------------------------------------------------------------------- compare

function selectJob(job) {
  if (page.selected) page.selected.row.classList.remove("selected");
  page.selected = job;
  job.row.classList.add("selected");
  $("compare-panel").hidden = false;
  $("compare-name").textContent = job.path;
  if (!job.beforeUrl) job.beforeUrl = URL.createObjectURL(job.file);
  const note = PREVIEWABLE.has(job.format)
    ? ""
    : "Browsers cannot draw TIFF files: download the result to view it.";
  $("compare-note").textContent = note;
  $("before-img").src = job.beforeUrl;
  $("after-img").src = job.resultUrl;
  setSplit(Number($("compare-slider").value));
}

function setSplit(percent) {
  // The retouched image covers the left `percent` of the frame; the original shows elsewhere.
  $("after-clip").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
  $("divider").style.left = `calc(${percent}% - 1px)`;
}

// ---------------------------------------------------------------------------------- wiring

function refreshButtons() {
  const waiting = page.jobs.some((job) => job.status === "waiting");
  const done = page.jobs.some((job) => job.status === "done");
  $("run").disabled = page.running || !waiting;
  $("clear").disabled = page.running || !page.jobs.length;
  $("download-zip").disabled = page.running || !done;
}

function downloadZip() {
  const entries = page.jobs
    .filter((job) => job.status === "done")
    .map((job) => ({ name: job.path, data: job.result }));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(window.makeZip(entries));
  link.download = "jewel-retouch-results.zip";
  document.body.append(link);
  link.click();
  link.remove();
}

function clearJobs() {
  for (const job of page.jobs) {
    if (job.resultUrl) URL.revokeObjectURL(job.resultUrl);
    if (job.beforeUrl) URL.revokeObjectURL(job.beforeUrl);
  }
  page.jobs = [];
  page.selected = null;
  $("jobs").tBodies[0].textContent = "";
  $("compare-panel").hidden = true;
  refreshButtons();
}

function wire() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    connectWith($("token-input").value.trim());
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
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    addFiles(await filesFromDrop(event.dataTransfer));
  });
  $("run").addEventListener("click", runAll);
  $("clear").addEventListener("click", clearJobs);
  $("download-zip").addEventListener("click", downloadZip);
  $("compare-slider").addEventListener("input", (event) => setSplit(Number(event.target.value)));
}

wire();
const initialToken = tokenFromFragment() || localStorage.getItem(TOKEN_KEY);
if (initialToken) connectWith(initialToken);
else askForToken();
