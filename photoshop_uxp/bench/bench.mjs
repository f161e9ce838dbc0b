// The panel's own overhead for a 24 MP 8-bit layer: read (getPixels + getData), transfer over
// the WebSocket job channel (upload + download), write (createImageDataFromBuffer + putPixels in
// one history step). The model is excluded: the job channel here is an in-process echo that
// speaks docs/protocol.md and returns the pixels it received.
//   node bench/bench.mjs [megapixels]        (also run by `make bench`)
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import os from "node:os";

const require = createRequire(import.meta.url);
let WebSocketServer;
try {
  ({ WebSocketServer } = require("ws"));
} catch {
  console.error("bench: node_modules is missing; run `npm ci` in photoshop_uxp first");
  process.exit(1);
}
const { loadPlugin } = require("../test/harness/load.js");

const megapixels = Number(process.argv[2] || 24);
const width = 6000;
const height = Math.round((megapixels * 1e6) / width);

/** Echo job server: hello -> ready, job -> accepted, bytes -> result (same bytes) -> done. */
function startEchoServer() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 << 20 });
  wss.on("connection", (socket) => {
    let job = null;
    let chunks = [];
    let received = 0;
    socket.on("message", (data, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(data.toString());
        if (msg.type === "hello") socket.send(JSON.stringify({ type: "ready", version: "bench", limits: {} }));
        if (msg.type === "job") {
          job = msg;
          socket.send(JSON.stringify({ type: "accepted", id: job.id, queue_position: 0 }));
        }
        return;
      }
      chunks.push(data);
      received += data.length;
      if (job && received === job.bytes) {
        const body = Buffer.concat(chunks);
        chunks = [];
        const part = { name: "image", kind: "image", channels: job.channels, depth: job.depth, width: job.width, height: job.height, bytes: body.length };
        socket.send(JSON.stringify({ type: "result", id: job.id, format: "raw", width: job.width, height: job.height, channels: job.channels, depth: job.depth, parts: [part] }));
        for (let offset = 0; offset < body.length; offset += 1 << 20) socket.send(body.subarray(offset, offset + (1 << 20)));
        socket.send(JSON.stringify({ type: "done", id: job.id, info: {} }));
      }
    });
  });
  return new Promise((resolve) => wss.on("listening", () => resolve(wss)));
}

async function main() {
  const wss = await startEchoServer();
  const wsUrl = `ws://127.0.0.1:${wss.address().port}`;
  const plugin = loadPlugin({ allowedOrigins: [wsUrl] });
  const doc = plugin.ps.createDocument({ width, height, depth: 8 });
  const pixels = new Uint8Array(width * height * 4);
  for (let i = 0; i < pixels.length; i += 4) {
    pixels[i] = i & 255;
    pixels[i + 1] = (i >> 8) & 255;
    pixels[i + 2] = 200;
    pixels[i + 3] = 255;
  }
  plugin.ps.addPixelLayer(doc, { name: "Photo", width, height, pixels });
  const io = plugin.photoshopIO;
  let peakRss = process.memoryUsage().rss;
  const sample = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 20);

  const t0 = performance.now();
  const target = io.describeTarget();
  const source = await io.readPixels(target);
  const t1 = performance.now();
  const result = await plugin.jobClient.runJob({
    url: wsUrl,
    token: "bench",
    job: { format: "raw", width: source.width, height: source.height, channels: source.channels, depth: 8, color_profile: "srgb", options: {}, layers: false },
    data: source.bytes,
  });
  const t2 = performance.now();
  await io.writeResult(target, { left: source.bounds.left, top: source.bounds.top }, result.parts);
  const t3 = performance.now();
  clearInterval(sample);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  wss.close();

  const mb = source.bytes.byteLength / 2 ** 20;
  console.log(`UXP panel overhead, ${source.width}x${source.height} (${(source.width * source.height / 1e6).toFixed(1)} MP) 8-bit RGBA, ${mb.toFixed(0)} MiB each way, model excluded`);
  console.log(`  machine: ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model || ""}, node ${process.version}`);
  console.log(`  read   (getPixels + getData, stand-in host)        ${(t1 - t0).toFixed(0)} ms`);
  console.log(`  transfer (WebSocket upload + result download)      ${(t2 - t1).toFixed(0)} ms  (${((2 * mb) / ((t2 - t1) / 1000)).toFixed(0)} MiB/s)`);
  console.log(`  write  (createImageDataFromBuffer + putPixels, one history step) ${(t3 - t2).toFixed(0)} ms`);
  console.log(`  total                                              ${(t3 - t0).toFixed(0)} ms`);
  console.log(`  peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (test process: layer, copies and echo server included)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
