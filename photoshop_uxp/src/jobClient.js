// Client side of the WebSocket job channel (docs/protocol.md): hello, job header, raw pixel
// frames, progress, result parts, cancel. One connection per job; nothing is base64 or JPEG.
"use strict";

const { UserError, CancelledError, serverError } = require("./errors.js");
const { permissionError } = require("./permissions.js");

const CLIENT_NAME = "photoshop-uxp/0.1.0";
/** Binary frame size for the upload (the protocol allows up to 16 MiB; 1 MiB keeps UI smooth). */
const CHUNK_BYTES = 1 << 20;
/** Stop queueing frames while this much is still waiting in the socket (bounded memory). */
const HIGH_WATER_BYTES = 8 << 20;
const CONNECT_TIMEOUT_MS = 5000;
/** After sending `cancel`, how long to wait for `cancelled` before closing the socket. */
const CANCEL_GRACE_MS = 3000;

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** A cancel switch shared by the panel's Cancel button and a running job. */
class CancelSignal {
  constructor() {
    this.cancelled = false;
    /** @type {Array<() => void>} */
    this.listeners = [];
  }

  cancel() {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const listener of this.listeners.splice(0)) listener();
  }

  /** @param {() => void} listener called once, at cancel time (now if already cancelled) */
  onCancel(listener) {
    if (this.cancelled) listener();
    else this.listeners.push(listener);
  }
}

/**
 * @typedef {object} JobHeader the `job` message without `type`, `id` and `bytes`
 * @property {string} format "raw"
 * @property {number} width
 * @property {number} height
 * @property {number} channels 3 or 4
 * @property {number} depth 8 or 16
 * @property {string} color_profile
 * @property {Record<string, unknown>} options
 * @property {boolean} layers
 */

/**
 * @typedef {object} ResultPart
 * @property {string} name "image", "background", "gem", ...
 * @property {string} kind "image" | "layer" | "mask"
 * @property {number} width
 * @property {number} height
 * @property {number} channels
 * @property {number} depth
 * @property {Uint8Array} data the part's raw bytes (16-bit little-endian)
 */

/**
 * @typedef {object} JobResult
 * @property {Record<string, any>} header the server's `result` message
 * @property {ResultPart[]} parts in the server's order
 * @property {Record<string, any>} info the `done` message's info
 */

let jobCounter = 0;

/**
 * Run one retouch job over a fresh WebSocket connection.
 * @param {object} args
 * @param {string} args.url ws:// URL of the job channel
 * @param {string} args.token access token
 * @param {JobHeader} args.job
 * @param {Uint8Array} args.data exactly the bytes the header describes
 * @param {(stage: string, fraction: number) => void} [args.onProgress] stage is "upload",
 *   "queued", a server stage name, or "download"; fraction in 0..1 within that stage
 * @param {CancelSignal} [args.cancel]
 * @returns {Promise<JobResult>}
 */
