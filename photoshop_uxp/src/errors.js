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

const SERVER_MESSAGES = {
  unauthorized:
    "The server refused the access token. Run `jewel-retouch token` and paste the token into Settings.",
  forbidden: "The server refused this request (Host/Origin check).",
  too_large: "The image is larger than the server accepts. Select a smaller region.",
  invalid_options: "The server refused the options",
  invalid_pixels: "The server could not read the pixels",
  queue_full: "The server is busy with other images. Try again in a moment.",
  timeout: "The retouch took longer than the server allows.",
  internal: "The server failed while retouching",
};

/**
 * A UserError for an `error` message of the job channel.
 * @param {{code?: string, message?: string}} msg
 */
function serverError(msg) {
  const code = msg.code || "internal";
  const known = /** @type {Record<string, string>} */ (SERVER_MESSAGES)[code];
  const detail = msg.message ? `: ${msg.message}` : "";
  if (code === "unauthorized" || code === "queue_full" || code === "too_large") {
    return new UserError(known + (code === "too_large" ? detail : ""), code);
  }
  return new UserError(`${known || "The server reported an error"}${detail}`, code);
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
  UserError,
  CancelledError,
  MODAL_BUSY_ERROR_NUMBER,
  isModalBusy,
  serverError,
  messageFor,
};
