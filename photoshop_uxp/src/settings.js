// Panel settings kept in UXP's localStorage: the server URL and the access token.
"use strict";

const DEFAULT_SERVER_URL = "http://127.0.0.1:8765";
const KEYS = { serverUrl: "jewel-retouch.serverUrl", token: "jewel-retouch.token" };

/** @returns {{serverUrl: string, token: string}} */
function loadSettings() {
  return {
    serverUrl: localStorage.getItem(KEYS.serverUrl) || DEFAULT_SERVER_URL,
    token: localStorage.getItem(KEYS.token) || "",
  };
}

/** @param {{serverUrl: string, token: string}} settings */
function saveSettings(settings) {
  localStorage.setItem(KEYS.serverUrl, settings.serverUrl);
  localStorage.setItem(KEYS.token, settings.token.trim());
}

module.exports = { loadSettings, saveSettings, DEFAULT_SERVER_URL };
