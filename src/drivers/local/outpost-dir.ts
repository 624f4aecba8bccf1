// The host folder the local driver binds read-only at /opt/outpost in every sandbox: the
// pinned Node, the supervisor bundle and the PTY addon, as `npm run build` assembles them in
// <package root>/dist/opt-outpost (scripts/build.mjs, which also writes its manifest.json).
//
// bwrap runs as the sandbox's own host uid, so that uid must reach every file. When it
// cannot (typically the repo under /root, mode 0700), the folder is copied into
//   <data dir>/runtime/opt-outpost/    root-owned, folders 0755, executables 0755, files 0644
// the way the PostgreSQL binaries are copied into <data dir>/postgres/runtime for the
// database account (src/db/embedded.ts). Unlike those, this copy follows the build: when the
// manifests differ, changed files are copied again (each verified against its sha256 and
// renamed into place, so a running sandbox never sees half a file), and the manifest is
// written last, so a copy interrupted midway is never taken for current.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, type Stats, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { packageRoot } from "../../package-root.ts";
import { DriverError } from "../errors.ts";
import { firstUnreachable, type Owner } from "./layout.ts";

export const OUTPOST_MANIFEST = "manifest.json";

export interface OutpostManifest {
  format: 1;
  /** e.g. "linux-x64" */
  platform: string;
  /** Version of the Node binary in bin/node, e.g. "22.23.5". */
  node: string;
  /** Outpost's version (the supervisor's). */
  supervisor: string;
  /** Every file but the manifest, by path relative to the folder. */
  files: Record<string, { size: number; mode: number; sha256: string }>;
}

export interface OutpostDirOptions {
  packageRoot: string;
  dataDir: string;
  /** The sandbox's host uid/gid when it differs from the control plane's (running as root). */
  sandboxOwner?: Owner;
}

/** The folder to bind at /opt/outpost. Throws a DriverError (SANDBOX_PATH_UNREACHABLE) when
 *  the build is missing or not even the copy is reachable. */
export function resolveOutpostDir(options: OutpostDirOptions): string {
  const built = join(options.packageRoot, "dist", "opt-outpost");
  const manifest = readOutpostManifest(built);
  const owner = options.sandboxOwner;
  if (!owner || !firstUnreachableFile(built, manifest, owner)) return built;
  const copy = join(options.dataDir, "runtime", "opt-outpost");
  // Checked first too, so an unreachable data dir costs no copy.
  const blockedDataDir = firstUnreachable(options.dataDir, owner);
  if (blockedDataDir) throw unreachable(copy, blockedDataDir, owner);
  syncCopy(built, copy, manifest);
  const blocked = firstUnreachableFile(copy, manifest, owner);
  if (blocked) throw unreachable(copy, blocked, owner);
  return copy;
}

function unreachable(path: string, blocked: string, owner: Owner): DriverError {
  return new DriverError(
    "SANDBOX_PATH_UNREACHABLE",
    `the sandbox's host uid ${owner.uid} cannot reach ${path} (stopped at ${blocked}); fix: chmod o+x on the folders above it, or move the data dir (OUTPOST_DATA_DIR) under /var/lib`,
    { details: { path, blocked, uid: owner.uid } },
  );
}

export function readOutpostManifest(dir: string): OutpostManifest {
  const path = join(dir, OUTPOST_MANIFEST);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new DriverError(
      "SANDBOX_PATH_UNREACHABLE",
      `sandboxes need ${path}, which does not exist; fix: run \`npm run build\` (on Linux, after \`npm install\`)`,
      {
        details: { path },
      },
    );
  }
  const manifest = JSON.parse(text) as OutpostManifest;
  if (manifest.format !== 1 || typeof manifest.files !== "object") throw new Error(`${path} is not a manifest this version understands; run \`npm run build\``);
  return manifest;
}

/** The first path `owner` cannot use: folders passable, files readable, executables executable. */
function firstUnreachableFile(dir: string, manifest: OutpostManifest, owner: Owner): string | null {
  for (const [rel, entry] of Object.entries(manifest.files)) {
    const path = join(dir, rel);
    const blocked = firstUnreachable(path, owner, { read: true });
    if (blocked) return blocked;
    if (entry.mode & 0o111 && !(classBits(statSync(path), owner) & 0o1)) return path;
  }
  return null;
}

/** The rwx bits that apply to `owner` (ACLs ignored, as in firstUnreachable). */
function classBits(info: Stats, owner: Owner): number {
  if (info.uid === owner.uid) return (info.mode >> 6) & 7;
  if (info.gid === owner.gid) return (info.mode >> 3) & 7;
  return info.mode & 7;
}

function syncCopy(source: string, target: string, manifest: OutpostManifest): void {
  const manifestText = readFileSync(join(source, OUTPOST_MANIFEST), "utf8");
  const targetManifest = join(target, OUTPOST_MANIFEST);
  const previous = readPreviousManifest(targetManifest);
  if (previous?.text === manifestText) return;
  makeDir(dirname(target));
  makeDir(target);
  // Gone until the copy is complete: an interrupted update is then redone in full.
  rmSync(targetManifest, { force: true });
  for (const [rel, entry] of Object.entries(manifest.files)) {
    const old = previous?.manifest.files[rel];
    if (old && old.sha256 === entry.sha256 && old.mode === entry.mode && sizeOf(join(target, rel)) === entry.size) continue;
    copyVerified(join(source, rel), join(target, rel), entry, target);
  }
  removeUnlisted(target, new Set(Object.keys(manifest.files)), target);
  const temp = `${targetManifest}.${process.pid}.tmp`;
  writeFileSync(temp, manifestText, { mode: 0o644 });
  chmodSync(temp, 0o644);
  renameSync(temp, targetManifest);
}

function copyVerified(from: string, to: string, entry: OutpostManifest["files"][string], root: string): void {
  for (let dir = dirname(to); dir !== root && dir.startsWith(root); dir = dirname(dir)) makeDir(dir);
  const temp = `${to}.${process.pid}.tmp`;
  copyFileSync(from, temp);
  const sha256 = createHash("sha256").update(readFileSync(temp)).digest("hex");
  if (sha256 !== entry.sha256) {
    unlinkSync(temp);
    throw new Error(`${from} changed since it was built (its sha256 is not the manifest's); fix: run \`npm run build\``);
  }
  chmodSync(temp, entry.mode);
  renameSync(temp, to);
}

/** mkdir -p one level, mode 0755 whatever the umask or an earlier mode. */
function makeDir(path: string): void {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o755);
}

function removeUnlisted(dir: string, keep: Set<string>, root: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      removeUnlisted(path, keep, root);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (!keep.has(relative(root, path))) rmSync(path, { force: true });
  }
}

function readPreviousManifest(path: string): { text: string; manifest: OutpostManifest } | null {
  try {
    const text = readFileSync(path, "utf8");
    return { text, manifest: JSON.parse(text) as OutpostManifest };
  } catch {
    return null;
  }
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** The folder `npm run build` assembles (dist/opt-outpost of this package). */
export function builtOutpostDir(): string {
  return join(packageRoot(), "dist", "opt-outpost");
}
