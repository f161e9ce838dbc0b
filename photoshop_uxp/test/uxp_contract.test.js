// The panel against docs/protocol.json (the contract every client shares): error advice, part
// and layer names, warnings; and the warnings shown in the panel, from a fake job server.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { JSDOM } = require("jsdom");
const { loadPlugin, PLUGIN_ROOT } = require("./harness/load.js");
const { startFakeServer } = require("./harness/fakeServer.js");
const { makeLayerPixels } = require("./harness/images.js");

const CONTRACT = JSON.parse(fs.readFileSync(path.join(PLUGIN_ROOT, "..", "docs", "protocol.json"), "utf8"));
const ERRORS = Object.fromEntries(Object.entries(CONTRACT.errors).filter(([code]) => !code.startsWith("$")));

test("every server error code has the contract's summary and advice", () => {
  const { errors } = loadPlugin();
  assert.deepEqual(Object.keys(errors.SERVER_ERRORS).sort(), Object.keys(ERRORS).sort());
  for (const [code, entry] of Object.entries(ERRORS)) {
    const advice = (entry.advice_by_client && entry.advice_by_client.photoshop) || entry.advice;
    assert.deepEqual(errors.SERVER_ERRORS[code], { summary: entry.summary, advice }, code);
    const shown = errors.serverError({ code, message: "details here" });
    assert.equal(shown.code, code);
    assert.equal(shown.message, `${entry.summary}: details here. ${advice}`);
    assert.equal(errors.serverError({ code }).message, `${entry.summary}. ${advice}`);
  }
  const unknown = errors.serverError({ code: "brand_new", message: "x" });
  assert.match(unknown.message, /brand_new/);
});

test("separable layers are named as the contract says", () => {
  const { photoshopIO } = loadPlugin();
  const separate = CONTRACT.paste.separate;
  assert.deepEqual(photoshopIO.LAYER_TITLES, separate.layer_titles);
  assert.equal(photoshopIO.GEMS_LAYER_NAME, separate.gems_layer.name);
  assert.equal(photoshopIO.HISTORY_NAME, CONTRACT.paste.undo_name);
  assert.deepEqual(Object.keys(separate.layer_titles), CONTRACT.parts.layers);
  const variant = CONTRACT.paste.photoshop_names.variant_name;
  assert.equal(photoshopIO.variantName("Ring", "white_gold"),
    variant.replace("{source}", "Ring").replace("{metal}", "white gold"));
});

test("warnings are collected once each, malformed ones skipped", () => {
  const { warnings } = loadPlugin();
  const a = { code: "background_kept", message: CONTRACT.warnings.codes.background_kept };
  const b = { code: "no_piece", message: CONTRACT.warnings.codes.no_piece };
  assert.deepEqual(warnings.collectWarnings([a], undefined, [a, b, { code: "x" }, null, 3], "no"), [a, b]);
  assert.equal(warnings.warningsText([]), "");
  assert.equal(warnings.warningsText([a, b]), `Check the result: ${a.message} ${b.message}`);
});

async function panelAgainst(fake) {
  const dom = new JSDOM(fs.readFileSync(path.join(PLUGIN_ROOT, "index.html"), "utf8"));
  const plugin = loadPlugin({ allowedOrigins: [fake.httpUrl, fake.wsUrl], document: dom.window.document });
  plugin.localStorage.setItem("jewel-retouch.serverUrl", fake.httpUrl);
  plugin.localStorage.setItem("jewel-retouch.token", fake.token);
  const panel = new plugin.panel.Panel(dom.window.document, { pollMs: 0 });
  await panel.start();
  const doc = plugin.ps.createDocument({ width: 24, height: 16, depth: 8 });
  plugin.ps.addPixelLayer(doc, { name: "Ring", width: 24, height: 16, pixels: makeLayerPixels({ width: 24, height: 16, depth: 8, channels: 4 }) });
  return { panel, doc, $: (id) => dom.window.document.getElementById(id) };
}

test("the panel shows the run's warnings in its status area after the paste", async () => {
  const first = { code: "background_kept", message: "Background kept (fake)." };
  const second = { code: "low_resolution", message: "The photo is small (fake)." };
  const fake = await startFakeServer({ resultWarnings: [first], doneWarnings: [first, second] });
  try {
    const { panel, doc, $ } = await panelAgainst(fake);
    const layersBefore = doc.layers.length;
    await panel.onRetouch();
    assert.equal(doc.layers.length, layersBefore + 1, $("message").textContent);
    const text = $("message").textContent;
    assert.match(text, /^Done: the retouch was added as a new layer above the original\. Check the result: /);
    assert.equal(text.split(first.message).length - 1, 1);
    assert.ok(text.includes(second.message), text);
    assert.equal($("message").getAttribute("data-kind"), "warning");
    assert.equal($("message").getAttribute("data-warnings"), "background_kept low_resolution");
    panel.stop();
  } finally {
    await fake.stop();
  }
});

test("no warnings: a plain success message", async () => {
  const fake = await startFakeServer({});
  try {
    const { panel, $ } = await panelAgainst(fake);
    await panel.onRetouch();
    assert.equal($("message").textContent, "Done: the retouch was added as a new layer above the original.");
    assert.equal($("message").getAttribute("data-kind"), "success");
    assert.equal($("message").getAttribute("data-warnings"), "");
    panel.stop();
  } finally {
    await fake.stop();
  }
});
