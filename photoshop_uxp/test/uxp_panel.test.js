// The panel's UI (index.html in a DOM) with the stand-in host and a REAL server.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const os = require("node:os");
const { execFileSync } = require("node:child_process");
const { JSDOM } = require("jsdom");
const { loadPlugin, PLUGIN_ROOT } = require("./harness/load.js");
const { startServer, retouchOverHttp } = require("./harness/server.js");
const { makeLayerPixels, wireBytes } = require("./harness/images.js");

const HTML = fs.readFileSync(path.join(PLUGIN_ROOT, "index.html"), "utf8");
const REPO = path.join(PLUGIN_ROOT, "..");
const PYTHON = path.join(REPO, ".venv", "bin", "python");
let server;

test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  if (server) await server.stop();
});

async function openPanel({ serverUrl, token, allowed } = {}) {
  const dom = new JSDOM(HTML);
  const document = dom.window.document;
  const origins = allowed || [new URL(server.httpUrl).origin, new URL(server.wsUrl).origin];
  const plugin = loadPlugin({ allowedOrigins: origins, document });
  if (serverUrl) plugin.localStorage.setItem("jewel-retouch.serverUrl", serverUrl);
  if (token !== undefined) plugin.localStorage.setItem("jewel-retouch.token", token);
  const panel = new plugin.panel.Panel(document, { pollMs: 0 });
  await panel.start();
  const $ = (id) => document.getElementById(id);
  return { dom, document, plugin, panel, $, window: dom.window };
}

async function serverOptions() {
  const response = await fetch(`${server.httpUrl}/v1/info`, { headers: { Authorization: `Bearer ${server.token}` } });
  return (await response.json()).options;
}

test("server not running: the panel says so and shows the command that starts it", async () => {
  const { $, panel } = await openPanel({ serverUrl: "http://127.0.0.1:9", token: "x", allowed: ["http://127.0.0.1:9"] });
  assert.match($("server-status").textContent, /not running/);
  assert.equal($("server-status").getAttribute("data-state"), "down");
  assert.match($("server-hint").textContent, /jewel-retouch serve/);
  assert.ok($("retouch").hasAttribute("disabled"), "Retouch is enabled without a server");
  panel.stop();
});

