// A stand-in jewel-retouch server for what the real one cannot be made to do on demand: it
// echoes each job's pixels back and reports warnings (in the `result` message and in
// `done.info`, as docs/protocol.json "warnings" says). /v1/health and /v1/info over HTTP, the
// job channel over WebSocket (the `ws` package), both on loopback.
"use strict";

const http = require("node:http");
const { WebSocketServer } = require("ws");

/**
 * @param {{resultWarnings?: object[], doneWarnings?: object[]}} [script]
 */
async function startFakeServer(script = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 << 20 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const wsUrl = `ws://127.0.0.1:${wss.address().port}`;
  wss.on("connection", (ws) => {
    let job = null;
    let chunks = [];
    let received = 0;
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data));
        if (msg.type === "hello") ws.send(JSON.stringify({ type: "ready", version: "0", limits: {} }));
        if (msg.type === "job") {
          job = msg;
          ws.send(JSON.stringify({ type: "accepted", id: job.id, queue_position: 0 }));
        }
        return;
      }
      chunks.push(data);
      received += data.length;
      if (!job || received < job.bytes) return;
      const bytes = Buffer.concat(chunks);
      chunks = [];
      const part = { name: "image", kind: "image", width: job.width, height: job.height, channels: job.channels, depth: job.depth, bytes: bytes.length };
      const header = { type: "result", id: job.id, format: "raw", width: job.width, height: job.height, channels: job.channels, depth: job.depth, parts: [part] };
      if (script.resultWarnings) header.warnings = script.resultWarnings;
      ws.send(JSON.stringify(header));
      ws.send(bytes);
      ws.send(JSON.stringify({ type: "done", id: job.id, info: { warnings: script.doneWarnings || [] } }));
    });
  });
  const httpServer = http.createServer((request, response) => {
    const body = request.url.startsWith("/v1/health")
      ? { status: "ok", version: "fake" }
      : { version: "fake", model: { name: "fake", version: "0" }, options: [], limits: {}, websocket: { url: wsUrl } };
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body));
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const httpUrl = `http://127.0.0.1:${/** @type {any} */ (httpServer.address()).port}`;
  const stop = async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => httpServer.close(resolve));
  };
  return { httpUrl, wsUrl, token: "fake-token", stop };
}

module.exports = { startFakeServer };
