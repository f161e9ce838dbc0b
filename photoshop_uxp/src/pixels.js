// Pure conversions between Photoshop's typed pixel arrays and the wire's byte layout.
// The wire (docs/protocol.md) carries interleaved samples, 16-bit as little-endian 0..65535.
"use strict";

/** True when this machine stores multi-byte numbers little-endian (every machine UXP runs on). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Wire bytes of interleaved samples.
 * @param {Uint8Array | Uint16Array} samples 8-bit (0..255) or 16-bit full range (0..65535)
 * @returns {Uint8Array} the same samples as bytes; 16-bit little-endian. Shares memory when it can.
 */
function samplesToWireBytes(samples) {
  if (samples instanceof Uint8Array) return samples;
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = new Uint8Array(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    out[2 * i] = samples[i] & 0xff;
    out[2 * i + 1] = samples[i] >> 8;
  }
  return out;
}

/**
 * Typed samples from wire bytes.
 * @param {Uint8Array} bytes interleaved samples as sent by the server
 * @param {number} depth 8 or 16
 * @returns {Uint8Array | Uint16Array} Uint8Array (depth 8) or Uint16Array 0..65535 (depth 16)
 */
function wireBytesToSamples(bytes, depth) {
  if (depth === 8) return bytes;
  if (depth !== 16) throw new RangeError(`unsupported depth ${depth}`);
  if (bytes.byteLength % 2 !== 0) throw new RangeError("16-bit data needs an even byte count");
  const count = bytes.byteLength / 2;
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  }
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  return out;
}

/**
 * Bytes one image occupies on the wire.
 * @param {number} width
 * @param {number} height
 * @param {number} channels 1..4
 * @param {number} depth 8 or 16
 */
function wireByteCount(width, height, channels, depth) {
  return width * height * channels * (depth / 8);
}

module.exports = { LITTLE_ENDIAN, samplesToWireBytes, wireBytesToSamples, wireByteCount };