test("connected: options come from /v1/info as Spectrum widgets; Retouch adds the layer", async () => {
  const { $, panel, plugin, window, document } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  assert.match($("server-status").textContent, /Connected/);
  assert.equal($("server-status").getAttribute("data-state"), "connected");
  assert.ok(!$("retouch").hasAttribute("disabled"));

  const specs = await serverOptions();
  assert.ok(specs.length > 0);
  for (const spec of specs) {
    const control = document.querySelector(`[data-option="${spec.name}"]`);
    assert.ok(control, `no control for option ${spec.name}`);
    const tag = control.tagName.toLowerCase();
    if (spec.type === "enum") {
      assert.equal(tag, "sp-picker");
      const items = [...control.querySelectorAll("sp-menu-item")].map((i) => i.getAttribute("value"));
      assert.deepEqual(items, spec.choices);
    } else if (spec.type === "boolean") {
      assert.equal(tag, "sp-checkbox");
    } else if (spec.type === "list") {
      // A group of checkboxes, one per choice (metal variants).
      const boxes = [...control.querySelectorAll("sp-checkbox")].map((b) => b.getAttribute("value"));
      assert.deepEqual(boxes, spec.choices);
    } else {
      assert.ok(tag === "sp-slider" || tag === "sp-textfield", `${spec.name} is a ${tag}`);
    }
  }

  // The user picks a background and lowers the strength.
  const background = specs.find((s) => s.name === "background");
  const picker = document.querySelector('[data-option="background"]');
  picker.selectedIndex = background.choices.indexOf("keep");
  picker.dispatchEvent(new window.Event("change"));
  const slider = document.querySelector('[data-option="strength"]');
  slider.value = 0.5;
  slider.dispatchEvent(new window.Event("input"));

  const doc = plugin.ps.createDocument({ width: 40, height: 30, depth: 8 });
  const pixels = makeLayerPixels({ width: 40, height: 30, depth: 8, channels: 4, seed: 21 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", width: 40, height: 30, pixels });
  $("retouch").click();
  assert.ok(!$("cancel").hasAttribute("disabled"), "Cancel is not available while running");
  await panel.lastRun;
  assert.match($("message").textContent, /Done/);
  // A 40 x 30 layer is under the model's size for fine detail: the model says so, and the
  // panel shows it as a warning; nothing else may be wrong.
  const kind = $("message").getAttribute("data-kind");
  assert.ok(kind === "success" || kind === "warning", kind);
  if (kind === "warning") assert.match($("message").textContent, /small/);
  assert.equal($("progress").getAttribute("value"), "100");
  assert.ok($("cancel").hasAttribute("disabled"));

  const expected = await retouchOverHttp(server, { bytes: wireBytes(pixels, 8), width: 40, height: 30, channels: 4, depth: 8, options: { background: "keep", strength: 0.5 } });
  const added = doc.layers[doc.layers.indexOf(original) - 1];
  const raster = plugin.ps.rasterOf(added);
  assert.deepEqual(Array.from(raster.data), Array.from(expected));
  assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
  panel.stop();
});

test("a failure shows a clear message in the panel", async () => {
  const { $, panel } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  // No document open.
  $("retouch").click();
  await panel.lastRun;
  assert.equal($("message").textContent, "Open a document first.");
  assert.equal($("message").getAttribute("data-kind"), "error");
  panel.stop();
});

test("settings: a wrong token says so (not \"Settings saved\"); a bad URL is refused", async () => {
  const { $, panel } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  $("token").value = "wrong-token";
  await panel.onSaveSettings();
  assert.match($("server-status").textContent, /Token rejected/);
  assert.match($("server-hint").textContent, /jewel-retouch token/);
  assert.match($("message").textContent, /^Token rejected: run jewel-retouch token /);
  assert.doesNotMatch($("message").textContent, /saved/i);
  assert.equal($("message").getAttribute("data-kind"), "error");
  assert.ok($("retouch").hasAttribute("disabled"));

  $("server-url").value = "http://example.com:8765";
  await panel.onSaveSettings();
  assert.match($("message").textContent, /this computer/);

  $("server-url").value = server.httpUrl;
  $("token").value = server.token;
  await panel.onSaveSettings();
  assert.match($("server-status").textContent, /Connected/);
  assert.equal($("message").textContent, `Settings saved; connected to the server at ${server.httpUrl}.`);
  assert.equal($("message").getAttribute("data-kind"), "success");
  panel.stop();
});

test("a server on a port the manifest does not list: the panel says so and how to fix it", async () => {
  // The panel as shipped (127.0.0.1:8765 / :8766) and a server on other ports.
  const { $, panel, plugin } = await openPanel({
    serverUrl: server.httpUrl,
    token: server.token,
    allowed: ["http://127.0.0.1:8765", "ws://127.0.0.1:8766"],
  });
  const port = new URL(server.httpUrl).port;
  assert.match($("server-status").textContent, /not permitted by the manifest/);
  const hint = $("server-hint").textContent;
  assert.ok(hint.startsWith(`${server.httpUrl} is not permitted by this panel's manifest`), hint);
  assert.match(hint, /http:\/\/127\.0\.0\.1:8765, ws:\/\/127\.0\.0\.1:8766/);
  assert.ok(hint.includes(`jewel-retouch install photoshop --port ${port} --ws-port `), hint);
  assert.ok($("retouch").hasAttribute("disabled"));

  // Typing such a URL into Settings: refused there, not saved.
  const before = plugin.localStorage.getItem("jewel-retouch.serverUrl");
  $("server-url").value = "http://127.0.0.1:9123";
  await panel.onSaveSettings();
  assert.match($("message").textContent, /^http:\/\/127\.0\.0\.1:9123 is not permitted by this panel's manifest/);
  assert.equal($("message").getAttribute("data-kind"), "error");
  assert.equal(plugin.localStorage.getItem("jewel-retouch.serverUrl"), before);
  panel.stop();
});

test("the job channel's port must be listed too: the hint names both ports", async () => {
  const { $, panel } = await openPanel({
    serverUrl: server.httpUrl,
    token: server.token,
    allowed: [new URL(server.httpUrl).origin, "ws://127.0.0.1:8766"],
  });
  assert.match($("server-status").textContent, /not permitted by the manifest/);
  const hint = $("server-hint").textContent;
  assert.ok(hint.startsWith(`${server.wsUrl} is not permitted`), hint);
  const [httpPort, wsPort] = [new URL(server.httpUrl).port, new URL(server.wsUrl).port];
  assert.ok(hint.includes(`--port ${httpPort} --ws-port ${wsPort}`), hint);
  assert.ok($("retouch").hasAttribute("disabled"));
  panel.stop();
});

test("a .ccx built for the server's ports (install photoshop --port) connects", async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "jr-ports-"));
  try {
    const [httpPort, wsPort] = [new URL(server.httpUrl).port, new URL(server.wsUrl).port];
    execFileSync(PYTHON, ["-m", "server.commands.install", "photoshop", "--out", out, "--port", httpPort, "--ws-port", wsPort], { cwd: REPO, encoding: "utf8" });
    const manifest = JSON.parse(execFileSync(PYTHON, ["-c", "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('manifest.json').decode())", path.join(out, "jewel-retouch-photoshop-0.1.0.ccx")], { encoding: "utf8" }));
    const domains = manifest.requiredPermissions.network.domains;
    const { $, panel } = await openPanel({ serverUrl: server.httpUrl, token: server.token, allowed: domains });
    assert.match($("server-status").textContent, /Connected/);
    assert.ok(!$("retouch").hasAttribute("disabled"));
    panel.stop();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("number options show their default exactly: the margin reads 0.075", async () => {
  const { panel, document, window } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  const specs = await serverOptions();
  const margin = specs.find((s) => s.name === "margin");
  assert.equal(margin.default, 0.075);
  const field = document.querySelector('[data-option-value="margin"]');
  const slider = document.querySelector('[data-option="margin"]');
  assert.equal(field.value, "0.075");
  assert.equal(slider.getAttribute("step"), "0.001");
  assert.equal(Number(slider.getAttribute("value")), 0.075);
  // Every number option's field shows its default's digits in full.
  for (const spec of specs.filter((s) => s.type === "number")) {
    const shown = document.querySelector(`[data-option-value="${spec.name}"]`).value;
    assert.equal(Number(shown), spec.default, `${spec.name} shows ${shown}`);
  }
  // Dragging the slider and typing in the field both set the value, and each other.
  slider.value = 0.1234;
  slider.dispatchEvent(new window.Event("input"));
  assert.equal(panel.optionValues.margin, 0.123);
  assert.equal(field.value, "0.123");
  field.value = "0.2";
  field.dispatchEvent(new window.Event("change"));
  assert.equal(panel.optionValues.margin, 0.2);
  assert.equal(slider.value, 0.2);
  field.value = "5";
  field.dispatchEvent(new window.Event("change"));
  assert.equal(panel.optionValues.margin, margin.maximum);
  assert.equal(field.value, margin.maximum.toFixed(3));
  panel.stop();
});

test("Retouch sits at the top, before the options and the settings", async () => {
  const { document } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  const top = document.getElementById("top");
  assert.equal(document.body.firstElementChild, top, "something comes before the Retouch block");
  const order = (a, b) => a.compareDocumentPosition(b) & document.defaultView.Node.DOCUMENT_POSITION_FOLLOWING;
  const retouch = document.getElementById("retouch");
  assert.ok(top.contains(retouch));
  assert.ok(top.contains(document.getElementById("message")) && top.contains(document.getElementById("progress")));
  for (const later of ["options", "separate-layers", "server-url", "token", "save-settings"]) {
    assert.ok(order(retouch, document.getElementById(later)), `${later} comes before Retouch`);
  }
  // Above Retouch: only the server's status and its hint.
  const before = [...top.querySelectorAll("*")].filter((el) => order(el, retouch) && !el.contains(retouch));
  assert.deepEqual(before.map((el) => el.id).filter(Boolean), ["server-status", "server-hint"]);
});

test("Cancel in the panel stops the job and leaves the document alone", async () => {
  const { $, panel, plugin } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  const doc = plugin.ps.createDocument({ width: 1000, height: 800, depth: 16 });
  plugin.ps.addPixelLayer(doc, { name: "Chain", width: 1000, height: 800, pixels: makeLayerPixels({ width: 1000, height: 800, depth: 16, channels: 4 }) });
  $("retouch").click();
  $("cancel").click();
  await panel.lastRun;
  assert.equal($("message").textContent, "Retouch cancelled.");
  assert.equal(doc.layers.length, 1);
  assert.equal(doc.historyStates.length, 1);
  panel.stop();
});

test("re-checking the server keeps the option widgets and the user's choices", async () => {
  const { panel, document, window } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  const checkbox = document.querySelector('[data-option="protect_gems"]');
  checkbox.checked = true;
  checkbox.dispatchEvent(new window.Event("change"));
  await panel.refreshServer();
  assert.equal(document.querySelector('[data-option="protect_gems"]'), checkbox, "the widgets were rebuilt");
  assert.equal(panel.optionValues.protect_gems, true);
  panel.stop();
});

test("a list option is a set of checkboxes; an unknown option type is left out", async () => {
  const { panel, document, window } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  panel.renderOptions([
    { name: "metal_variants", label: "Metal variants", type: "list", default: [], description: "", choices: ["rose_gold", "silver", "platinum"] },
    { name: "future", label: "Future", type: "colour", default: "#fff", description: "" },
    { name: "margin", label: "Margin", type: "number", default: 0.075, minimum: 0, maximum: 0.45, description: "" },
  ]);
  assert.equal(document.querySelector('[data-option="future"]'), null);
  assert.ok(!("future" in panel.optionValues), "an unknown option would be sent");
  assert.deepEqual(panel.optionValues.metal_variants, []);
  const boxes = [...document.querySelectorAll('[data-option="metal_variants"] sp-checkbox')];
  assert.deepEqual(boxes.map((b) => b.getAttribute("value")), ["rose_gold", "silver", "platinum"]);
  for (const name of ["platinum", "rose_gold"]) {
    const box = boxes.find((b) => b.getAttribute("value") === name);
    box.checked = true;
    box.dispatchEvent(new window.Event("change"));
  }
  assert.deepEqual(panel.optionValues.metal_variants, ["rose_gold", "platinum"]); // schema order
  assert.equal(document.querySelector('[data-option-value="margin"]').value, "0.075");
  panel.stop();
});
