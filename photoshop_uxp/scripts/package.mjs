// Validate manifest.json and build the installable .ccx (a zip of the plug-in folder).
//   node scripts/package.mjs [--out DIR]      (npm run package)
// Writes DIR/jewel-retouch-photoshop-<version>.ccx (default DIR: photoshop_uxp/dist).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const PLUGIN_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** What goes into the package: the panel and nothing of the tests or tooling. */
const PACKAGE_ENTRIES = ["manifest.json", "index.html", "index.js", "styles.css", "src", "icons"];
/** The imaging API (getPixels / putPixels) needs Photoshop 24.4. */
const MIN_PHOTOSHOP = "24.4.0";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function compareVersions(a, b) {
  const pa = String(a).split(".").map(Number);
  const pb = String(b).split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

function iconFiles(icon) {
  const scales = Array.isArray(icon.scale) ? icon.scale : [1];
  const ext = path.extname(icon.path);
  const base = icon.path.slice(0, -ext.length);
  return scales.map((s) => (s === 1 ? icon.path : `${base}@${s}x${ext}`));
}

/**
 * Problems with a manifest, as sentences (empty when it is valid for this plug-in).
 * @param {any} manifest parsed manifest.json
 * @param {string} root folder the manifest's paths are relative to
 * @returns {string[]}
 */
export function validateManifest(manifest, root = PLUGIN_ROOT) {
  const errors = [];
  const exists = (p) => typeof p === "string" && fs.existsSync(path.join(root, p));
  if (!manifest || typeof manifest !== "object") return ["manifest.json is not a JSON object"];
  if (manifest.manifestVersion !== 5) errors.push("manifestVersion must be 5");
  if (typeof manifest.id !== "string" || !manifest.id) errors.push("id is missing");
  if (typeof manifest.name !== "string" || !manifest.name) errors.push("name is missing");
  if (!/^\d+\.\d+\.\d+$/.test(String(manifest.version))) errors.push("version must look like 1.2.3");
  if (!exists(manifest.main)) errors.push(`main file "${manifest.main}" does not exist`);
  const hosts = Array.isArray(manifest.host) ? manifest.host : [manifest.host];
  const ps = hosts.find((h) => h && h.app === "PS");
  if (!ps) errors.push('host must name the Photoshop app ("PS")');
  else {
    if (compareVersions(ps.minVersion, MIN_PHOTOSHOP) < 0) {
      errors.push(`host.minVersion must be at least ${MIN_PHOTOSHOP} (imaging API), got ${ps.minVersion}`);
    }
    if (!ps.data || ps.data.apiVersion !== 2) errors.push("host.data.apiVersion must be 2 (executeAsModal)");
  }
  const entrypoints = Array.isArray(manifest.entrypoints) ? manifest.entrypoints : [];
  if (!entrypoints.some((e) => e && e.type === "panel")) errors.push("entrypoints must declare a panel");
  const ids = new Set();
  for (const e of entrypoints) {
    if (!e || !e.id) errors.push("every entrypoint needs an id");
    else if (ids.has(e.id)) errors.push(`entrypoint id "${e.id}" is used twice`);
    else ids.add(e.id);
    if (e && e.type === "panel" && !(e.label && e.label.default)) errors.push(`panel "${e.id}" needs label.default`);
    for (const icon of (e && e.icons) || []) {
      for (const file of iconFiles(icon)) if (!exists(file)) errors.push(`icon ${file} does not exist`);
    }
  }
  for (const icon of manifest.icons || []) {
    for (const file of iconFiles(icon)) if (!exists(file)) errors.push(`icon ${file} does not exist`);
  }
  const domains = manifest.requiredPermissions?.network?.domains;
  if (!Array.isArray(domains) || domains.length === 0) {
    errors.push("requiredPermissions.network.domains must list the server's origins");
  } else {
    for (const domain of domains) {
      let url;
      try {
        url = new URL(domain);
      } catch {
        errors.push(`network domain "${domain}" is not a URL`);
        continue;
      }
      if (url.protocol !== "http:" && url.protocol !== "ws:") errors.push(`network domain "${domain}" must be http:// or ws://`);
      if (!LOOPBACK.has(url.hostname)) errors.push(`network domain "${domain}" is not a loopback address`);
      if (!url.port) errors.push(`network domain "${domain}" must name its port`);
      if (domain !== url.origin) errors.push(`network domain "${domain}" must be an exact origin (no path, no wildcard)`);
    }
  }
  return errors;
}

function listFiles(root, entries) {
  const files = [];
  const walk = (rel) => {
    const full = path.join(root, rel);
    const stat = fs.statSync(full);
    if (stat.isDirectory()) for (const name of fs.readdirSync(full).sort()) walk(path.posix.join(rel, name));
    else files.push(rel);
  };
  for (const entry of entries) walk(entry);
  return files;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip archive (deflate) of `files`, read from `root`.
 * @param {string} root
 * @param {string[]} files relative paths with forward slashes
 * @returns {Buffer}
 */
export function zipFiles(root, files) {
  const locals = [];
  const central = [];
  let offset = 0;
  // 1980-01-01 00:00: a fixed timestamp keeps the package reproducible.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const rel of files) {
    const data = fs.readFileSync(path.join(root, rel));
    const packed = zlib.deflateRawSync(data, { level: 9 });
    const name = Buffer.from(rel, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, packed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // made by
    entry.writeUInt16LE(20, 6); // needed
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt16LE(dosTime, 12);
    entry.writeUInt16LE(dosDate, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += local.length + name.length + packed.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...central, end]);
}

/**
 * Validate and write the .ccx.
 * @param {{root?: string, outDir?: string}} [options]
 * @returns {{file: string, files: string[]}}
 */
export function buildCcx(options = {}) {
  const root = options.root || PLUGIN_ROOT;
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "manifest.json"), "utf8"));
  const errors = validateManifest(manifest, root);
  if (errors.length) {
    const error = new Error(`manifest.json is not valid:\n  - ${errors.join("\n  - ")}`);
    error.problems = errors;
    throw error;
  }
  const files = listFiles(root, PACKAGE_ENTRIES);
  const outDir = options.outDir || path.join(root, "dist");
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `jewel-retouch-photoshop-${manifest.version}.ccx`);
  fs.writeFileSync(file, zipFiles(root, files));
  return { file, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outIndex = process.argv.indexOf("--out");
  try {
    const { file, files } = buildCcx({ outDir: outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : undefined });
    console.log(`manifest.json is valid; wrote ${file} (${files.length} files)`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
