// Errors the panel shows to the user: every failure ends as one clear sentence.
"use strict";

/** A failure with a message written for the retoucher (shown as is in the panel). */
class UserError extends Error {
  /**
   * @param {string} message what went wrong and what to do about it
   * @param {string} [code] a short machine-readable reason (server error code, "server_down", ...)
   */
  constructor(message, code) {
    super(message);
    this.name = "UserError";
    this.code = code || "error";
  }
}

/** The user pressed Cancel. */
class CancelledError extends Error {
  constructor() {
    super("Retouch cancelled.");
    this.name = "CancelledError";
    this.code = "cancelled";
  }
}

/** Photoshop's error number when another modal operation holds the host. */
const MODAL_BUSY_ERROR_NUMBER = 9;

/**
 * True for the "host is in a modal state" rejection of core.executeAsModal.
 * @param {unknown} error
 */
function isModalBusy(error) {
  return Boolean(error) && /** @type {{number?: number}} */ (error).number === MODAL_BUSY_ERROR_NUMBER;
}

/**
 * What the panel says for each server error code: docs/protocol.json "errors" (summary and
 * advice; test/uxp_contract.test.js compares the two). Shown as "summary: server message advice".
 * @type {Record<string, {summary: string, advice: string}>}
 */
const SERVER_ERRORS = {
  bad_request: {
    summary: "The server could not read the request",
    advice: "Check the image (it may be damaged) and try again; if it keeps failing, see the `jewel-retouch serve` window.",
  },
  unauthorized: {
    summary: "The server refused the access token",
    advice: "Run `jewel-retouch token` and paste the token into the settings.",
  },
  forbidden: {
    summary: "The server refused this request (its Host or Origin check)",
    advice: "Connect to the server at http://127.0.0.1, or start it with --allow-origin for this page.",
  },
  moved: {
    summary: "The server moved this address",
    advice: "Use the address the server names; update the plug-in if it asks for an old one.",
  },
  not_found: {
    summary: "The server does not know this request",
    advice: "Use the same version of the server and the plug-in.",
  },
  method_not_allowed: {
    summary: "The server does not allow this request",
    advice: "Use the same version of the server and the plug-in.",
  },
  too_large: {
    summary: "The image is too large for the server",
    advice: "Select a smaller region, or start the server with a larger pixel limit (--max-megapixels).",
  },
  unsupported_format: {
    summary: "The server cannot read this image format",
    advice: "Use PNG, TIFF, JPEG or WebP images, 8 or 16 bits, RGB or greyscale.",
  },
  invalid_options: {
    summary: "The server refused the options",
    advice: "Check the option values (`jewel-retouch info` lists every option and its range).",
  },
  invalid_pixels: {
    summary: "The server could not read the pixels",
    advice: "Use the plug-in that came with this server version.",
  },
  queue_full: { summary: "The server is busy with other images", advice: "Try again in a moment." },
  unavailable: {
    summary: "The server is shutting down",
    advice: "Start it again with `jewel-retouch serve`, then try again.",
  },
  timeout: {
    summary: "The server gave up on the retouch (it ran past its time limit)",
    advice: "Try a smaller region, or start the server with a longer job timeout (--job-timeout).",
  },
  internal: {
    summary: "The server failed while retouching",
    advice: "See the `jewel-retouch serve` window for details.",
  },
};

/**
 * A UserError for a server error (a job channel `error` message, or an HTTP JSON error body).
 * @param {{code?: string, message?: string}} msg
 */
function serverError(msg) {
  const code = msg.code || "internal";
  const known = SERVER_ERRORS[code];
  let detail = (msg.message || "").trim();
  if (!known) return new UserError(`The server reported an error (${code})${detail ? `: ${detail}` : "."}`, code);
  if (detail && !/[.!?]$/.test(detail)) detail += ".";
  const text = detail ? `${known.summary}: ${detail} ${known.advice}` : `${known.summary}. ${known.advice}`;
  return new UserError(text, code);
}

/**
 * The sentence the panel shows for any failure.
 * @param {unknown} error
 * @returns {string}
 */
function messageFor(error) {
  if (error instanceof UserError || error instanceof CancelledError) return error.message;
  if (isModalBusy(error)) {
    return "Photoshop stayed busy with another operation. Finish it (close dialogs) and try again.";
  }
  const text = error instanceof Error ? error.message : String(error);
  return `Unexpected error: ${text}`;
}

module.exports = {
  SERVER_ERRORS,
  UserError,
  CancelledError,
  MODAL_BUSY_ERROR_NUMBER,
  isModalBusy,
  serverError,
  messageFor,
};
