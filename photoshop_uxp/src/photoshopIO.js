// Everything that touches Photoshop: find what to retouch, read its pixels with imaging.getPixels,
// and write the result as new layers with imaging.putPixels inside one modal, one history step.
"use strict";

const { app, core, imaging, constants } = require("photoshop");
const { UserError, isModalBusy } = require("./errors.js");
const { samplesToWireBytes, wireBytesToSamples } = require("./pixels.js");

/** The history step (and modal command) every retouch creates. */
const HISTORY_NAME = "Jewel Retouch";
// Names from docs/protocol.json "paste" (test/uxp_contract.test.js compares them).
const LAYER_TITLES = {
  background: "Background",
  shadow: "Shadow",
  reflection: "Reflection",
  cleanup: "Cleanup",
  tone: "Tone",
};
const GEMS_LAYER_NAME = "Gems (retouched)";

/** Photoshop colour profile names -> the wire's `color_profile` names (docs/protocol.md). */
const PROFILE_NAMES = {
  "sRGB IEC61966-2.1": "srgb",
  "Adobe RGB (1998)": "adobe-rgb",
  "Display P3": "display-p3",
  "ProPhoto RGB": "prophoto",
};

const MODAL_RETRY_MS = 250;
const MODAL_WAIT_MS = 30000;

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/**
 * Run `body` inside core.executeAsModal, retrying while Photoshop is busy in another modal
 * operation (error number 9), for up to `waitMs`.
 * @template T
 * @param {(context: import("photoshop/dom/CoreModules").ExecutionContext) => Promise<T>} body
 * @param {{onBusy?: () => void, waitMs?: number}} [hooks]
 * @returns {Promise<T>}
 */
async function withModal(body, hooks = {}) {
  const deadline = Date.now() + (hooks.waitMs ?? MODAL_WAIT_MS);
  for (;;) {
    try {
      return await core.executeAsModal(body, { commandName: HISTORY_NAME });
    } catch (error) {
      if (!isModalBusy(error) || Date.now() >= deadline) throw error;
      if (hooks.onBusy) hooks.onBusy();
      await sleep(MODAL_RETRY_MS);
    }
  }
}

/**
 * @typedef {{left: number, top: number, right: number, bottom: number}} Bounds
 */

/** @param {Bounds} a @param {Bounds} b @returns {Bounds} */
function intersect(a, b) {
  return {
    left: Math.max(a.left, b.left),
    top: Math.max(a.top, b.top),
    right: Math.min(a.right, b.right),
    bottom: Math.min(a.bottom, b.bottom),
  };
}

/** @param {Bounds} b */
function isEmpty(b) {
  return b.right <= b.left || b.bottom <= b.top;
}

/**
 * @typedef {object} Target what one retouch works on
 * @property {number} documentID
 * @property {number} layerID
 * @property {string} layerName
 * @property {8 | 16} depth
 * @property {string} colorProfileName Photoshop's name of the document profile
 * @property {string} colorProfile the wire name (srgb, adobe-rgb, ...)
 * @property {Bounds} region requested bounds (selection box or whole layer content)
 * @property {boolean} maskToSelection the selection is not a plain rectangle: the result gets
 *   the selection's shape as its layer mask
 */

/**
 * Check the active document and layer and decide the region to retouch.
 * @returns {Target}
 */
