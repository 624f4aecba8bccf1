// Which folder the local driver binds at /opt/outpost (src/drivers/local/outpost-dir.ts):
// the build's dist/opt-outpost when the sandbox's uid can reach it, else a root-owned copy
// in <data dir>/runtime/opt-outpost that follows the build's manifest. The build here is a
// small fake with the same layout (its bin/node is a shell script), owned by whoever runs
// the suite (root in CI); the sandbox's uid is a fake one that owns nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { isDriverError } from "../../src/drivers/errors.ts";
import { firstUnreachable } from "../../src/drivers/local/layout.ts";
import { OUTPOST_MANIFEST, resolveOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import { packageRoot } from "../../src/package-root.ts";

const owner = { uid: 299_998, gid: 299_998 };
const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

const FILES: Record<string, { content: string; mode: number }> = {
  "bin/node": { content: "#!/bin/sh\necho fake-node\n", mode: 0o755 },
  "supervisor.js": { content: "// supervisor v1\n", mode: 0o644 },
  "node_modules/@lydell/node-pty-linux-x64/package.json": { content: "{}\n", mode: 0o644 },
  "node_modules/@lydell/node-pty-linux-x64/pty.node": { content: "not really ELF\n", mode: 0o755 },
};

/** A folder (mode `mode`) holding package root and data dir, and a fake build in it. */
function setup(rootMode: number, files = FILES) {
  const base = mkdtempSync(join(tmpdir(), "outpost-dir-"));
  temps.push(base);
  chmodSync(base, 0o711);
  const packageRoot = join(base, "repo");
  mkdirSync(packageRoot, { mode: rootMode });
  chmodSync(packageRoot, rootMode);
  const dataDir = join(base, "data");
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o711);
  const built = join(packageRoot, "dist", "opt-outpost");
  writeBuild(built, files);
  return { packageRoot, dataDir, built, copy: join(dataDir, "runtime", "opt-outpost") };
}

/** What scripts/build.mjs writes: the files, then a manifest of them. */
function writeBuild(dir: string, files: Record<string, { content: string; mode: number }>) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entries: Record<string, { size: number; mode: number; sha256: string }> = {};
  for (const [rel, file] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), file.content);
    chmodSync(join(dir, rel), file.mode);
    entries[rel] = { size: Buffer.byteLength(file.content), mode: file.mode, sha256: createHash("sha256").update(file.content).digest("hex") };
  }
  const manifest = { format: 1, platform: "linux-x64", node: "22.23.5", supervisor: "0.1.0", files: entries };
  writeFileSync(join(dir, OUTPOST_MANIFEST), JSON.stringify(manifest, null, 2));
}

const mode = (path: string) => statSync(path).mode & 0o7777;
const inode = (path: string) => statSync(path).ino;

