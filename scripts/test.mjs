// Runs every test file under test/ with Node's own test runner (TypeScript through tsx).
// Node 20 has no glob support in `--test`, so the files are listed here.
//   node scripts/test.mjs                 the whole suite
//   node scripts/test.mjs test/unit       only the files under that folder (or a single file)
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function testFiles(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((entry) => {
      const child = join(path, entry.name);
      if (entry.isDirectory()) return testFiles(child);
      return entry.name.endsWith(".test.ts") ? [child] : [];
    })
    .sort();
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ["test"]).flatMap(testFiles);
const concurrency = process.env.OUTPOST_TEST_CONCURRENCY ?? "3";
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", "--test-timeout=180000", ...files],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