function describeTarget() {
  const doc = app.activeDocument;
  if (!doc) throw new UserError("Open a document first.", "no_document");
  if (doc.mode !== constants.DocumentMode.RGB) {
    throw new UserError(
      "Jewel Retouch works on RGB documents. Convert with Image > Mode > RGB Color.",
      "unsupported_mode",
    );
  }
  /** @type {8 | 16} */
  let depth;
  if (doc.bitsPerChannel === constants.BitsPerChannelType.EIGHT) depth = 8;
  else if (doc.bitsPerChannel === constants.BitsPerChannelType.SIXTEEN) depth = 16;
  else {
    throw new UserError(
      "Jewel Retouch works on 8-bit and 16-bit documents. Convert with Image > Mode > 16 Bits/Channel.",
      "unsupported_depth",
    );
  }
  const profileName = doc.colorProfileName;
  const colorProfile = /** @type {Record<string, string>} */ (PROFILE_NAMES)[profileName];
  if (!colorProfile) {
    throw new UserError(
      `The document's colour profile "${profileName}" is not supported. Use sRGB, Adobe RGB (1998), ` +
        "Display P3 or ProPhoto RGB (Edit > Convert to Profile).",
      "unsupported_profile",
    );
  }
  const active = doc.activeLayers;
  if (active.length !== 1) {
    throw new UserError("Select exactly one layer to retouch.", "no_layer");
  }
  const layer = active[0];
  if (layer.kind !== constants.LayerKind.NORMAL) {
    throw new UserError(
      `"${layer.name}" is not a pixel layer. Rasterize it first (Layer > Rasterize > Layer).`,
      "not_pixel_layer",
    );
  }
  const layerBounds = layer.boundsNoEffects;
  /** @type {Bounds} */
  const content = {
    left: layerBounds.left,
    top: layerBounds.top,
    right: layerBounds.right,
    bottom: layerBounds.bottom,
  };
  if (isEmpty(content)) throw new UserError(`"${layer.name}" has no pixels.`, "empty_layer");
  let region = content;
  // Document.selection exists from Photoshop 25.0; older versions retouch the whole layer.
  const selectionBounds = doc.selection ? doc.selection.bounds : null;
  const maskToSelection = Boolean(selectionBounds) && !doc.selection.solid;
  if (selectionBounds) {
    region = intersect(selectionBounds, content);
    if (isEmpty(region)) {
      throw new UserError("The selection does not cover any pixels of the layer.", "empty_region");
    }
  }
  return {
    documentID: doc.id,
    layerID: layer.id,
    layerName: layer.name,
    depth,
    colorProfileName: profileName,
    colorProfile,
    region,
    maskToSelection,
  };
}

/**
 * @typedef {object} SourcePixels
 * @property {Uint8Array} bytes wire bytes (16-bit little-endian, full range)
 * @property {number} width
 * @property {number} height
 * @property {number} channels 3 (no alpha) or 4
 * @property {Bounds} bounds where the pixels are, in document coordinates (after trimming)
 * @property {SelectionMask | null} selectionMask the selection's shape over `bounds`, when the
 *   selection is not a plain rectangle
 */

/**
 * @typedef {object} SelectionMask
 * @property {Uint8Array} data 0..255, one byte per pixel, row-major
 * @property {Bounds} bounds where the mask sits in the document
 */

/**
 * Read the target's pixels. Photoshop trims `sourceBounds` to the layer's content, so the
 * returned bounds (not the requested ones) say where the pixels sit.
 * @param {Target} target
 * @param {{onBusy?: () => void}} [hooks]
 * @returns {Promise<SourcePixels>}
 */
async function readPixels(target, hooks) {
  return withModal(async () => {
    const result = await imaging.getPixels({
      documentID: target.documentID,
      layerID: target.layerID,
      sourceBounds: target.region,
      componentSize: target.depth,
      applyAlpha: false,
    });
    const image = result.imageData;
    try {
      if (image.components !== 3 && image.components !== 4) {
        throw new UserError(`Unexpected pixel layout: ${image.components} components.`, "layout");
      }
      // fullRange: 16-bit samples as 0..65535 (Photoshop's own range is 0..32768).
      const samples = await image.getData({ chunky: true, fullRange: true });
      if (samples instanceof Float32Array) {
        throw new UserError("32-bit pixels are not supported.", "unsupported_depth");
      }
      const sb = result.sourceBounds;
      const bounds = { left: sb.left, top: sb.top, right: sb.right, bottom: sb.bottom };
      return {
        bytes: samplesToWireBytes(samples),
        width: image.width,
        height: image.height,
        channels: image.components,
        bounds,
        selectionMask: target.maskToSelection ? await readSelection(target, bounds) : null,
      };
    } finally {
      await image.dispose();
    }
  }, hooks);
}

