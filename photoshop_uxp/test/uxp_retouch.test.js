// The plug-in against the stand-in Photoshop and a REAL `jewel-retouch serve`.
// Expected pixels come from the server itself (HTTP, same bytes built by the test), so these
// tests hold whatever the model does.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { loadPlugin } = require("./harness/load.js");
const { startServer, retouchOverHttp } = require("./harness/server.js");
const { makeLayerPixels, crop, wireBytes } = require("./harness/images.js");
const { toInternal16 } = require("./harness/photoshop.js");

let server;

test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  if (server) await server.stop();
});

function pluginFor(extra = {}) {
  const origins = [new URL(server.httpUrl).origin, new URL(server.wsUrl).origin];
  return loadPlugin({ allowedOrigins: origins, ...extra });
}

/** Stored RGBA samples (internal range) of a layer inside `box` (document coordinates). */
function storedRgba(plugin, layer, box) {
  const raster = plugin.ps.rasterOf(layer);
  assert.ok(raster, `layer "${layer.name}" has no pixels`);
  const out = new raster.data.constructor(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const i = raster.sampleIndex(box.x + x, box.y + y);
      assert.ok(i >= 0, `pixel ${box.x + x},${box.y + y} lies outside the new layer`);
      out.set(raster.data.subarray(i, i + 4), (y * box.width + x) * 4);
    }
  }
  return out;
}

/** What Photoshop stores for the server's wire bytes (RGB -> opaque alpha; 16-bit -> 0..32768). */
function expectedStored(resultBytes, channels, depth) {
  const samples = depth === 8 ? resultBytes : Array.from({ length: resultBytes.length / 2 }, (_, i) => resultBytes[2 * i] | (resultBytes[2 * i + 1] << 8));
  const count = samples.length / channels;
  const out = new (depth === 8 ? Uint8Array : Uint16Array)(count * 4);
  for (let p = 0; p < count; p++) {
    for (let k = 0; k < 4; k++) {
      let v = k < channels ? samples[p * channels + k] : depth === 8 ? 255 : 65535;
      if (depth === 16) v = toInternal16(v);
      out[p * 4 + k] = v;
    }
  }
  return out;
}

function request(plugin, extra = {}) {
  return {
    serverUrl: server.httpUrl,
    token: server.token,
    options: {},
    separateLayers: false,
    cancel: new plugin.jobClient.CancelSignal(),
    ...extra,
  };
}

async function checkRoundTrip({ depth, channels, margin, left, top, width, height, profile, psProfile }) {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 200, height: 160, depth, profile: psProfile });
  const pixels = makeLayerPixels({ width, height, depth, channels, margin, seed: depth + channels });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", left, top, width, height, pixels, background: channels === 3 });
  const before = Uint16Array.from(plugin.ps.rasterOf(original).data);
  const historyBefore = doc.historyStates.length;

  const outcome = await plugin.retouch.retouch(request(plugin));

  // What the plug-in sent: the layer's content, trimmed of transparent margins.
  const box = { x: margin, y: margin, width: width - 2 * margin, height: height - 2 * margin };
  const input = wireBytes(crop(pixels, width, channels, box), depth);
  assert.equal(outcome.source.channels, channels);
  assert.deepEqual(outcome.source.bounds, { left: left + margin, top: top + margin, right: left + margin + box.width, bottom: top + margin + box.height });
  assert.ok(Buffer.from(outcome.source.bytes).equals(Buffer.from(input)), "the plug-in sent other bytes than the layer holds");

  // The new layer holds what the server returns for those bytes, at the content's position.
  const expected = await retouchOverHttp(server, { bytes: input, width: box.width, height: box.height, channels, depth, profile });
  const layers = doc.layers;
  const added = layers[layers.indexOf(original) - 1];
  assert.ok(added && added.id === outcome.inserted.layerID, "the new layer is not directly above the original");
  assert.equal(added.name, "Ring (Jewel Retouch)");
  const stored = storedRgba(plugin, added, { x: left + margin, y: top + margin, width: box.width, height: box.height });
  assert.deepEqual(Array.from(stored), Array.from(expectedStored(expected, channels, depth)));

  // One history step, the original untouched.
  assert.equal(doc.historyStates.length, historyBefore + 1);
  assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
  assert.deepEqual(Array.from(plugin.ps.rasterOf(original).data), Array.from(before));
  assert.equal(plugin.ps.host.unresumedSuspensions, 0);
  return { plugin, doc, outcome };
}

