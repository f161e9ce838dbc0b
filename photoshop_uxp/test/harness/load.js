// Loads the plug-in's modules against the stand-in host: `require("photoshop")` and
// `require("uxp")` resolve to the stand-ins, and UXP's globals are installed.
"use strict";

const Module = require("node:module");
const path = require("node:path");
const { createPhotoshop } = require("./photoshop.js");
const { createUxpGlobals, MANIFEST_DOMAINS } = require("./uxp.js");

const PLUGIN_ROOT = path.join(__dirname, "..", "..");
let current = null;
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (current && request === "photoshop") return current.photoshop.module;
  if (current && request === "uxp") return current.uxp.uxpModule;
  return originalLoad.call(this, request, parent, isMain);
};

const GLOBAL_NAMES = ["WebSocket", "fetch", "localStorage", "document"];

/**
 * A fresh host and a fresh copy of the plug-in's modules.
 * @param {{allowedOrigins?: string[], document?: any}} [options] allowedOrigins: the network
 *   permissions in force (default: exactly the manifest's)
 */
function loadPlugin(options = {}) {
  const photoshop = createPhotoshop();
  const uxp = createUxpGlobals(options.allowedOrigins || MANIFEST_DOMAINS);
  current = { photoshop, uxp };
  globalThis.WebSocket = uxp.WebSocket;
  globalThis.fetch = uxp.fetch;
  globalThis.localStorage = uxp.localStorage;
  if (options.document) globalThis.document = options.document;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(path.join(PLUGIN_ROOT, "src") + path.sep) || key === path.join(PLUGIN_ROOT, "index.js")) {
      delete require.cache[key];
    }
  }
  const req = (name) => require(path.join(PLUGIN_ROOT, "src", name));
  return {
    ps: photoshop.control,
    photoshop: photoshop.module,
    localStorage: uxp.localStorage,
    retouch: req("retouch.js"),
    photoshopIO: req("photoshopIO.js"),
    jobClient: req("jobClient.js"),
    serverClient: req("serverClient.js"),
    panel: req("panel.js"),
    pixels: req("pixels.js"),
    errors: req("errors.js"),
    warnings: req("warnings.js"),
  };
}

module.exports = { loadPlugin, PLUGIN_ROOT, MANIFEST_DOMAINS };
