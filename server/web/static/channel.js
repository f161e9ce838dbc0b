// One WebSocket job channel (docs/protocol.md "WebSocket job channel"): hello, then jobs one
// after another, each an encoded file in, progress messages, the encoded result out.

const FRAME_BYTES = 1 << 20; // 1 MiB binary frames, as the protocol suggests

export class TokenRefused extends Error {}
export class Cancelled extends Error {}

export class ServerError extends Error {
  constructor(code, message, retryAfter) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class JobChannel {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.queue = [];
    this.waiting = null;
    this.closed = null;
    this.cancelled = new Set();
  }

  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        reject(new Error(`cannot open the WebSocket channel ${this.url}: ${error.message}`));
        return;
      }
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onmessage = (event) => this.push(event.data);
      ws.onclose = (event) => {
        this.closed = `the connection closed (${event.code}${event.reason ? ": " + event.reason : ""})`;
        this.push(null);
      };
      ws.onerror = () => reject(new Error("cannot open the WebSocket channel " + this.url));
      ws.onopen = async () => {
        ws.send(JSON.stringify({ type: "hello", token: this.token, client: "web/0.2.0" }));
        const answer = await this.next();
        if (answer && answer.type === "ready") resolve();
        else if (answer && answer.code === "unauthorized") reject(new TokenRefused(answer.message));
        else reject(new Error(answer ? answer.message : this.closed));
      };
    });
  }

  push(data) {
    let message = data;
    if (typeof data === "string") {
      try {
        message = JSON.parse(data);
      } catch {
        return; // not JSON: not for us
      }
    }
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
    return Boolean(this.ws) && this.ws.readyState === WebSocket.OPEN;
  }

  // Runs one job; resolves {bytes, warnings, info}. onProgress(stage, fraction).
  async run(id, bytes, format, options, onProgress) {
    const header = { type: "job", id, format, bytes: bytes.length, options, layers: false };
    this.ws.send(JSON.stringify(header));
    for (let at = 0; at < bytes.length; at += FRAME_BYTES) {
      this.ws.send(bytes.subarray(at, at + FRAME_BYTES));
    }
    let expected = null;
    let listed = []; // the result's parts, in the order their bytes arrive
    const warnings = []; // lists from `result` and `done.info` (docs/protocol.json "warnings")
    const chunks = [];
    let received = 0;
    for (;;) {
      const message = await this.next();
      if (message === null) {
        if (this.cancelled.has(id)) throw new Cancelled("cancelled");
        throw new Error(this.closed || "the connection closed");
      }
      if (message instanceof ArrayBuffer) {
        chunks.push(new Uint8Array(message));
        received += message.byteLength;
        continue;
      }
      if (!message || (message.id !== id && message.id !== null && message.id !== undefined)) {
        continue;
      }
      if (message.type === "progress") onProgress(message.stage, Number(message.fraction) || 0);
      else if (message.type === "accepted") onProgress("waiting", 0);
      else if (message.type === "result") {
        listed = message.parts || [];
        expected = listed.reduce((sum, part) => sum + part.bytes, 0);
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
        // One answer may hold several files (the image, then metal variants): split them.
        const parts = [];
        let start = 0;
        for (const part of listed) {
          parts.push({ name: part.name, kind: part.kind, data: result.subarray(start, start + part.bytes) });
          start += part.bytes;
        }
        const image = parts.find((part) => part.kind === "image");
        return {
          bytes: image ? image.data : result,
          parts,
          warnings: collectWarnings(warnings),
          info: message.info || {},
        };
      } else if (message.type === "error") {
        if (message.code === "unauthorized") throw new TokenRefused(message.message);
        throw new ServerError(message.code, message.message, message.retry_after);
      } else if (message.type === "cancelled") throw new Cancelled("cancelled");
    }
  }

  // Asks the server to stop job `id`, then closes the connection (which cancels it too, so a
  // job whose cancel crosses its last message, or a server that never answers, cannot hang).
  cancel(id) {
    this.cancelled.add(id);
    try {
      if (this.usable) this.ws.send(JSON.stringify({ type: "cancel", id }));
    } finally {
      this.close();
      this.push(null);
    }
  }

  close() {
    if (this.ws) this.ws.close();
  }
}

// Every warning once (by code), in the order first seen; malformed entries are skipped.
export function collectWarnings(lists) {
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