test("8-bit RGBA layer with offset and transparent margins: pixels, position, one history step", async () => {
  await checkRoundTrip({ depth: 8, channels: 4, margin: 5, left: 30, top: 20, width: 64, height: 48, profile: "srgb" });
});

test("16-bit layer: full range on the wire, Photoshop's 0..32768 in the layer", async () => {
  const { outcome } = await checkRoundTrip({ depth: 16, channels: 4, margin: 3, left: 7, top: 11, width: 40, height: 36, profile: "adobe-rgb", psProfile: "Adobe RGB (1998)" });
  assert.equal(outcome.result.header.depth, 16);
  // Full range really was used: some sample above 32768 went over the wire.
  const wire = new Uint16Array(outcome.source.bytes.buffer, outcome.source.bytes.byteOffset, outcome.source.bytes.byteLength / 2);
  assert.ok(wire.some((v) => v > 32768));
});

test("Background layer (no alpha) is sent as 3 components", async () => {
  const { outcome } = await checkRoundTrip({ depth: 8, channels: 3, margin: 0, left: 0, top: 0, width: 200, height: 160, profile: "srgb" });
  assert.equal(outcome.result.header.channels, 3);
});

test("selection: only the selected box is retouched and placed at its offset", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 120, height: 100, depth: 8 });
  const pixels = makeLayerPixels({ width: 100, height: 80, depth: 8, channels: 4, seed: 3 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Pendant", left: 10, top: 10, width: 100, height: 80, pixels });
  // The selection reaches past the layer's content: Photoshop trims it.
  plugin.ps.setSelection(doc, { left: 60, top: 50, right: 140, bottom: 130 });
  const outcome = await plugin.retouch.retouch(request(plugin));
  assert.deepEqual(outcome.source.bounds, { left: 60, top: 50, right: 110, bottom: 90 });
  const input = wireBytes(crop(pixels, 100, 4, { x: 50, y: 40, width: 50, height: 40 }), 8);
  assert.ok(Buffer.from(outcome.source.bytes).equals(Buffer.from(input)));
  const expected = await retouchOverHttp(server, { bytes: input, width: 50, height: 40, channels: 4, depth: 8 });
  const added = doc.layers[doc.layers.indexOf(original) - 1];
  assert.deepEqual(plugin.ps.rasterOf(added).bounds, { left: 60, top: 50, right: 110, bottom: 90, width: 50, height: 40 });
  assert.deepEqual(Array.from(storedRgba(plugin, added, { x: 60, y: 50, width: 50, height: 40 })), Array.from(expected));
});

test("a non-rectangular selection becomes the new layer's mask (8 and 16 bit)", async (t) => {
  for (const depth of [8, 16]) {
    await t.test(`${depth}-bit`, async () => {
      const plugin = pluginFor();
      const doc = plugin.ps.createDocument({ width: 90, height: 70, depth });
      const pixels = makeLayerPixels({ width: 90, height: 70, depth, channels: 4, seed: 17 });
      const original = plugin.ps.addPixelLayer(doc, { name: "Ring", width: 90, height: 70, pixels });
      // An elliptical selection with a soft edge, box 20,10 .. 70,60.
      const box = { left: 20, top: 10, right: 70, bottom: 60 };
      const shape = new Uint8Array(50 * 50);
      for (let y = 0; y < 50; y++) {
        for (let x = 0; x < 50; x++) {
          const d = Math.hypot((x + 0.5 - 25) / 25, (y + 0.5 - 25) / 25);
          shape[y * 50 + x] = d < 0.9 ? 255 : d < 1 ? Math.round(((1 - d) / 0.1) * 255) : 0;
        }
      }
      plugin.ps.setSelection(doc, box, shape);
      const outcome = await plugin.retouch.retouch(request(plugin));
      const added = doc.layers[doc.layers.indexOf(original) - 1];
      const mask = plugin.ps.maskOf(added);
      assert.ok(mask, "the new layer has no layer mask");
      assert.deepEqual({ ...mask.bounds }, { ...box, width: 50, height: 50 });
      const stored = Array.from({ length: 2500 }, (_, p) => mask.data[p * 4]);
      if (depth === 8) assert.deepEqual(stored, Array.from(shape));
      else stored.forEach((v, i) => assert.ok(Math.abs(v - shape[i]) <= 1, `mask ${i}: ${v} vs ${shape[i]}`));
      // The pixels are still the server's answer for the whole box.
      const input = wireBytes(crop(pixels, 90, 4, { x: 20, y: 10, width: 50, height: 50 }), depth);
      assert.ok(Buffer.from(outcome.source.bytes).equals(Buffer.from(input)));
      const expected = await retouchOverHttp(server, { bytes: input, width: 50, height: 50, channels: 4, depth });
      assert.deepEqual(Array.from(storedRgba(plugin, added, { x: 20, y: 10, width: 50, height: 50 })), Array.from(expectedStored(expected, 4, depth)));
      assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
      assert.equal(plugin.ps.maskOf(original), null, "the original got a mask");
    });
  }
});

