// The model's warnings about a run (docs/protocol.json "warnings"): collected from the job
// channel's `result` message (`warnings`) and `done` message (`info.warnings`), shown in the
// panel's status area after the paste.
"use strict";

/**
 * @typedef {object} RetouchWarning
 * @property {string} code stable, e.g. "background_kept"
 * @property {string} message what the user is told
 */

/**
 * Every warning once (by code), in the order first seen; malformed entries are skipped, so a
 * warning never makes a retouch fail.
 * @param {...unknown} sources lists of {code, message}, or anything else (ignored)
 * @returns {RetouchWarning[]}
 */
function collectWarnings(...sources) {
  /** @type {RetouchWarning[]} */
  const out = [];
  const seen = new Set();
  for (const source of sources) {
    if (!Array.isArray(source)) continue;
    for (const item of source) {
      if (!item || typeof item !== "object") continue;
      const { code, message } = /** @type {Record<string, unknown>} */ (item);
      if (typeof code !== "string" || !code || typeof message !== "string" || !message) continue;
      if (seen.has(code)) continue;
      seen.add(code);
      out.push({ code, message });
    }
  }
  return out;
}

/**
 * The sentence the panel adds after "Done" when the model had something to say.
 * @param {RetouchWarning[]} warnings
 */
function warningsText(warnings) {
  if (!warnings.length) return "";
  return `Check the result: ${warnings.map((w) => w.message).join(" ")}`;
}

module.exports = { collectWarnings, warningsText };
