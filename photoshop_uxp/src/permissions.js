// The manifest's network permission, as the panel sees it. UXP lets a plug-in reach only the
// origins listed in manifest.json's requiredPermissions.network.domains (README: "Server on
// another port"); the panel reads that list from its own manifest so it can say, before
// Photoshop refuses, that a URL is not permitted and how to build a panel that permits it.
"use strict";

const { UserError } = require("./errors.js");

const DEFAULT_HTTP_PORT = 8765;
const DEFAULT_WS_PORT = 8766;

/** @type {Promise<string[] | "all" | null> | null} */
let cached = null;

/**
 * The origins this plug-in's manifest lets it reach, "all", or null when the manifest cannot
 * be read (then only Photoshop's own check applies).
 * @returns {Promise<string[] | "all" | null>}
 */
function manifestOrigins() {
  if (!cached) cached = readManifestOrigins();
  return cached;
}

/** @returns {Promise<string[] | "all" | null>} */
async function readManifestOrigins() {
  try {
    const uxp = /** @type {any} */ (require("uxp"));
    const folder = await uxp.storage.localFileSystem.getPluginFolder();
    const entry = await folder.getEntry("manifest.json");
    const manifest = JSON.parse(String(await entry.read()));
    const domains = manifest && manifest.requiredPermissions && manifest.requiredPermissions.network
      ? manifest.requiredPermissions.network.domains
      : undefined;
    if (domains === "all") return "all";
    return Array.isArray(domains) ? domains.map((domain) => originOf(String(domain))) : [];
  } catch (_) {
    return null;
  }
}

const DEFAULT_PORTS = /** @type {Record<string, string>} */ ({ "http:": "80", "ws:": "80", "https:": "443", "wss:": "443" });

/**
 * scheme, host and port of a URL (a URL's origin, as UXP compares them; UXP has no URL class
 * in every version, so a plain parse).
 * @param {string} url
 * @returns {{scheme: string, host: string, port: string} | null}
 */
function parts(url) {
  const match = /^([a-z][a-z0-9+.-]*:)\/\/([^/?#:]+|\[[^\]]+\])(?::(\d+))?(?:[/?#]|$)/i.exec(String(url).trim());
  if (!match) return null;
  const scheme = match[1].toLowerCase();
  const port = match[3] && match[3] !== DEFAULT_PORTS[scheme] ? String(Number(match[3])) : "";
  return { scheme, host: match[2].toLowerCase(), port };
}

/** @param {string} url */
function originOf(url) {
  const p = parts(url);
  return p ? `${p.scheme}//${p.host}${p.port ? `:${p.port}` : ""}` : String(url);
}

/**
 * @param {string} url
 * @param {string} scheme "http:" or "ws:"
 */
function portOf(url, scheme) {
  const p = parts(url);
  return p && p.scheme === scheme ? p.port : "";
}

/**
 * The error shown when Photoshop may not connect to `url`.
 * @param {string} url the address refused
 * @param {string[] | "all" | null} origins the manifest's list, when known
 * @param {{httpUrl?: string, wsUrl?: string}} [server] the server's two addresses, when known
 */
function permissionError(url, origins, server = {}) {
  const listed = Array.isArray(origins) && origins.length ? origins.join(", ") : "the manifest's list";
  const httpPort = portOf(server.httpUrl || url, "http:") || "HTTP_PORT";
  const wsPort = portOf(server.wsUrl || url, "ws:") || "WS_PORT";
  return new UserError(
    `${url} is not permitted by this panel's manifest. Photoshop lets the panel connect only to ` +
      `the addresses listed there: ${listed}. Start the server on those ports ` +
      `(jewel-retouch serve uses ${DEFAULT_HTTP_PORT} and ${DEFAULT_WS_PORT}), or build the panel ` +
      `for yours with: jewel-retouch install photoshop --port ${httpPort} --ws-port ${wsPort} ` +
      "and install the new .ccx.",
    "permission",
  );
}

/**
 * Null when the manifest permits `url` (or its list is unknown), else the error to show.
 * @param {string} url
 * @param {{httpUrl?: string, wsUrl?: string}} [server]
 * @returns {Promise<UserError | null>}
 */
async function checkPermitted(url, server = {}) {
  const origins = await manifestOrigins();
  if (origins === null || origins === "all") return null;
  if (origins.includes(originOf(url))) return null;
  return permissionError(url, origins, server);
}

module.exports = { manifestOrigins, checkPermitted, permissionError, originOf };