describe("resolveOutpostDir", () => {
  test("without a sandbox owner (Outpost not root), the build's folder", () => {
    const paths = setup(0o700);
    assert.equal(resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir }), paths.built);
  });

  test("a build the sandbox's uid can reach is bound as it is, nothing copied", () => {
    const paths = setup(0o755);
    assert.equal(resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner }), paths.built);
    assert.ok(!existsSync(join(paths.dataDir, "runtime")));
  });

  test("a build it cannot reach (repo folder 0700) is copied to <data dir>/runtime/opt-outpost, 0755/0644, usable by that uid", () => {
    const paths = setup(0o700);
    assert.ok(firstUnreachable(join(paths.built, "bin", "node"), owner, { read: true }));
    const dir = resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner });
    assert.equal(dir, paths.copy);
    for (const folder of [join(paths.dataDir, "runtime"), dir, join(dir, "bin"), join(dir, "node_modules", "@lydell", "node-pty-linux-x64")]) {
      assert.equal(mode(folder), 0o755, folder);
      assert.equal(statSync(folder).uid, process.getuid?.());
    }
    for (const [rel, file] of Object.entries(FILES)) {
      assert.equal(readFileSync(join(dir, rel), "utf8"), file.content);
      assert.equal(mode(join(dir, rel)), file.mode, rel);
      assert.equal(statSync(join(dir, rel)).uid, process.getuid?.());
      assert.equal(firstUnreachable(join(dir, rel), owner, { read: true }), null);
    }
    assert.equal(readFileSync(join(dir, OUTPOST_MANIFEST), "utf8"), readFileSync(join(paths.built, OUTPOST_MANIFEST), "utf8"));
    if (process.getuid?.() === 0) {
      const run = spawnSync(join(dir, "bin", "node"), { uid: owner.uid, gid: owner.gid, encoding: "utf8" });
      assert.equal(run.stdout, "fake-node\n", run.stderr);
    }
  });

  test("a current copy is used as it is; a changed build copies only what changed and drops what went", () => {
    const paths = setup(0o700);
    const options = { packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner };
    resolveOutpostDir(options);
    const node = inode(join(paths.copy, "bin", "node"));
    const supervisor = inode(join(paths.copy, "supervisor.js"));
    resolveOutpostDir(options);
    assert.equal(inode(join(paths.copy, "supervisor.js")), supervisor);

    const { "node_modules/@lydell/node-pty-linux-x64/pty.node": _gone, ...rest } = FILES;
    writeBuild(paths.built, { ...rest, "supervisor.js": { content: "// supervisor v2\n", mode: 0o644 } });
    assert.equal(resolveOutpostDir(options), paths.copy);
    assert.equal(readFileSync(join(paths.copy, "supervisor.js"), "utf8"), "// supervisor v2\n");
    assert.equal(inode(join(paths.copy, "bin", "node")), node, "an unchanged file is not copied again");
    assert.ok(!existsSync(join(paths.copy, "node_modules", "@lydell", "node-pty-linux-x64", "pty.node")));
    assert.equal(readFileSync(join(paths.copy, OUTPOST_MANIFEST), "utf8"), readFileSync(join(paths.built, OUTPOST_MANIFEST), "utf8"));
  });

  test("a copy without its manifest (an interrupted update) is redone in full", () => {
    const paths = setup(0o700);
    const options = { packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner };
    resolveOutpostDir(options);
    rmSync(join(paths.copy, OUTPOST_MANIFEST));
    writeFileSync(join(paths.copy, "bin", "node"), "half a file");
    resolveOutpostDir(options);
    assert.equal(readFileSync(join(paths.copy, "bin", "node"), "utf8"), FILES["bin/node"]!.content);
  });

  test("a built file that no longer matches its manifest is refused, and the copy is not marked current", () => {
    const paths = setup(0o700);
    const options = { packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner };
    writeFileSync(join(paths.built, "supervisor.js"), "// edited after the build\n");
    assert.throws(() => resolveOutpostDir(options), /changed since it was built.*npm run build/);
    assert.ok(!existsSync(join(paths.copy, OUTPOST_MANIFEST)));
    writeBuild(paths.built, FILES);
    assert.equal(resolveOutpostDir(options), paths.copy);
  });

  test("no build at all: SANDBOX_PATH_UNREACHABLE that says to run npm run build", () => {
    const paths = setup(0o755);
    rmSync(paths.built, { recursive: true });
    assert.throws(
      () => resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner }),
      (error) => isDriverError(error, "SANDBOX_PATH_UNREACHABLE") && /npm run build/.test(error.message),
    );
  });

  test("the real build, copied for an unprivileged uid, runs there: Node 22 and the PTY addon", () => {
    const real = join(packageRoot(), "dist", "opt-outpost");
    assert.ok(existsSync(join(real, OUTPOST_MANIFEST)), "dist/opt-outpost is missing: run `npm run build`");
    const paths = setup(0o700, {});
    rmSync(join(paths.packageRoot, "dist"), { recursive: true });
    symlinkSync(join(packageRoot(), "dist"), join(paths.packageRoot, "dist"));
    const dir = resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner });
    assert.equal(dir, paths.copy);
    const addon = join(dir, "node_modules", "@lydell", `node-pty-${process.platform}-${process.arch}`, "pty.node");
    const as = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
    const run = spawnSync(join(dir, "bin", "node"), ["-e", `require(${JSON.stringify(addon)}); console.log(process.version)`], { ...as, encoding: "utf8" });
    assert.match(run.stdout, /^v22\./, run.stderr);
  });

  test("a data dir the sandbox's uid cannot reach either: SANDBOX_PATH_UNREACHABLE naming the folder", () => {
    const paths = setup(0o700);
    chmodSync(paths.dataDir, 0o700);
    assert.throws(
      () => resolveOutpostDir({ packageRoot: paths.packageRoot, dataDir: paths.dataDir, sandboxOwner: owner }),
      (error) => isDriverError(error, "SANDBOX_PATH_UNREACHABLE") && error.message.includes(paths.dataDir),
    );
    assert.ok(!existsSync(join(paths.dataDir, "runtime")), "nothing copied where it cannot be used");
  });
});