function runJob({ url, token, job, data, onProgress, cancel }) {
  const progress = onProgress || (() => {});
  const id = `ps-${Date.now().toString(36)}-${++jobCounter}`;
  return new Promise((resolve, reject) => {
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(url, []);
    } catch (error) {
      reject(connectError(url, error));
      return;
    }
    ws.binaryType = "arraybuffer";
    let opened = false;
    let settled = false;
    let uploadDone = false;
    let cancelRequested = false;
    /** @type {Record<string, any> | null} */
    let resultHeader = null;
    /** @type {ResultPart[]} */
    let parts = [];
    let partIndex = 0;
    let partOffset = 0;
    let receivedBytes = 0;
    let expectedBytes = 0;

    const connectTimer = setTimeout(() => {
      if (!opened) finish(new UserError(serverDownMessage(url), "server_down"));
    }, CONNECT_TIMEOUT_MS);

    /** @param {Error | null} error @param {JobResult} [value] */
    function finish(error, value) {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      try {
        ws.close(1000, "");
      } catch (_) {
        // already closed
      }
      if (error) reject(error);
      else resolve(/** @type {JobResult} */ (value));
    }

    /** @param {Record<string, any>} msg */
    function send(msg) {
      ws.send(JSON.stringify(msg));
    }

    async function upload() {
      send({ type: "job", id, ...job, bytes: data.byteLength });
      for (let offset = 0; offset < data.byteLength; offset += CHUNK_BYTES) {
        while (ws.bufferedAmount > HIGH_WATER_BYTES && !settled) await sleep(2);
        if (settled || cancelRequested) return;
        ws.send(data.subarray(offset, Math.min(offset + CHUNK_BYTES, data.byteLength)));
        progress("upload", Math.min(1, (offset + CHUNK_BYTES) / data.byteLength));
      }
      uploadDone = true;
    }

    /** @param {Record<string, any>} msg */
    function onText(msg) {
      if (msg.id != null && msg.id !== id && msg.type !== "ready") return;
      switch (msg.type) {
        case "ready":
          upload().catch((error) => finish(connectError(url, error)));
          break;
        case "accepted":
          progress("queued", 0);
          break;
        case "progress":
          progress(String(msg.stage || "working"), Number(msg.fraction) || 0);
          break;
        case "result":
          resultHeader = msg;
          parts = (msg.parts || []).map(
            /** @param {Record<string, any>} p */ (p) => ({
              name: p.name,
              kind: p.kind,
              width: p.width ?? msg.width,
              height: p.height ?? msg.height,
              channels: p.channels,
              depth: p.depth,
              data: new Uint8Array(p.bytes),
            }),
          );
          expectedBytes = parts.reduce((sum, p) => sum + p.data.byteLength, 0);
          partIndex = 0;
          partOffset = 0;
          skipEmptyParts();
          break;
        case "done":
          if (!resultHeader) return finish(new UserError("The server ended the job without a result.", "protocol"));
          if (receivedBytes !== expectedBytes) {
            return finish(new UserError(`The server's result was cut short (${receivedBytes} of ${expectedBytes} bytes).`, "protocol"));
          }
          finish(null, { header: resultHeader, parts, info: msg.info || {} });
          break;
        case "cancelled":
          finish(new CancelledError());
          break;
        case "error":
          finish(serverError(msg));
          break;
        default:
          break; // newer servers may add messages; ignore what we do not know
      }
    }

    function skipEmptyParts() {
      while (partIndex < parts.length && partOffset >= parts[partIndex].data.byteLength) {
        partIndex += 1;
        partOffset = 0;
      }
    }

    /** @param {Uint8Array} chunk */
    function onBinary(chunk) {
      let read = 0;
      while (read < chunk.byteLength) {
        skipEmptyParts();
        if (partIndex >= parts.length) {
          return finish(new UserError("The server sent more result bytes than announced.", "protocol"));
        }
        const part = parts[partIndex];
        const take = Math.min(chunk.byteLength - read, part.data.byteLength - partOffset);
        part.data.set(chunk.subarray(read, read + take), partOffset);
        partOffset += take;
        read += take;
      }
      receivedBytes += chunk.byteLength;
      if (expectedBytes > 0) progress("download", receivedBytes / expectedBytes);
    }

    ws.onopen = () => {
      opened = true;
      clearTimeout(connectTimer);
      if (cancelRequested) return finish(new CancelledError());
      send({ type: "hello", token, client: CLIENT_NAME });
    };
    ws.onmessage = (event) => {
      if (settled) return;
      const payload = event.data;
      if (typeof payload === "string") {
        let msg;
        try {
          msg = JSON.parse(payload);
        } catch (_) {
          return finish(new UserError("The server sent a message that is not JSON.", "protocol"));
        }
        onText(msg);
      } else if (payload instanceof ArrayBuffer) {
        onBinary(new Uint8Array(payload));
      } else if (ArrayBuffer.isView(payload)) {
        const view = /** @type {ArrayBufferView} */ (payload);
        onBinary(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      }
    };
    ws.onerror = () => {
      // Always followed by onclose, which says what happened.
    };
    ws.onclose = (event) => {
      if (settled) return;
      if (cancelRequested) return finish(new CancelledError());
      if (!opened) return finish(new UserError(serverDownMessage(url), "server_down"));
      if (event && event.code === 4401) {
        return finish(serverError({ code: "unauthorized" }));
      }
      finish(new UserError("The connection to the server was lost during the retouch. Is the server still running?", "connection_lost"));
    };

    if (cancel) {
      cancel.onCancel(() => {
        if (settled) return;
        cancelRequested = true;
        if (!opened) {
          // onopen or onclose settles it
          return;
        }
        if (uploadDone) {
          // Ask politely; the server answers `cancelled`. Close if it does not.
          try {
            send({ type: "cancel", id });
          } catch (_) {
            return finish(new CancelledError());
          }
          setTimeout(() => finish(new CancelledError()), CANCEL_GRACE_MS);
        } else {
          // Mid-upload: closing the connection cancels the job (protocol rule 7).
          finish(new CancelledError());
        }
      });
    }
  });
}

/** @param {string} url */
function serverDownMessage(url) {
  return `The jewel-retouch server is not running (nothing answers at ${url}). Start it with: jewel-retouch serve`;
}

/**
 * @param {string} url
 * @param {unknown} error
 */
function connectError(url, error) {
  const text = error instanceof Error ? error.message : String(error);
  if (/permission|manifest|not allowed|not permitted/i.test(text)) {
    return permissionError(url, null);
  }
  return new UserError(`${serverDownMessage(url)} (${text})`, "server_down");
}

module.exports = { runJob, CancelSignal, serverDownMessage, CHUNK_BYTES };