test("a rectangular selection adds no mask", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 40, height: 40, depth: 8 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", width: 40, height: 40, pixels: makeLayerPixels({ width: 40, height: 40, depth: 8, channels: 4 }) });
  plugin.ps.setSelection(doc, { left: 5, top: 5, right: 30, bottom: 30 });
  await plugin.retouch.retouch(request(plugin));
  assert.equal(plugin.ps.maskOf(doc.layers[doc.layers.indexOf(original) - 1]), null);
});

test("options from the panel reach the server", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 64, height: 64, depth: 8 });
  const pixels = makeLayerPixels({ width: 64, height: 64, depth: 8, channels: 4, seed: 9 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", width: 64, height: 64, pixels });
  const options = { background: "keep", strength: 0.25, cleanup: false };
  await plugin.retouch.retouch(request(plugin, { options }));
  const expected = await retouchOverHttp(server, { bytes: wireBytes(pixels, 8), width: 64, height: 64, channels: 4, depth: 8, options });
  const added = doc.layers[doc.layers.indexOf(original) - 1];
  assert.deepEqual(Array.from(storedRgba(plugin, added, { x: 0, y: 0, width: 64, height: 64 })), Array.from(expected));
  // A bad option value is refused by the server with a clear message and changes nothing.
  const states = doc.historyStates.length;
  await assert.rejects(plugin.retouch.retouch(request(plugin, { options: { strength: 7 } })), (error) => {
    assert.equal(error.code, "invalid_options");
    assert.match(error.message, /strength/);
    return true;
  });
  assert.equal(doc.historyStates.length, states);
});

test("metal variants: one more layer each, under the result, in one history step", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 64, height: 64, depth: 8 });
  const pixels = makeLayerPixels({ width: 40, height: 30, depth: 8, channels: 4, seed: 4 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", left: 5, top: 6, width: 40, height: 30, pixels });
  const states = doc.historyStates.length;
  const options = { metal_variants: ["white_gold", "silver"] };
  const outcome = await plugin.retouch.retouch(request(plugin, { options }));
  const index = doc.layers.indexOf(original);
  assert.deepEqual(doc.layers.slice(index - 3, index + 1).map((l) => l.name), [
    "Ring (Jewel Retouch)", "Ring (Jewel Retouch, white gold)", "Ring (Jewel Retouch, silver)", "Ring",
  ]);
  for (const name of ["white_gold", "silver"]) {
    const part = outcome.result.parts.find((p) => p.kind === "variant" && p.name === name);
    assert.ok(part, `no ${name} part in the result`);
    const layer = doc.layers.find((l) => l.name === `Ring (Jewel Retouch, ${name.replace("_", " ")})`);
    assert.deepEqual(Array.from(storedRgba(plugin, layer, { x: 5, y: 6, width: 40, height: 30 })), Array.from(part.data));
  }
  assert.equal(doc.historyStates.length, states + 1);
});

test("Photoshop busy in another modal operation: the plug-in waits and retries", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 48, height: 48, depth: 8 });
  const pixels = makeLayerPixels({ width: 48, height: 48, depth: 8, channels: 4, seed: 5 });
  plugin.ps.addPixelLayer(doc, { name: "Ring", width: 48, height: 48, pixels });
  const statuses = [];
  const foreign = plugin.ps.holdForeignModal(900);
  const outcome = await plugin.retouch.retouch(request(plugin, { onStatus: (s) => statuses.push(s) }));
  await foreign;
  assert.ok(plugin.ps.host.busyRejections >= 2, "executeAsModal was not retried");
  assert.ok(statuses.some((s) => /busy/.test(s)), "the panel was not told Photoshop is busy");
  assert.equal(outcome.inserted.kind, "layer");
  assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
});

