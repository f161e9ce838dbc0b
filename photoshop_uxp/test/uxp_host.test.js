// The stand-in host's documented semantics, and the plug-in's refusals and rollbacks that need
// no server.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { loadPlugin } = require("./harness/load.js");
const { makeLayerPixels } = require("./harness/images.js");

function setup(docOptions = { width: 100, height: 80, depth: 8 }) {
  const plugin = loadPlugin();
  const doc = plugin.ps.createDocument(docOptions);
  return { plugin, doc, imaging: plugin.photoshop.imaging, core: plugin.photoshop.core };
}

test("getPixels trims sourceBounds to the layer's content and reports the trimmed bounds", async () => {
  const { plugin, doc, imaging } = setup();
  const pixels = makeLayerPixels({ width: 40, height: 30, depth: 8, channels: 4, margin: 4 });
  const layer = plugin.ps.addPixelLayer(doc, { name: "L", left: 20, top: 10, width: 40, height: 30, pixels });
  assert.deepEqual({ ...layer.boundsNoEffects }, { left: 24, top: 14, right: 56, bottom: 36, width: 32, height: 22 });
  const result = await imaging.getPixels({ documentID: doc.id, layerID: layer.id, sourceBounds: { left: 0, top: 0, right: 100, bottom: 80 } });
  assert.deepEqual(result.sourceBounds, { left: 24, top: 14, right: 56, bottom: 36 });
  assert.equal(result.imageData.width, 32);
  assert.equal(result.imageData.height, 22);
  assert.equal(result.imageData.components, 4);
  assert.equal(result.level, 0);
  const data = await result.imageData.getData({ chunky: true });
  assert.equal(data.length, 32 * 22 * 4);
  assert.deepEqual(Array.from(data.subarray(0, 4)), Array.from(pixels.subarray((4 * 40 + 4) * 4, (4 * 40 + 4) * 4 + 4)));
});

test("components: 3 for the Background layer or applyAlpha, 4 for layers with transparency", async () => {
  const { plugin, doc, imaging } = setup();
  const bg = plugin.ps.addPixelLayer(doc, { name: "Background", width: 100, height: 80, background: true, pixels: makeLayerPixels({ width: 100, height: 80, depth: 8, channels: 3 }) });
  const top = plugin.ps.addPixelLayer(doc, { name: "Top", width: 10, height: 10, pixels: makeLayerPixels({ width: 10, height: 10, depth: 8, channels: 4 }) });
  assert.equal((await imaging.getPixels({ layerID: bg.id })).imageData.components, 3);
  assert.equal((await imaging.getPixels({ layerID: top.id })).imageData.components, 4);
  assert.equal((await imaging.getPixels({ layerID: top.id, applyAlpha: true })).imageData.components, 3);
});

test("16-bit: getData gives 0..32768 unless fullRange; createImageDataFromBuffer checks the range", async () => {
  const { plugin, doc, imaging } = setup({ width: 4, height: 1, depth: 16 });
  const pixels = Uint16Array.from([0, 16384, 32768, 32768, 32768, 32768, 32768, 32768, 1, 2, 3, 32768, 100, 200, 300, 32768]);
  const layer = plugin.ps.addPixelLayer(doc, { name: "L", width: 4, height: 1, pixels });
  const { imageData } = await imaging.getPixels({ layerID: layer.id, componentSize: 16 });
  const reduced = await imageData.getData({ chunky: true });
  assert.ok(reduced instanceof Uint16Array);
  assert.equal(Math.max(...reduced), 32768);
  const full = await imageData.getData({ chunky: true, fullRange: true });
  assert.deepEqual(Array.from(full.subarray(0, 4)), [0, 32768, 65535, 65535]);
  await assert.rejects(imaging.createImageDataFromBuffer(Uint16Array.from([65535, 0, 0]), { width: 1, height: 1, components: 3, colorSpace: "RGB" }), /fullRange/);
  await assert.rejects(imaging.createImageDataFromBuffer(new Uint8Array(5), { width: 1, height: 1, components: 4, colorSpace: "RGB" }), /expected width \* height \* components/);
  const ok = await imaging.createImageDataFromBuffer(Uint16Array.from([65535, 0, 32768]), { width: 1, height: 1, components: 3, colorSpace: "RGB", fullRange: true });
  assert.deepEqual(Array.from(await ok.getData({})), [32768, 0, 16384]);
});

