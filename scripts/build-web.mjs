// The web UI's build step (scripts/build.mjs runs it on `npm install`, `npm start` and
// `npm run build`): Vite builds web/ into web/dist when its inputs changed since the last
// build, then writes .br and .gz twins of the text assets, which the server sends to
// browsers that accept them. "Changed" is a sha256 of every input file (web/src, the
// configuration, the server's name rules the UI imports, the lockfile) against the stamp
// in web/dist: a few milliseconds when nothing changed, so `npm start` stays fast.
// Without the build tools (`npm install --omit=dev`) it says so and the server still starts;
// `/` then says how to build the UI.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "web");
const dist = join(web, "dist");
const STAMP = ".build-stamp";
const INPUTS = ["web/src", "web/index.html", "web/vite.config.ts", "web/tsconfig.json", "src/domain/names.ts", "package-lock.json"];
/** Text assets worth compressing; fonts and images are compressed already. */
const COMPRESSIBLE = /\.(js|css|svg|json|html|txt|map)$/;

/** sha256 over the inputs' paths and contents. */
export function webInputsHash() {
  const hash = createHash("sha256");
  for (const file of INPUTS.flatMap((path) => filesUnder(join(root, path))).sort()) {
    hash.update(`${relative(root, file)}\0`);
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/**
 * Builds web/dist if it is missing or stale (always with `force`). Resolves to what it did:
 * "fresh" (nothing to do), "built", or "skipped" (no build tools here).
 */
export async function buildWeb({ force = false } = {}) {
  if (!existsSync(join(web, "index.html"))) return "skipped";
  const hash = webInputsHash();
  if (!force && readText(join(dist, STAMP)) === hash && existsSync(join(dist, "index.html"))) return "fresh";
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19) || (major === 22 && minor < 12)) {
    console.warn(`web UI not built: Vite needs Node 20.19+ or 22.12+ (this is ${process.version}); the API and the CLI work without it`);
    return "skipped";
  }
  let vite;
  try {
    vite = await import("vite");
  } catch {
    console.warn("web UI not built: its build tools are missing (run `npm install` with the dev dependencies, then `npm run build`)");
    return "skipped";
  }
  // Built next to dist and swapped in, so a running server never sees half a build.
  const temp = join(web, `dist.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  try {
    await vite.build({ root: web, configFile: join(web, "vite.config.ts"), logLevel: "warn", build: { outDir: temp, emptyOutDir: true } });
    compressAssets(join(temp, "assets"));
    writeFileSync(join(temp, STAMP), hash);
    const old = join(web, `dist.old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(temp, dist);
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return "built";
}

function compressAssets(dir) {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!COMPRESSIBLE.test(name)) continue;
    const body = readFileSync(join(dir, name));
    if (body.length < 1024) continue;
    writeFileSync(join(dir, `${name}.gz`), gzipSync(body, { level: 9 }));
    writeFileSync(join(dir, `${name}.br`), brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
}

function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => filesUnder(join(path, entry.name)));
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const outcome = await buildWeb({ force: process.argv.includes("--force") });
  console.log(`web UI: ${outcome} (${Math.round(performance.now() - started)} ms)`);
}
