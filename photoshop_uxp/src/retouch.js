// One retouch, start to finish: check the target, read its pixels, run the job on the server,
// and insert the result. The panel only calls `retouch()` and shows what it reports.
"use strict";

const { UserError, CancelledError } = require("./errors.js");
const { runJob } = require("./jobClient.js");
const { info: serverInfo } = require("./serverClient.js");
const { describeTarget, readPixels, writeResult } = require("./photoshopIO.js");
const { wireByteCount } = require("./pixels.js");
const { collectWarnings } = require("./warnings.js");

/**
 * @typedef {object} RetouchRequest
 * @property {string} serverUrl http:// address of the server
 * @property {string} token access token
 * @property {Record<string, unknown>} options values for the server's options schema
 * @property {boolean} separateLayers ask for the model's separable layers and masks
 * @property {import("./jobClient.js").CancelSignal} cancel
 * @property {(text: string) => void} [onStatus] one-line status updates
 * @property {(stage: string, fraction: number) => void} [onProgress]
 * @property {import("./serverClient.js").ServerInfo} [info] a fresh /v1/info answer, if known
 */

/**
 * @typedef {object} RetouchOutcome
 * @property {{layerID: number, kind: "layer" | "group"}} inserted
 * @property {import("./photoshopIO.js").SourcePixels} source what was sent
 * @property {import("./jobClient.js").JobResult} result what came back
 * @property {import("./warnings.js").RetouchWarning[]} warnings the model's notes on the run
 */

/**
 * @param {RetouchRequest} request
 * @returns {Promise<RetouchOutcome>}
 */
async function retouch(request) {
  const status = request.onStatus || (() => {});
  const busy = () => status("Photoshop is busy with another operation; waiting for it…");
  const cancel = request.cancel;
  const target = describeTarget();
  const info = request.info || (await serverInfo(request.serverUrl, request.token));
  if (cancel.cancelled) throw new CancelledError();

  status("Reading the layer…");
  const source = await readPixels(target, { onBusy: busy });
  checkLimits(source, info.limits);
  if (cancel.cancelled) throw new CancelledError();

  status("Retouching on the server…");
  const result = await runJob({
    url: info.wsUrl,
    token: request.token,
    job: {
      format: "raw",
      width: source.width,
      height: source.height,
      channels: source.channels,
      depth: target.depth,
      color_profile: target.colorProfile,
      options: request.options,
      layers: request.separateLayers,
    },
    data: source.bytes,
    onProgress: request.onProgress,
    cancel,
  });
  checkResult(result, target.depth);
  // A Cancel pressed while the last bytes arrived still means "do not touch my document".
  if (cancel.cancelled) throw new CancelledError();

  status("Adding the result layer…");
  const inserted = await writeResult(
    target,
    { left: source.bounds.left, top: source.bounds.top },
    result.parts,
    { onBusy: busy, selectionMask: source.selectionMask },
  );
  const warnings = collectWarnings(result.header.warnings, result.info.warnings);
  return { inserted, source, result, warnings };
}

/**
 * @param {import("./photoshopIO.js").SourcePixels} source
 * @param {{max_pixels?: number, max_dimension?: number}} limits
 */
function checkLimits(source, limits) {
  const pixels = source.width * source.height;
  if (limits.max_pixels && pixels > limits.max_pixels) {
    throw new UserError(
      `The region is ${(pixels / 1e6).toFixed(1)} MP; the server accepts at most ` +
        `${(limits.max_pixels / 1e6).toFixed(1)} MP. Select a smaller region.`,
      "too_large",
    );
  }
  if (limits.max_dimension && Math.max(source.width, source.height) > limits.max_dimension) {
    throw new UserError(
      `The region is ${source.width}x${source.height}; the server accepts sides up to ` +
        `${limits.max_dimension} pixels. Select a smaller region.`,
      "too_large",
    );
  }
}

/**
 * The result must be raw pixels at the document's depth, with an image part that adds up.
 * @param {import("./jobClient.js").JobResult} result
 * @param {number} depth
 */
function checkResult(result, depth) {
  for (const part of result.parts) {
    const expected = wireByteCount(part.width, part.height, part.channels, part.depth);
    if (part.data.byteLength !== expected) {
      throw new UserError(`The server's "${part.name}" part has the wrong size.`, "protocol");
    }
    if (part.kind !== "mask" && part.depth !== depth) {
      throw new UserError(`The server returned ${part.depth}-bit pixels for a ${depth}-bit document.`, "protocol");
    }
  }
  if (!result.parts.some((p) => p.kind === "image")) {
    throw new UserError("The server's result has no image.", "protocol");
  }
}

module.exports = { retouch };