test("putPixels needs executeAsModal; executeAsModal fails with error 9 while Photoshop is modal", async () => {
  const { plugin, doc, imaging, core } = setup();
  const layer = plugin.ps.addPixelLayer(doc, { name: "L", width: 2, height: 2, pixels: new Uint8Array(16).fill(255) });
  const img = await imaging.createImageDataFromBuffer(new Uint8Array(12), { width: 2, height: 2, components: 3, colorSpace: "RGB" });
  await assert.rejects(imaging.putPixels({ layerID: layer.id, imageData: img }), /executeAsModal/);
  const foreign = plugin.ps.holdForeignModal(100);
  await assert.rejects(core.executeAsModal(async () => {}, { commandName: "x" }), (error) => error.number === 9);
  await foreign;
  await core.executeAsModal(async () => imaging.putPixels({ layerID: layer.id, imageData: img, targetBounds: { left: 0, top: 0 } }), { commandName: "x" });
  assert.deepEqual(Array.from(plugin.ps.rasterOf(layer).data.subarray(0, 4)), [0, 0, 0, 255]);
});

test("suspendHistory: commit makes one state; resumeHistory(false) rolls the document back", async () => {
  const { plugin, doc, core } = setup();
  plugin.ps.addPixelLayer(doc, { name: "L", width: 2, height: 2, pixels: new Uint8Array(16).fill(9) });
  await core.executeAsModal(async (ctx) => {
    const s = await ctx.hostControl.suspendHistory({ documentID: doc.id, name: "Step" });
    await doc.createPixelLayer({ name: "A" });
    await doc.createPixelLayer({ name: "B" });
    await ctx.hostControl.resumeHistory(s, true);
  }, { commandName: "x" });
  assert.deepEqual(doc.historyStates.map((h) => h.name), ["Open", "Step"]);
  assert.equal(doc.layers.length, 3);
  await core.executeAsModal(async (ctx) => {
    const s = await ctx.hostControl.suspendHistory({ documentID: doc.id, name: "Undone" });
    await doc.createPixelLayer({ name: "C" });
    await ctx.hostControl.resumeHistory(s, false);
  }, { commandName: "x" });
  assert.deepEqual(doc.layers.map((l) => l.name), ["B", "A", "L"]);
  assert.equal(doc.historyStates.length, 2);
});

test("the plug-in refuses what it cannot retouch, with a clear message and no change", async (t) => {
  const cases = [
    ["no document", (p) => {}, /Open a document/],
    ["CMYK", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 8, mode: "CMYKColorMode" }); p.ps.addPixelLayer(d, { name: "L", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) }); }, /RGB Color/],
    ["32-bit", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 32 }); p.ps.addLayerOfKind(d, "L", "pixel"); }, /8-bit and 16-bit/],
    ["unknown profile", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 8, profile: "Coated FOGRA39" }); p.ps.addPixelLayer(d, { name: "L", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) }); }, /Convert to Profile/],
    ["smart object", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 8 }); p.ps.addLayerOfKind(d, "Placed", "smartObject"); }, /Rasterize/],
    ["two layers", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 8 }); const a = p.ps.addPixelLayer(d, { name: "A", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) }); const b = p.ps.addPixelLayer(d, { name: "B", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) }); p.ps.select(d, [a, b]); }, /exactly one layer/],
    ["empty layer", (p) => { const d = p.ps.createDocument({ width: 8, height: 8, depth: 8 }); p.ps.addPixelLayer(d, { name: "Empty", width: 8, height: 8, pixels: new Uint8Array(256) }); }, /has no pixels/],
    ["selection off the layer", (p) => { const d = p.ps.createDocument({ width: 80, height: 80, depth: 8 }); p.ps.addPixelLayer(d, { name: "L", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) }); p.ps.setSelection(d, { left: 40, top: 40, right: 60, bottom: 60 }); }, /selection does not cover/],
  ];
  for (const [name, prepare, message] of cases) {
    await t.test(name, async () => {
      const plugin = loadPlugin();
      prepare(plugin);
      const doc = plugin.photoshop.app.activeDocument;
      const states = doc ? doc.historyStates.length : 0;
      await assert.rejects(plugin.retouch.retouch({ serverUrl: "http://127.0.0.1:8765", token: "t", options: {}, separateLayers: false, cancel: new plugin.jobClient.CancelSignal() }), (error) => {
        assert.equal(error.name, "UserError");
        assert.match(plugin.errors.messageFor(error), message);
        return true;
      });
      if (doc) assert.equal(doc.historyStates.length, states);
    });
  }
});

