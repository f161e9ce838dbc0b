// Stand-in for the UXP runtime around the plug-in: the `uxp` module, localStorage, and the
// network globals (fetch, WebSocket) with UXP's manifest permission check: a plug-in may only
// reach the origins listed in manifest.json's requiredPermissions.network.domains.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { WebSocket: NodeWebSocket } = require("ws");

const nodeFetch = globalThis.fetch;

const MANIFEST = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "manifest.json"), "utf8"));
const MANIFEST_DOMAINS = MANIFEST.requiredPermissions.network.domains;

class LocalStorage {
  constructor() { this._items = new Map(); }
  get length() { return this._items.size; }
  key(index) { return [...this._items.keys()][index] ?? null; }
  getItem(key) { return this._items.has(key) ? this._items.get(key) : null; }
  setItem(key, value) { this._items.set(key, String(value)); }
  removeItem(key) { this._items.delete(key); }
  clear() { this._items.clear(); }
}

/**
 * @param {string[]} allowedOrigins origins the plug-in may reach
 */
function createUxpGlobals(allowedOrigins) {
  const allowed = new Set(allowedOrigins);
  const check = (url) => {
    const origin = new URL(url).origin;
    if (!allowed.has(origin)) {
      throw new TypeError(`Permission denied to the url ${url}. Manifest entry not found.`);
    }
  };

  class UxpWebSocket extends NodeWebSocket {
    constructor(url, protocols) {
      check(url);
      super(url, protocols && protocols.length ? protocols : undefined);
    }
  }

  const uxpFetch = async (input, init) => {
    check(String(input));
    return nodeFetch(input, init);
  };

  // The plug-in folder holds a manifest whose network permission is the one in force: the
  // stand-in is a panel packaged for exactly these origins (as `install photoshop --port` does).
  const manifestText = JSON.stringify({
    ...MANIFEST,
    requiredPermissions: { ...MANIFEST.requiredPermissions, network: { domains: [...allowed] } },
  });
  const pluginFolder = {
    async getEntry(name) {
      if (name !== "manifest.json") throw new Error(`no ${name} in the stand-in plug-in folder`);
      return { name, async read() { return manifestText; } };
    },
  };
  const storage = { localFileSystem: { async getPluginFolder() { return pluginFolder; } } };

  return {
    WebSocket: UxpWebSocket,
    fetch: uxpFetch,
    localStorage: new LocalStorage(),
    uxpModule: { storage, entrypoints: { setup() {} }, versions: { uxp: "7.3.0" } },
  };
}

module.exports = { createUxpGlobals, MANIFEST, MANIFEST_DOMAINS };
