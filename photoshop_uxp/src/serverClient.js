// HTTP side of the server: health (no token) and info (options schema, limits, WebSocket URL).
"use strict";

const { UserError, serverError } = require("./errors.js");
const { serverDownMessage } = require("./jobClient.js");
const { manifestOrigins, permissionError } = require("./permissions.js");

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

/**
 * Check and normalise the server URL typed in Settings.
 * @param {string} text e.g. "http://127.0.0.1:8765/"
 * @returns {string} origin without a trailing slash
 */
function normaliseServerUrl(text) {
  const trimmed = String(text || "").trim().replace(/\/+$/, "");
  const match = /^http:\/\/([^/:]+|\[[^\]]+\])(?::(\d{1,5}))?$/.exec(trimmed);
  if (!match) {
    throw new UserError(`"${text}" is not a server address like http://127.0.0.1:8765`, "bad_url");
  }
  if (!LOOPBACK_HOSTS.includes(match[1])) {
    throw new UserError("The server must run on this computer (127.0.0.1).", "bad_url");
  }
  return trimmed;
}

/**
 * @param {string} url
 * @param {Record<string, string>} headerValues
 */
async function getJson(url, headerValues) {
  let response;
  try {
    const headers = new Headers(/** @type {any} */ (undefined));
    for (const [name, value] of Object.entries(headerValues)) headers.append(name, value);
    response = await fetch(url, { method: "GET", headers });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/permission|manifest|not allowed|not permitted/i.test(text)) throw permissionError(url, await manifestOrigins());
    throw new UserError(serverDownMessage(url), "server_down");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (response.status === 401) throw serverError({ code: "unauthorized" });
  if (!response.ok) {
    if (body && body.error && body.error.code) throw serverError(body.error);
    throw new UserError(`The server answered with an error: HTTP ${response.status}`, "http_error");
  }
  if (!body || typeof body !== "object") {
    throw new UserError(`${url} did not answer like a jewel-retouch server.`, "not_jewel_retouch");
  }
  return body;
}

/**
 * @typedef {object} OptionSpec one entry of /v1/info `options`
 * @property {string} name
 * @property {string} label
 * @property {string} type "enum" | "number" | "integer" | "boolean" | "list" (names from
 *   `choices`); a newer server may publish others, which the panel leaves out
 * @property {any} default
 * @property {string} description
 * @property {string[]} [choices]
 * @property {number} [minimum]
 * @property {number} [maximum]
 */

/**
 * @typedef {object} ServerInfo
 * @property {string} version
 * @property {{name: string, version: string}} model
 * @property {OptionSpec[]} options
 * @property {{max_pixels?: number, max_body_bytes?: number, max_dimension?: number}} limits
 * @property {string} wsUrl WebSocket job channel URL
 */

/**
 * Is the server up? (no token needed)
 * @param {string} serverUrl
 * @returns {Promise<{version: string}>}
 */
async function health(serverUrl) {
  const body = await getJson(`${normaliseServerUrl(serverUrl)}/v1/health`, {});
  if (body.status !== "ok") {
    throw new UserError("The server is not healthy.", "unhealthy");
  }
  return { version: String(body.version || "") };
}

/**
 * The server's options schema, limits and WebSocket URL.
 * @param {string} serverUrl
 * @param {string} token
 * @returns {Promise<ServerInfo>}
 */
async function info(serverUrl, token) {
  const base = normaliseServerUrl(serverUrl);
  if (!token) {
    throw new UserError(
      "No access token yet. Run `jewel-retouch token` and paste the token into Settings.",
      "no_token",
    );
  }
  const body = await getJson(`${base}/v1/info`, { Authorization: `Bearer ${token}` });
  const wsUrl = (body.websocket && body.websocket.url) || defaultWsUrl(base);
  return {
    version: String(body.version || ""),
    model: body.model || { name: "", version: "" },
    options: Array.isArray(body.options) ? body.options : [],
    limits: body.limits || {},
    wsUrl: String(wsUrl),
  };
}

/** @param {string} base http origin */
function defaultWsUrl(base) {
  const host = base.replace(/^http:\/\//, "").replace(/:\d+$/, "");
  return `ws://${host}:8766`;
}

module.exports = { health, info, normaliseServerUrl, LOOPBACK_HOSTS };
