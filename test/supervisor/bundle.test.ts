// The bundle the local driver copies into sandboxes: dist/supervisor.js, built by
// `npm run build` (which `npm test` runs first). It must be self-contained (node:
// builtins only, since there is no node_modules inside a sandbox) and answer health.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { packageRoot } from "../../src/package-root.ts";
import { startDaemon, stopAllDaemons } from "./helpers.ts";

const bundle = join(packageRoot(), "dist", "supervisor.js");

after(stopAllDaemons);

describe("supervisor bundle", () => {
  test("dist/supervisor.js exists after npm run build and imports nothing but node: builtins", () => {
    assert.ok(existsSync(bundle), "dist/supervisor.js is missing: run `npm run build`");
    const source = readFileSync(bundle, "utf8");
    // `from` of an import statement, not a word inside a string (`lexical(body.from, "from")`).
    const specifiers = [...source.matchAll(/(?:(?<!["'.\w])from\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)].map((match) => match[1]);
    assert.ok(specifiers.length > 0);
    assert.deepEqual(
      specifiers.filter((specifier) => !specifier?.startsWith("node:")),
      [],
    );
    // About 330 KB of it is the terminal emulator of terminal sessions (@xterm/headless and its
    // serializer, reprinted by esbuild), evaluated only when the first terminal opens.
    assert.ok(statSync(bundle).size < 640 * 1024, `bundle is ${statSync(bundle).size} bytes`);
  });

  test("the bundled supervisor starts and answers health with protocol 2", async () => {
    const daemon = await startDaemon({ entry: "bundle" });
    const health = await daemon.client.health();
    assert.equal(health.protocol, 2);
    assert.equal(health.pid, daemon.pid);
    assert.equal(await daemon.stop(), 0);
  });
});