/**
 * The selection's shape over `bounds` as 8-bit grey (255 = fully selected).
 * @param {Target} target
 * @param {Bounds} bounds
 * @returns {Promise<SelectionMask>}
 */
async function readSelection(target, bounds) {
  const selection = await imaging.getSelection({ documentID: target.documentID, sourceBounds: bounds });
  const image = selection.imageData;
  try {
    const samples = await image.getData({ chunky: true, fullRange: true });
    if (samples instanceof Float32Array) {
      throw new UserError("32-bit selections are not supported.", "unsupported_depth");
    }
    const data = new Uint8Array(image.width * image.height);
    const scale = samples instanceof Uint16Array ? 255 / 65535 : 1;
    for (let i = 0; i < data.length; i++) data[i] = Math.round(samples[i * image.components] * scale);
    const sb = selection.sourceBounds;
    return { data, bounds: { left: sb.left, top: sb.top, right: sb.right, bottom: sb.bottom } };
  } finally {
    await image.dispose();
  }
}

/**
 * Give `layerID` a user mask (8-bit grey data placed at `at`).
 * @param {Target} target
 * @param {number} layerID
 * @param {Uint8Array} data
 * @param {{left: number, top: number, width: number, height: number}} at
 */
async function putMask(target, layerID, data, at) {
  const mask = await imaging.createImageDataFromBuffer(data, {
    width: at.width,
    height: at.height,
    components: 1,
    chunky: true,
    colorSpace: "Grayscale",
    colorProfile: "Gray Gamma 2.2",
  });
  try {
    await imaging.putLayerMask({
      documentID: target.documentID,
      layerID,
      kind: "user",
      imageData: mask,
      targetBounds: at,
      replace: true,
      commandName: HISTORY_NAME,
    });
  } finally {
    await mask.dispose();
  }
}

/**
 * @typedef {object} PixelPart
 * @property {string} name
 * @property {string} kind "image" | "layer" | "mask" | "variant"
 * @property {number} width
 * @property {number} height
 * @property {number} channels
 * @property {number} depth
 * @property {Uint8Array} data wire bytes
 */

/**
 * @param {Target} target
 * @param {PixelPart} part
 */
async function imageDataFor(target, part) {
  const samples = wireBytesToSamples(part.data, part.depth);
  return imaging.createImageDataFromBuffer(samples, {
    width: part.width,
    height: part.height,
    components: part.channels,
    chunky: true,
    colorSpace: "RGB",
    colorProfile: target.colorProfileName,
    fullRange: part.depth === 16,
  });
}

/**
 * @param {any} doc
 * @param {number} layerID
 * @returns {any} the layer, searched through groups
 */
