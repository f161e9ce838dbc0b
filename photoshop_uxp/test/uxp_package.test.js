// `npm run package`: manifest validation and a .ccx that a standard zip reader accepts.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const PYTHON = path.join(ROOT, "..", ".venv", "bin", "python");
const packaging = () => import(path.join(ROOT, "scripts", "package.mjs"));

test("the package script validates the manifest and writes a .ccx Python's zipfile reads back", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "jr-ccx-"));
  try {
    const log = execFileSync(process.execPath, [path.join(ROOT, "scripts", "package.mjs"), "--out", out], { encoding: "utf8" });
    assert.match(log, /manifest.json is valid/);
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "manifest.json"), "utf8"));
    const ccx = path.join(out, `jewel-retouch-photoshop-${manifest.version}.ccx`);
    const listing = JSON.parse(execFileSync(PYTHON, ["-c", [
      "import json, sys, zipfile",
      "z = zipfile.ZipFile(sys.argv[1])",
      "assert z.testzip() is None",
      "print(json.dumps({n: z.read(n).hex() for n in z.namelist()}))",
    ].join("\n"), ccx], { encoding: "utf8" }));
    const names = Object.keys(listing);
    for (const required of ["manifest.json", "index.html", "index.js", "src/panel.js", "src/photoshopIO.js", "icons/panel.png"]) {
      assert.ok(names.includes(required), `${required} missing from the .ccx`);
    }
    assert.ok(!names.some((n) => n.startsWith("test/") || n.startsWith("node_modules/")), "tests or node_modules were packaged");
    // Every packaged file is byte-identical to the source.
    for (const name of names) {
      assert.equal(listing[name], fs.readFileSync(path.join(ROOT, name)).toString("hex"), name);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("manifest: exact loopback http/ws origins, Photoshop 24.4+, apiVersion 2", async () => {
  const { validateManifest } = await packaging();
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "manifest.json"), "utf8"));
  assert.deepEqual(validateManifest(manifest), []);
  assert.deepEqual(manifest.requiredPermissions.network.domains, ["http://127.0.0.1:8765", "ws://127.0.0.1:8766"]);

  const broken = (edit) => {
    const copy = JSON.parse(JSON.stringify(manifest));
    edit(copy);
    return validateManifest(copy).join("\n");
  };
  assert.match(broken((m) => { m.requiredPermissions.network.domains = ["https://127.0.0.1:8765"]; }), /http:\/\/ or ws:\/\//);
  assert.match(broken((m) => { m.requiredPermissions.network.domains = ["http://example.com:8765"]; }), /not a loopback/);
  assert.match(broken((m) => { m.requiredPermissions.network.domains = ["http://127.0.0.1:8765/v1"]; }), /exact origin/);
  assert.match(broken((m) => { m.requiredPermissions.network.domains = ["ws://127.0.0.1"]; }), /port/);
  assert.match(broken((m) => { m.host.minVersion = "23.0.0"; }), /24\.4\.0/);
  assert.match(broken((m) => { m.manifestVersion = 4; }), /manifestVersion/);
  assert.match(broken((m) => { m.host.data.apiVersion = 1; }), /apiVersion/);
  assert.match(broken((m) => { m.entrypoints[0].icons[0].path = "icons/missing.png"; }), /missing\.png does not exist/);
});

test("an invalid manifest stops the build with the reasons", async () => {
  const { buildCcx } = await packaging();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "jr-bad-"));
  try {
    fs.writeFileSync(path.join(root, "manifest.json"), JSON.stringify({ manifestVersion: 5, id: "x", name: "x", version: "1", main: "nope.html" }));
    assert.throws(() => buildCcx({ root, outDir: path.join(root, "dist") }), (error) => {
      assert.match(error.message, /version must look like/);
      assert.match(error.message, /nope\.html/);
      return true;
    });
    assert.ok(!fs.existsSync(path.join(root, "dist")));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
