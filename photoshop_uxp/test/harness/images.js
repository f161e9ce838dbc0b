// Test pictures built by the tests themselves (so the expected bytes never come from the code
// under test): a "piece" on a light backdrop, with transparent margins for RGBA layers.
"use strict";

const { toFullRange16 } = require("./photoshop.js");

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Layer samples in Photoshop's internal range.
 * @param {{width: number, height: number, depth: 8 | 16, channels: 3 | 4, margin?: number, seed?: number}} spec
 *   margin: transparent border (RGBA only) so Photoshop trims the layer's bounds
 */
function makeLayerPixels({ width, height, depth, channels, margin = 0, seed = 1 }) {
  const max = depth === 8 ? 255 : 32768;
  const random = rng(seed);
  const out = new (depth === 8 ? Uint8Array : Uint16Array)(width * height * channels);
  const cx = width / 2, cy = height / 2, r = Math.min(width, height) / 3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      const base = inside ? [0.85, 0.65, 0.25] : [0.93, 0.92, 0.9];
      for (let k = 0; k < 3; k++) {
        const v = base[k] + (random() - 0.5) * 0.06 + (x / width) * 0.03;
        out[i + k] = Math.max(0, Math.min(max, Math.round(v * max)));
      }
      if (channels === 4) {
        const transparent = x < margin || y < margin || x >= width - margin || y >= height - margin;
        out[i + 3] = transparent ? 0 : max;
        if (transparent) out[i] = out[i + 1] = out[i + 2] = 0;
      }
    }
  }
  return out;
}

/**
 * Cut a box out of interleaved samples.
 * @param {Uint8Array | Uint16Array} samples
 * @param {number} width of `samples`
 * @param {number} channels
 * @param {{x: number, y: number, width: number, height: number}} box
 */
function crop(samples, width, channels, box) {
  const out = new samples.constructor(box.width * box.height * channels);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * width + box.x) * channels;
    out.set(samples.subarray(from, from + box.width * channels), y * box.width * channels);
  }
  return out;
}

/** Wire bytes (16-bit: full range, little-endian) of internal-range samples. */
function wireBytes(samples, depth) {
  if (depth === 8) return Uint8Array.from(samples);
  const buf = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) buf.writeUInt16LE(toFullRange16(samples[i]), i * 2);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

module.exports = { rng, makeLayerPixels, crop, wireBytes };