function findLayer(doc, layerID) {
  /** @type {(layers: any) => any} */
  const walk = (layers) => {
    for (const layer of layers) {
      if (layer.id === layerID) return layer;
      if (layer.layers) {
        const found = walk(layer.layers);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(doc.layers);
}

/**
 * Put pixels into a fresh pixel layer.
 * @param {Target} target
 * @param {any} doc
 * @param {PixelPart} part
 * @param {string} name
 * @param {{left: number, top: number}} at
 */
async function newPixelLayer(target, doc, part, name, at) {
  const layer = await doc.createPixelLayer({ name });
  if (!layer) throw new UserError("Photoshop could not create a new layer.", "create_layer");
  const data = await imageDataFor(target, part);
  try {
    await imaging.putPixels({
      documentID: target.documentID,
      layerID: layer.id,
      imageData: data,
      targetBounds: { left: at.left, top: at.top, width: part.width, height: part.height },
      replace: true,
      commandName: HISTORY_NAME,
    });
  } finally {
    await data.dispose();
  }
  return layer;
}

/**
 * Insert the result above the original layer, as one history step named "Jewel Retouch".
 * With separable layers: a group holding Background, Cleanup, Tone and the retouched Gems
 * (the full result with the gem mask as its layer mask).
 * @param {Target} target
 * @param {{left: number, top: number}} at top-left of the retouched pixels in the document
 * @param {PixelPart[]} parts the server's result parts
 * @param {{onBusy?: () => void, selectionMask?: SelectionMask | null}} [hooks] selectionMask: the
 *   shape of a non-rectangular selection, given to the new layer (or group) as its layer mask
 * @returns {Promise<{layerID: number, kind: "layer" | "group"}>}
 */
async function writeResult(target, at, parts, hooks = {}) {
  const image = parts.find((p) => p.kind === "image");
  if (!image) throw new UserError("The server's result has no image.", "protocol");
  const layerParts = parts.filter((p) => p.kind === "layer");
  const gemMask = parts.find((p) => p.kind === "mask" && p.name === "gem");
  const variantParts = parts.filter((p) => p.kind === "variant");

  return withModal(async (context) => {
    const doc = app.documents.find((d) => d.id === target.documentID);
    if (!doc) throw new UserError("The document was closed before the result arrived.", "gone");
    const original = findLayer(doc, target.layerID);
    if (!original) {
      throw new UserError(`The layer "${target.layerName}" was deleted before the result arrived.`, "gone");
    }
    const suspension = await context.hostControl.suspendHistory({
      documentID: target.documentID,
      name: HISTORY_NAME,
    });
    try {
      let created;
      if (layerParts.length === 0) {
        created = await newPixelLayer(target, doc, image, `${original.name} (Jewel Retouch)`, at);
        created.move(original, constants.ElementPlacement.PLACEBEFORE);
      } else {
        created = await doc.createLayerGroup({ name: `${original.name} (Jewel Retouch)` });
        if (!created) throw new UserError("Photoshop could not create a layer group.", "create_layer");
        created.move(original, constants.ElementPlacement.PLACEBEFORE);
        // Bottom to top: the model's layers in its order, then the gems on top.
        let below = null;
        const stack = [...layerParts.map((p) => ({ part: p, name: title(p.name) }))];
        if (gemMask) stack.push({ part: image, name: GEMS_LAYER_NAME });
        for (const { part, name } of stack) {
          const layer = await newPixelLayer(target, doc, part, name, at);
          if (below) layer.move(below, constants.ElementPlacement.PLACEBEFORE);
          else layer.move(created, constants.ElementPlacement.PLACEINSIDE);
          below = layer;
        }
        if (gemMask && below) {
          const where = { left: at.left, top: at.top, width: gemMask.width, height: gemMask.height };
          await putMask(target, below.id, gemMask.data, where);
        }
      }
      // Each metal variant is one more layer directly above the original, under the result.
      const variants = [];
      for (const part of variantParts) {
        const layer = await newPixelLayer(target, doc, part, variantName(original.name, part.name), at);
        layer.move(original, constants.ElementPlacement.PLACEBEFORE);
        variants.push(layer);
      }
      const shape = hooks.selectionMask;
      if (shape) {
        const b = shape.bounds;
        const where = { left: b.left, top: b.top, width: b.right - b.left, height: b.bottom - b.top };
        for (const item of [created, ...variants]) await putMask(target, item.id, shape.data, where);
      }
      await context.hostControl.resumeHistory(suspension, true);
      return { layerID: created.id, kind: layerParts.length === 0 ? "layer" : "group" };
    } catch (error) {
      // Drop everything done in this step: the document returns to its state before it.
      await context.hostControl.resumeHistory(suspension, false);
      throw error;
    }
  }, hooks);
}

/**
 * "Ring (Jewel Retouch, white gold)": docs/protocol.json paste.photoshop_names.variant_name.
 * @param {string} source
 * @param {string} metal
 */
function variantName(source, metal) {
  return `${source} (Jewel Retouch, ${metal.replace(/_/g, " ")})`;
}

/** @param {string} name */
function title(name) {
  const known = /** @type {Record<string, string>} */ (LAYER_TITLES)[name];
  return known || name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " ");
}

module.exports = {
  GEMS_LAYER_NAME,
  HISTORY_NAME,
  LAYER_TITLES,
  PROFILE_NAMES,
  describeTarget,
  readPixels,
  variantName,
  writeResult,
  withModal,
};
