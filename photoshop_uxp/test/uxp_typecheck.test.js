// The type check has teeth: calls that do not match the real Photoshop/UXP API are errors.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");

test("tsc --checkJs rejects calls that do not match @types/photoshop / UXP types", () => {
  const dir = fs.mkdtempSync(path.join(ROOT, ".typecheck-"));
  try {
    fs.writeFileSync(path.join(dir, "wrong.js"), [
      '"use strict";',
      'const { core, imaging } = require("photoshop");',
      "async function wrong() {",
      "  await imaging.getPixels({ layerId: 3 });", // misspelt option
      "  await imaging.getPixels({ componentSize: 12 });", // not -1 | 8 | 16 | 32
      "  await core.executeAsModal(async () => {});", // options (commandName) missing
      "  await imaging.putPixels({ layerID: 1, imageData: null, targetBounds: { left: 0, top: 0 } });",
      "}",
      "module.exports = { wrong };",
      "",
    ].join("\n"));
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
      extends: "../tsconfig.json",
      files: ["../node_modules/@adobe/cc-ext-uxp-types/uxp/index.d.ts", "../types/uxp-runtime.d.ts", "wrong.js"],
    }));
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const run = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.notEqual(run.status, 0, "tsc accepted wrong API calls");
    const out = run.stdout + run.stderr;
    assert.match(out, /wrong\.js\(4,/, "misspelt getPixels option not caught");
    assert.match(out, /wrong\.js\(5,/, "bad componentSize not caught");
    assert.match(out, /wrong\.js\(6,/, "executeAsModal without options not caught");
    assert.match(out, /wrong\.js\(7,/, "putPixels with partial targetBounds / null imageData not caught");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
