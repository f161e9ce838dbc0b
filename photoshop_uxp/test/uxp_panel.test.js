// The panel's UI (index.html in a DOM) with the stand-in host and a REAL server.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { JSDOM } = require("jsdom");
const { loadPlugin, PLUGIN_ROOT } = require("./harness/load.js");
const { startServer, retouchOverHttp } = require("./harness/server.js");
const { makeLayerPixels, wireBytes } = require("./harness/images.js");

const HTML = fs.readFileSync(path.join(PLUGIN_ROOT, "index.html"), "utf8");
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

test("settings: a wrong token is reported with what to do; a bad URL is refused", async () => {
  const { $, panel } = await openPanel({ serverUrl: server.httpUrl, token: server.token });
  $("token").value = "wrong-token";
  await panel.onSaveSettings();
  assert.match($("server-status").textContent, /not ready/);
  assert.match($("server-hint").textContent, /jewel-retouch token/);
  assert.ok($("retouch").hasAttribute("disabled"));

  $("server-url").value = "http://example.com:8765";
  await panel.onSaveSettings();
  assert.match($("message").textContent, /this computer/);

  $("server-url").value = server.httpUrl;
  $("token").value = server.token;
  await panel.onSaveSettings();
  assert.match($("server-status").textContent, /Connected/);
  panel.stop();
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
