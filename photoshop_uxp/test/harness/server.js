// Starts the REAL `jewel-retouch serve` as a subprocess on free ports, with its own token
// folder, and stops it afterwards.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const REPO_ROOT = path.join(__dirname, "..", "..", "..");
const READY_PREFIX = "jewel-retouch ready ";

function serverCommand() {
  const bin = process.platform === "win32" ? path.join(REPO_ROOT, ".venv", "Scripts", "jewel-retouch.exe") : path.join(REPO_ROOT, ".venv", "bin", "jewel-retouch");
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`make venv\` at the repository root first`);
  }
  return bin;
}

/**
 * @param {{extraArgs?: string[], readyTimeoutMs?: number}} [options]
 * @returns {Promise<{httpUrl: string, wsUrl: string, token: string, configDir: string, stop: () => Promise<void>}>}
 */
async function startServer(options = {}) {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "jr-uxp-"));
  const child = spawn(
    serverCommand(),
    ["serve", "--host", "127.0.0.1", "--port", "0", "--ws-port", "0", ...(options.extraArgs || [])],
    { env: { ...process.env, JEWEL_RETOUCH_CONFIG_DIR: configDir }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  const ready = await new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`jewel-retouch serve did not start in time. stderr:\n${stderr}`));
    }, options.readyTimeoutMs || 120000);
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      for (const line of buffered.split("\n")) {
        if (line.startsWith(READY_PREFIX)) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(READY_PREFIX.length)));
          return;
        }
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`jewel-retouch serve exited with ${code}. stderr:\n${stderr}`));
    });
  });
  child.stdout.resume();
  const token = fs.readFileSync(path.join(configDir, "token"), "utf8").trim();
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => {
        fs.rmSync(configDir, { recursive: true, force: true });
        resolve();
      });
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    });
  return { httpUrl: ready.http.replace(/\/+$/, ""), wsUrl: ready.ws.replace(/\/+$/, ""), token, configDir, stop, process: child };
}

/**
 * The server's answer for raw pixels over plain HTTP (the independent oracle for the tests).
 * @param {{httpUrl: string, token: string}} server
 * @param {{bytes: Uint8Array, width: number, height: number, channels: number, depth: number, profile?: string, options?: object}} image
 */
async function retouchOverHttp(server, image) {
  const response = await fetch(`${server.httpUrl}/v1/retouch`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${server.token}`,
      "Content-Type": "application/octet-stream",
      "X-Width": String(image.width),
      "X-Height": String(image.height),
      "X-Channels": String(image.channels),
      "X-Depth": String(image.depth),
      "X-Color-Profile": image.profile || "srgb",
      "X-Options": JSON.stringify(image.options || {}),
    },
    body: image.bytes,
  });
  if (!response.ok) throw new Error(`HTTP retouch failed: ${response.status} ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

module.exports = { startServer, retouchOverHttp };