test("separate layers: a group with the model's layers and the gem mask as a layer mask", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 80, height: 70, depth: 8 });
  const pixels = makeLayerPixels({ width: 60, height: 50, depth: 8, channels: 4, seed: 11 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Earring", left: 12, top: 9, width: 60, height: 50, pixels });
  const before = Array.from(plugin.ps.rasterOf(original).data);
  const states = doc.historyStates.length;
  const outcome = await plugin.retouch.retouch(request(plugin, { separateLayers: true }));
  assert.equal(outcome.inserted.kind, "group");
  const group = doc.layers[doc.layers.indexOf(original) - 1];
  assert.equal(group.kind, "group");
  assert.equal(group.id, outcome.inserted.layerID);
  const parts = outcome.result.parts;
  const layerParts = parts.filter((p) => p.kind === "layer");
  assert.ok(layerParts.length >= 3, "the server returned no separable layers");
  const children = group.layers; // top first
  const expectedNames = ["Gems (retouched)", ...layerParts.map((p) => p.name.charAt(0).toUpperCase() + p.name.slice(1)).reverse()];
  assert.deepEqual(children.map((l) => l.name), expectedNames);
  // Each separable layer holds its part's pixels at the layer's offset.
  for (const part of layerParts) {
    const layer = children.find((l) => l.name.toLowerCase() === part.name);
    assert.deepEqual(Array.from(storedRgba(plugin, layer, { x: 12, y: 9, width: 60, height: 50 })), Array.from(part.data));
  }
  const gems = children[0];
  assert.deepEqual(Array.from(storedRgba(plugin, gems, { x: 12, y: 9, width: 60, height: 50 })), Array.from(parts.find((p) => p.kind === "image").data));
  const mask = plugin.ps.maskOf(gems);
  const gemPart = parts.find((p) => p.kind === "mask" && p.name === "gem");
  assert.deepEqual(mask.bounds, { left: 12, top: 9, right: 72, bottom: 59, width: 60, height: 50 });
  const maskValues = Array.from({ length: 60 * 50 }, (_, p) => mask.data[p * 4]);
  assert.deepEqual(maskValues, Array.from(gemPart.data));
  assert.equal(doc.historyStates.length, states + 1);
  assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
  assert.deepEqual(Array.from(plugin.ps.rasterOf(original).data), before);
});

test("separate layers in a 16-bit document: layers at 16 bits, the 8-bit gem mask as a layer mask", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 50, height: 40, depth: 16, profile: "ProPhoto RGB" });
  const pixels = makeLayerPixels({ width: 30, height: 20, depth: 16, channels: 4, seed: 13 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", left: 5, top: 6, width: 30, height: 20, pixels });
  const outcome = await plugin.retouch.retouch(request(plugin, { separateLayers: true }));
  assert.equal(outcome.result.header.depth, 16);
  const group = doc.layers[doc.layers.indexOf(original) - 1];
  for (const part of outcome.result.parts.filter((p) => p.kind === "layer")) {
    assert.equal(part.depth, 16);
    const layer = group.layers.find((l) => l.name.toLowerCase() === part.name);
    const stored = storedRgba(plugin, layer, { x: 5, y: 6, width: 30, height: 20 });
    assert.deepEqual(Array.from(stored), Array.from(expectedStored(part.data, 4, 16)));
  }
  const gemPart = outcome.result.parts.find((p) => p.kind === "mask" && p.name === "gem");
  const mask = plugin.ps.maskOf(group.layers[0]);
  assert.deepEqual(Array.from({ length: 600 }, (_, p) => mask.data[p * 4]), Array.from(gemPart.data));
  assert.equal(doc.historyStates.at(-1).name, "Jewel Retouch");
});

