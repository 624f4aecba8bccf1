// `npm run lint` checks the layers with dependency-cruiser (.dependency-cruiser.cjs). This
// shows the check fails on a violation: a throw-away tree where a route imports the store
// and the supervisor daemon imports the control plane, cruised with the repo's rules.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { packageRoot } from "../../src/package-root.ts";

function cruise(files: Record<string, string>): { code: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "layering-"));
  try {
    copyFileSync(join(packageRoot(), ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
    copyFileSync(join(packageRoot(), "tsconfig.json"), join(dir, "tsconfig.json"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const bin = join(packageRoot(), "node_modules", ".bin", "depcruise");
    const run = spawnSync(bin, ["src", "--config", ".dependency-cruiser.cjs", "--output-type", "err"], { cwd: dir, encoding: "utf8" });
    return { code: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a route that imports the store, and a daemon that imports the control plane, fail the layer check", () => {
  const result = cruise({
    "src/store/things.ts": "export const things = 1;\n",
    "src/domain/names.ts": "export const names = 1;\n",
    "src/api/routes/things.ts": 'import { things } from "../../store/things.ts";\nexport const route = things;\n',
    "src/supervisor/daemon/main.ts": 'import { names } from "../../domain/names.ts";\nexport const main = names;\n',
  });
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.output, /api: src\/api\/routes\/things\.ts → src\/store\/things\.ts/);
  assert.match(result.output, /supervisor-daemon-only-protocol: src\/supervisor\/daemon\/main\.ts → src\/domain\/names\.ts/);
});

test("the same tree with the layers respected passes", () => {
  const result = cruise({
    "src/domain/names.ts": "export const names = 1;\n",
    "src/services/things.ts": 'import { names } from "../domain/names.ts";\nexport const service = names;\n',
    "src/api/routes/things.ts": 'import { service } from "../../services/things.ts";\nexport const route = service;\n',
  });
  assert.equal(result.code, 0, result.output);
});