test("Photoshop busy for longer than the wait: a clear message, nothing written", async () => {
  const plugin = loadPlugin();
  const doc = plugin.ps.createDocument({ width: 8, height: 8, depth: 8 });
  plugin.ps.addPixelLayer(doc, { name: "L", width: 8, height: 8, pixels: new Uint8Array(256).fill(200) });
  const foreign = plugin.ps.holdForeignModal(800);
  let busyCalls = 0;
  await assert.rejects(plugin.photoshopIO.withModal(async () => "never", { waitMs: 300, onBusy: () => busyCalls++ }), (error) => {
    assert.equal(error.number, 9);
    assert.match(plugin.errors.messageFor(error), /stayed busy/);
    return true;
  });
  assert.ok(busyCalls >= 1);
  await foreign;
});

test("a failure while writing rolls the whole step back; a deleted original is reported", async () => {
  const plugin = loadPlugin();
  const doc = plugin.ps.createDocument({ width: 20, height: 20, depth: 8 });
  const original = plugin.ps.addPixelLayer(doc, { name: "Ring", width: 20, height: 20, pixels: makeLayerPixels({ width: 20, height: 20, depth: 8, channels: 4 }) });
  const target = plugin.photoshopIO.describeTarget();
  const good = { name: "image", kind: "image", width: 20, height: 20, channels: 4, depth: 8, data: new Uint8Array(20 * 20 * 4) };
  const broken = { name: "background", kind: "layer", width: 20, height: 20, channels: 4, depth: 8, data: new Uint8Array(7) };
  await assert.rejects(plugin.photoshopIO.writeResult(target, { left: 0, top: 0 }, [good, broken]), /elements/);
  assert.deepEqual(doc.layers.map((l) => l.name), ["Ring"]);
  assert.equal(doc.historyStates.length, 1);

  await plugin.photoshop.core.executeAsModal(async () => original.delete(), { commandName: "user" });
  await assert.rejects(plugin.photoshopIO.writeResult(target, { left: 0, top: 0 }, [good]), /was deleted/);
  plugin.ps.closeDocument(doc);
  await assert.rejects(plugin.photoshopIO.writeResult(target, { left: 0, top: 0 }, [good]), /document was closed/);
});

test("pixels: 16-bit samples go on the wire little-endian and come back intact", () => {
  const { pixels } = loadPlugin();
  const samples = Uint16Array.from([0, 1, 258, 65535]);
  const bytes = pixels.samplesToWireBytes(samples);
  assert.deepEqual(Array.from(bytes), [0, 0, 1, 0, 2, 1, 255, 255]);
  // An odd byte offset (a view into a larger frame) is copied, not misread.
  const framed = new Uint8Array(9);
  framed.set(bytes, 1);
  assert.deepEqual(Array.from(pixels.wireBytesToSamples(framed.subarray(1), 16)), [0, 1, 258, 65535]);
  assert.throws(() => pixels.wireBytesToSamples(new Uint8Array(3), 16), /even/);
});