test("cancel while the server works: no layer, no history step, a clear message", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 900, height: 700, depth: 16 });
  const pixels = makeLayerPixels({ width: 900, height: 700, depth: 16, channels: 4, seed: 2 });
  plugin.ps.addPixelLayer(doc, { name: "Chain", width: 900, height: 700, pixels });
  const layersBefore = doc.layers.length;
  const states = doc.historyStates.length;
  const cancel = new plugin.jobClient.CancelSignal();
  let cancelledAt = null;
  const run = plugin.retouch.retouch(request(plugin, {
    cancel,
    onProgress: (stage) => {
      if (cancelledAt === null && stage !== "upload") {
        cancelledAt = stage;
        cancel.cancel();
      }
    },
  }));
  await assert.rejects(run, (error) => {
    assert.equal(error.name, "CancelledError");
    assert.equal(plugin.errors.messageFor(error), "Retouch cancelled.");
    return true;
  });
  assert.ok(cancelledAt, "the job was never under way");
  assert.equal(doc.layers.length, layersBefore);
  assert.equal(doc.historyStates.length, states);
});

test("cancel during the upload closes the connection and changes nothing", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 1200, height: 1000, depth: 16 });
  const pixels = makeLayerPixels({ width: 1200, height: 1000, depth: 16, channels: 4, seed: 4 });
  plugin.ps.addPixelLayer(doc, { name: "Chain", width: 1200, height: 1000, pixels });
  const cancel = new plugin.jobClient.CancelSignal();
  const run = plugin.retouch.retouch(request(plugin, {
    cancel,
    onProgress: (stage, fraction) => {
      if (stage === "upload" && fraction > 0.2) cancel.cancel();
    },
  }));
  await assert.rejects(run, { name: "CancelledError" });
  assert.equal(doc.layers.length, 1);
  assert.equal(doc.historyStates.length, 1);
  // The server is still fine afterwards.
  const health = await fetch(`${server.httpUrl}/v1/health`);
  assert.equal(health.status, 200);
});

test("wrong token: clear message, document unchanged", async () => {
  const plugin = pluginFor();
  const doc = plugin.ps.createDocument({ width: 32, height: 32, depth: 8 });
  plugin.ps.addPixelLayer(doc, { name: "Ring", width: 32, height: 32, pixels: makeLayerPixels({ width: 32, height: 32, depth: 8, channels: 4 }) });
  await assert.rejects(plugin.retouch.retouch(request(plugin, { token: "not-the-token" })), (error) => {
    assert.equal(error.code, "unauthorized");
    assert.match(error.message, /jewel-retouch token/);
    return true;
  });
  // Also straight on the job channel (as when the token changed after the panel loaded).
  const info = { version: "", model: { name: "", version: "" }, options: [], limits: {}, wsUrl: server.wsUrl };
  await assert.rejects(plugin.retouch.retouch(request(plugin, { token: "not-the-token", info })), { code: "unauthorized" });
  assert.equal(doc.layers.length, 1);
  assert.equal(doc.historyStates.length, 1);
});

test("server down: clear message with the command that starts it", async () => {
  const plugin = loadPlugin({ allowedOrigins: ["http://127.0.0.1:9", "ws://127.0.0.1:9"] });
  const doc = plugin.ps.createDocument({ width: 32, height: 32, depth: 8 });
  plugin.ps.addPixelLayer(doc, { name: "Ring", width: 32, height: 32, pixels: makeLayerPixels({ width: 32, height: 32, depth: 8, channels: 4 }) });
  await assert.rejects(plugin.retouch.retouch({ ...request(plugin), serverUrl: "http://127.0.0.1:9" }), (error) => {
    assert.equal(error.code, "server_down");
    assert.match(error.message, /jewel-retouch serve/);
    return true;
  });
  const info = { version: "", model: { name: "", version: "" }, options: [], limits: {}, wsUrl: "ws://127.0.0.1:9" };
  await assert.rejects(plugin.retouch.retouch({ ...request(plugin), info }), { code: "server_down" });
  assert.equal(doc.layers.length, 1);
});

test("the manifest's network permission: other origins are refused with a clear message", async () => {
  const plugin = loadPlugin(); // exactly the manifest's origins: 127.0.0.1:8765 / :8766
  plugin.ps.createDocument({ width: 16, height: 16, depth: 8 });
  await assert.rejects(plugin.serverClient.info(server.httpUrl, server.token), (error) => {
    assert.equal(error.code, "permission");
    assert.match(error.message, /manifest/);
    return true;
  });
});
