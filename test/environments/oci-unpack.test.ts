// unpackOciImage turns an OCI image layout (a folder, or a tar of one) into a root filesystem
// folder with the layer changeset semantics (whiteouts, opaque folders), and refuses a hostile
// layout without writing a byte outside the target or leaving a half image behind. Layouts are
// built in each test from explicit tar entries (test/helpers/oci-layout.ts).
import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isOutpostError } from "../../src/domain/errors.ts";
import { type OciImageSource, type OciUnpackProgress, unpackOciImage } from "../../src/services/environments/oci/unpack.ts";
import {
  archiveLayout,
  blobPath,
  FIXED_MTIME,
  makeOciLayout,
  named,
  type TestLayer,
  writeBlob,
  writeImage,
  writeIndexBlob,
  writeLayoutIndex,
} from "../helpers/oci-layout.ts";

const isRoot = process.getuid?.() === 0;
const OWNER = 1234;

let work: string;
let counter = 0;
/** A fresh folder per case: the layout, the target, and "outside" (what an escape would hit). */
async function scratch() {
  const dir = join(work, `case-${++counter}`);
  const outside = join(dir, "outside");
  await mkdir(outside, { recursive: true });
  return { dir, layout: join(dir, "layout"), target: join(dir, "images", "rootfs"), outside };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "outpost-oci-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A string source is a layout folder. */
const unpack = (source: string | OciImageSource, target: string, extra: Partial<Parameters<typeof unpackOciImage>[0]> = {}) =>
  unpackOciImage({ source: typeof source === "string" ? { kind: "layout", path: source } : source, target, signal: AbortSignal.timeout(120_000), ...extra });

/** Every path under `root` with its type, mode and content or link target. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const path = join(root, rel);
    const info = await lstat(path);
    const mode = (info.mode & 0o7777).toString(8).padStart(4, "0");
    if (info.isSymbolicLink()) out[rel] = `symlink -> ${await readlink(path)}`;
    else if (info.isFile()) out[rel] = `file ${mode} ${JSON.stringify(await readFile(path, "utf8"))}`;
    else if (info.isDirectory()) {
      out[rel || "."] = `dir ${mode}`;
      for (const child of (await readdir(path)).sort()) await walk(rel ? `${rel}/${child}` : child);
    } else out[rel] = "other";
  };
  await walk("");
  return out;
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** The unpack fails with IMAGE_INVALID matching `message`, and leaves neither the target nor its .partial. */
async function assertRefused(run: Promise<unknown>, target: string, message: RegExp): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(isOutpostError(error), `an OutpostError, got ${String(error)}`);
    assert.equal(error.code, "IMAGE_INVALID");
    assert.match(error.message, message);
    return true;
  });
  assert.equal(await exists(target), false, "no target folder");
  assert.equal(await exists(`${target}.partial`), false, "no partial folder");
}

// Two layers exercising every kind of entry and both whiteouts. Layer 2's opaque marker comes
// after one of its own files in that folder, which must survive: whiteouts hide lower layers only.
const LOWER: TestLayer = {
  entries: [
    { name: "./", type: "directory", mode: 0o755 },
    { name: "etc/", type: "directory", mode: 0o755 },
    { name: "etc/keep", content: "v1" },
    { name: "etc/gone", content: "bye" },
    { name: "/etc/abs", content: "absolute names land inside" },
    { name: "bin/", type: "directory", mode: 0o755, uid: OWNER, gid: OWNER },
    { name: "bin/tool", content: "#!/bin/sh\n", mode: 0o4755, uid: OWNER, gid: OWNER },
    { name: "bin/sh", type: "symlink", linkname: "tool", uid: OWNER, gid: OWNER },
    { name: "bin/tool-link", type: "link", linkname: "bin/tool" },
    { name: "lib", type: "symlink", linkname: "usr/lib" },
    { name: "opq/", type: "directory" },
    { name: "opq/old", content: "old" },
    { name: "opq/sub/", type: "directory" },
    { name: "opq/sub/old2", content: "old2" },
    { name: "locked/", type: "directory", mode: 0o555 },
    { name: "locked/inside", content: "in", mode: 0o444 },
    { name: "dev/null", type: "character-device", mode: 0o666 },
    { name: "gone-dir/", type: "directory" },
    { name: "gone-dir/x", content: "x" },
  ],
};
const UPPER: TestLayer = {
  compression: "none",
  entries: [
    { name: "etc/.wh.gone" },
    { name: "etc/keep", content: "v2", mode: 0o600 },
    { name: "opq/new", content: "new" },
    { name: "opq/.wh..wh..opq" },
    { name: ".wh.gone-dir" },
    { name: "lib/", type: "directory" },
    { name: "lib/x", content: "x" },
    { name: "a/b/c/deep", content: "deep" },
  ],
};
const EXPECTED_TREE = {
  ".": "dir 0755",
  a: "dir 0755",
  "a/b": "dir 0755",
  "a/b/c": "dir 0755",
  "a/b/c/deep": 'file 0644 "deep"',
  bin: "dir 0755",
  "bin/sh": "symlink -> tool",
  "bin/tool": 'file 4755 "#!/bin/sh\\n"',
  "bin/tool-link": 'file 4755 "#!/bin/sh\\n"',
  dev: "dir 0755",
  etc: "dir 0755",
  "etc/abs": 'file 0644 "absolute names land inside"',
  "etc/keep": 'file 0600 "v2"',
  lib: "dir 0755",
  "lib/x": 'file 0644 "x"',
  locked: "dir 0555",
  "locked/inside": 'file 0444 "in"',
  opq: "dir 0755",
  "opq/new": 'file 0644 "new"',
};

async function assertTwoLayerResult(target: string, result: Awaited<ReturnType<typeof unpackOciImage>>): Promise<void> {
  assert.deepEqual(await tree(target), EXPECTED_TREE);
  const tool = await stat(join(target, "bin/tool"));
  const link = await stat(join(target, "bin/tool-link"));
  assert.equal(link.ino, tool.ino, "the hard link shares the file's inode");
  assert.equal(tool.nlink, 2);
  assert.equal(tool.mtimeMs, FIXED_MTIME.getTime(), "file mtimes are kept");
  assert.equal((await stat(join(target, "locked"))).mtimeMs, FIXED_MTIME.getTime(), "folder mtimes are applied after their children");
  assert.equal((await stat(join(target, "etc"))).mtimeMs, FIXED_MTIME.getTime(), "a folder changed by a later layer keeps its declared mtime");
  // Ownership is kept only by root (lchown); anyone else owns what they unpack.
  const owner = isRoot ? OWNER : process.getuid?.();
  assert.equal(tool.uid, owner);
  assert.equal(tool.gid, isRoot ? OWNER : process.getgid?.());
  assert.equal((await lstat(join(target, "bin/sh"))).uid, owner, "a symlink's own owner (lchown)");
  assert.equal((await stat(join(target, "bin"))).uid, owner);
  assert.equal((await stat(join(target, "etc/keep"))).uid, isRoot ? 0 : process.getuid?.());
  assert.equal(result.layers, 2);
  assert.equal(result.skippedDevices, 1, "the device node is skipped and counted");
  assert.equal(result.skippedFifos, 0);
  assert.equal(result.unpackedBytes, 2 + 3 + 26 + 10 + 3 + 4 + 2 + 1 + 2 + 3 + 1 + 4);
  assert.deepEqual(result.config, { env: ["PATH=/usr/bin:/bin"], workingDir: "/work", user: "1000" });
  assert.deepEqual(result.platform, { os: "linux", architecture: "amd64" });
}

describe("unpackOciImage", () => {
  test("applies two layers: files, folders, symlinks, hard links, modes, a whiteout and an opaque folder", async () => {
    const { layout, target } = await scratch();
    const image = await makeOciLayout(layout, [LOWER, UPPER]);
    const result = await unpack(layout, target);
    await assertTwoLayerResult(target, result);
    assert.equal(result.manifestDigest, image.manifest.digest);
    assert.equal(result.configDigest, image.config.digest);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test("reads the same image from a tar archive of the layout", async () => {
    const { dir, layout, target } = await scratch();
    await makeOciLayout(layout, [LOWER, UPPER]);
    const archive = join(dir, "image.tar");
    await archiveLayout(layout, archive);
    await rm(layout, { recursive: true });
    await assertTwoLayerResult(target, await unpack({ kind: "archive", path: archive }, target));
  });

  test("a folder whited out and made again by the same layer holds only that layer's content, with its own mode", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [
      {
        entries: [
          { name: "d/", type: "directory", mode: 0o700 },
          { name: "d/lower", content: "l" },
        ],
      },
      { entries: [{ name: ".wh.d" }, { name: "d/upper", content: "u" }, { name: "e/.wh..wh..opq" }] },
    ]);
    await unpack(layout, target);
    assert.deepEqual(await tree(target), { ".": "dir 0755", d: "dir 0755", "d/upper": 'file 0644 "u"', e: "dir 0755" });
  });

  test("reports progress: every layer verified, then each applied, ending at its size", async () => {
    const { layout, target } = await scratch();
    const image = await makeOciLayout(layout, [LOWER, UPPER]);
    const events: OciUnpackProgress[] = [];
    await unpack(layout, target, { onProgress: (event) => events.push(event) });
    const ends = events.filter((event) => event.bytes === event.layerBytes && event.bytes > 0).map((e) => `${e.phase} ${e.layer}/${e.layers}`);
    assert.deepEqual(ends, ["verify 1/2", "verify 2/2", "unpack 1/2", "unpack 2/2"]);
    const last = events.at(-1);
    assert.equal(last?.layerBytes, image.layers[1]?.size);
    assert.equal(last?.unpackedBytes, 61, "the final event counts every file written");
  });

  test("an abort stops the unpack with the caller's reason and leaves nothing", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [LOWER, UPPER]);
    const controller = new AbortController();
    const reason = new Error("stopped by the test");
    const run = unpackOciImage({
      source: { kind: "layout", path: layout },
      target,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.phase === "unpack") controller.abort(reason);
      },
    });
    await assert.rejects(run, (error) => error === reason);
    assert.equal(await exists(target), false);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test("replaces a .partial folder a killed unpack left, and refuses a target that exists", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [{ entries: [{ name: "fresh", content: "1" }] }]);
    await mkdir(join(`${target}.partial`, "stale"), { recursive: true });
    await unpack(layout, target);
    assert.deepEqual(await tree(target), { ".": "dir 0755", fresh: 'file 0644 "1"' });
    await assert.rejects(unpack(layout, target), /already exists/);
    assert.deepEqual(await tree(target), { ".": "dir 0755", fresh: 'file 0644 "1"' }, "the existing image is untouched");
  });
});

describe("unpackOciImage refuses a hostile layer", () => {
  test("an entry whose '..' climbs out of the root, writing nothing outside", async () => {
    for (const name of ["../escape", "a/../../escape", "./x/../../../escape"]) {
      const { dir, layout, target } = await scratch();
      await makeOciLayout(layout, [
        {
          entries: [
            { name: "ok", content: "fine" },
            { name, content: "pwned" },
          ],
        },
      ]);
      await assertRefused(unpack(layout, target), target, new RegExp(`layer 1 of 1 .*entry ${JSON.stringify(name).replace(/[.*/]/g, "\\$&")} climbs above`));
      assert.deepEqual((await readdir(dir)).sort(), ["images", "layout", "outside"], name);
      assert.deepEqual(await readdir(join(dir, "images")), [], name);
      assert.deepEqual(await readdir(join(dir, "outside")), [], name);
    }
  });

  test("a write through a symlink to outside, made by a lower layer or the same one", async () => {
    for (const layers of [
      (outside: string) => [{ entries: [{ name: "evil", type: "symlink" as const, linkname: outside }] }, { entries: [{ name: "evil/passwd", content: "x" }] }],
      (outside: string) => [
        {
          entries: [
            { name: "evil", type: "symlink" as const, linkname: outside },
            { name: "evil/passwd", content: "x" },
          ],
        },
      ],
    ]) {
      const { layout, target, outside } = await scratch();
      await makeOciLayout(layout, layers(outside));
      await assertRefused(unpack(layout, target), target, /entry "evil\/passwd" passes through the symlink "evil"/);
      assert.deepEqual(await readdir(outside), []);
    }
  });

  test("a relative symlink to a parent folder cannot be written through either", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [
      {
        entries: [
          { name: "up", type: "symlink", linkname: "../../.." },
          { name: "up/outside/x", content: "x" },
        ],
      },
    ]);
    await assertRefused(unpack(layout, target), target, /passes through the symlink "up"/);
  });

  test("a whiteout through a symlink, which would delete a host file", async () => {
    const { layout, target, outside } = await scratch();
    await writeFile(join(outside, "victim"), "keep me");
    await makeOciLayout(layout, [{ entries: [{ name: "evil", type: "symlink", linkname: outside }] }, { entries: [{ name: "evil/.wh.victim" }] }]);
    await assertRefused(unpack(layout, target), target, /entry "evil\/\.wh\.victim" passes through the symlink "evil"/);
    assert.equal(await readFile(join(outside, "victim"), "utf8"), "keep me");
  });

  test("a hard link to a file outside the root, by '..', by a symlinked folder, or by an absolute name", async () => {
    const { outside } = await scratch();
    await writeFile(join(outside, "secret"), "s3cret");
    const cases = [
      { entries: [{ name: "shadow", type: "link" as const, linkname: "../../outside/secret" }], message: /entry "shadow" is a hard link to .* climbs above/ },
      {
        entries: [
          { name: "h", type: "symlink" as const, linkname: outside },
          { name: "x", type: "link" as const, linkname: "h/secret" },
        ],
        message: /entry "x" passes through the symlink "h"/,
      },
      // An absolute name means the image's own /etc/shadow, which this image does not have.
      {
        entries: [{ name: "shadow", type: "link" as const, linkname: "/etc/shadow" }],
        message: /entry "shadow" is a hard link to "\/etc\/shadow", which is not in the image/,
      },
    ];
    for (const { entries, message } of cases) {
      const { layout, target } = await scratch();
      await makeOciLayout(layout, [{ entries }]);
      await assertRefused(unpack(layout, target), target, message);
    }
    assert.equal((await stat(join(outside, "secret"))).nlink, 1, "no link was made to the outside file");
  });

  test("an entry name longer than 4096 bytes", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [{ entries: [{ name: `${"d/".repeat(2100)}f`, content: "x" }] }]);
    await assertRefused(unpack(layout, target), target, /is longer than 4096 bytes/);
  });

  test("more file content than maxBytes, or more entries than maxEntries", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [{ entries: [{ name: "small", content: "12345" }] }, { entries: [{ name: "big", content: "1234567" }] }]);
    await assertRefused(unpack(layout, target, { maxBytes: 10 }), target, /layer 2 of 2 .*more than 10 bytes \(the maxBytes limit\), at entry "big"/);
    await assertRefused(unpack(layout, target, { maxEntries: 1 }), target, /more than 1 entries/);
    await unpack(layout, target, { maxBytes: 12, maxEntries: 2 });
    assert.deepEqual(Object.keys(await tree(target)), [".", "big", "small"]);
  });
});

describe("unpackOciImage refuses a broken layout", () => {
  test("a blob whose bytes do not match its digest, or whose size does not match", async () => {
    const { layout, target } = await scratch();
    const image = await makeOciLayout(layout, [LOWER, UPPER]);
    const path = blobPath(layout, image.layers[1]!.digest);
    const original = await readFile(path);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 0xff;
    await writeFile(path, tampered);
    await assertRefused(unpack(layout, target), target, new RegExp(`Layer 2 of 2 .* does not match its digest: expected ${image.layers[1]!.digest}`));
    await writeFile(path, Buffer.concat([original, Buffer.from("x")]));
    await assertRefused(unpack(layout, target), target, /Layer 2 of 2 .* is \d+ bytes, but its descriptor says \d+/);
    await writeFile(path, original);
    const config = await readFile(blobPath(layout, image.config.digest));
    await writeFile(blobPath(layout, image.config.digest), Buffer.from(config.toString("utf8").replace("amd64", "arm64")));
    await assertRefused(unpack(layout, target), target, /The image config does not match its digest/);
  });

  test("a layer whose content differs from the config's diff_ids", async () => {
    const { layout, target } = await scratch();
    const image = await writeImage(layout, { layers: [{ entries: [{ name: "f", content: "x" }] }], diffIds: [`sha256:${"0".repeat(64)}`] });
    await writeLayoutIndex(layout, [image.manifest]);
    await assertRefused(unpack(layout, target), target, /Layer 1 of 1 .* unpacks to other content than the image config says/);
  });

  test("a missing blob", async () => {
    const { layout, target } = await scratch();
    const image = await makeOciLayout(layout, [LOWER, UPPER]);
    await unlink(blobPath(layout, image.layers[0]!.digest));
    await assertRefused(unpack(layout, target), target, new RegExp(`Layer 1 of 2 .*blob ${image.layers[0]!.digest}\\) is missing`));
  });

  test("a blob that is a symlink to a file elsewhere on the host", async () => {
    const { layout, target, outside } = await scratch();
    const image = await makeOciLayout(layout, [{ entries: [{ name: "f", content: "x" }] }]);
    const path = blobPath(layout, image.layers[0]!.digest);
    await writeFile(join(outside, "blob"), await readFile(path));
    await unlink(path);
    await symlink(join(outside, "blob"), path);
    await assertRefused(unpack(layout, target), target, /is missing/);
  });

  test("a zstd layer, before anything is written", async () => {
    const { layout, target } = await scratch();
    await makeOciLayout(layout, [{ entries: [{ name: "f", content: "x" }] }, { compression: "zstd", entries: [{ name: "g", content: "y" }] }]);
    await assertRefused(unpack(layout, target), target, /Layer 2 of 2 .* is zstd-compressed/);
  });

  test("a layer that is not a tar, a folder that is not a layout, a gzipped archive", async () => {
    const { dir, layout, target } = await scratch();
    const image = await makeOciLayout(layout, [{ entries: [{ name: "f", content: "x" }] }]);
    const notTar = Buffer.from("this is not a tar archive at all, only some text that is long enough".repeat(20));
    const bad = await writeBlob(layout, notTar, "application/vnd.oci.image.layer.v1.tar");
    const manifest = await writeBlob(
      layout,
      Buffer.from(JSON.stringify({ schemaVersion: 2, config: image.config, layers: [bad] })),
      "application/vnd.oci.image.manifest.v1+json",
    );
    await writeLayoutIndex(layout, [manifest]);
    await assertRefused(unpack(layout, target), target, /Layer 1 of 1 .* is not a valid tar layer/);

    await assertRefused(unpack({ kind: "archive", path: layout }, target), target, /The image archive .* is not a file \(a folder is kind 'layout'\)/);
    await unlink(join(layout, "oci-layout"));
    await assertRefused(unpack(layout, target), target, /is not an OCI image layout: it has no oci-layout file/);

    const gzipped = join(dir, "image.tar.gz");
    await writeFile(gzipped, Buffer.from([0x1f, 0x8b, 8, 0]));
    await assertRefused(unpack({ kind: "archive", path: gzipped }, target), target, /is gzip-compressed: decompress it first/);
  });
});

describe("unpackOciImage picks the image", () => {
  const marker = (text: string): TestLayer => ({ entries: [{ name: "which", content: text }] });
  const hostArchitecture = process.arch === "arm64" ? "arm64" : "amd64";

  test("follows an image index to this host's platform (linux/amd64 on x86-64), or the one asked for", async () => {
    const { dir, layout } = await scratch();
    const amd64 = await writeImage(layout, { layers: [marker("amd64")], platform: { os: "linux", architecture: "amd64" } });
    const arm64 = await writeImage(layout, { layers: [marker("arm64")], platform: { os: "linux", architecture: "arm64" } });
    const index = await writeIndexBlob(layout, [arm64.manifest, amd64.manifest]);
    await writeLayoutIndex(layout, [named(index, "latest")]);

    const host = await unpack(layout, join(dir, "host"));
    assert.equal(await readFile(join(dir, "host", "which"), "utf8"), hostArchitecture);
    assert.equal(host.platform.architecture, hostArchitecture);
    assert.equal(host.manifestDigest, hostArchitecture === "amd64" ? amd64.manifest.digest : arm64.manifest.digest);

    await unpack(layout, join(dir, "arm"), { platform: { os: "linux", architecture: "arm64" } });
    assert.equal(await readFile(join(dir, "arm", "which"), "utf8"), "arm64");

    await assertRefused(
      unpack(layout, join(dir, "none"), { platform: { os: "linux", architecture: "s390x" } }),
      join(dir, "none"),
      /no image for linux\/s390x; it has linux\/arm64, linux\/amd64/,
    );
  });

  test("picks this host's platform among platform manifests listed in index.json itself", async () => {
    const { dir, layout } = await scratch();
    const amd64 = await writeImage(layout, { layers: [marker("amd64")], platform: { os: "linux", architecture: "amd64" } });
    const arm64 = await writeImage(layout, { layers: [marker("arm64")], platform: { os: "linux", architecture: "arm64" } });
    await writeLayoutIndex(layout, [arm64.manifest, amd64.manifest]);
    await unpack(layout, join(dir, "host"));
    assert.equal(await readFile(join(dir, "host", "which"), "utf8"), hostArchitecture);
  });

  test("picks the named reference, and says which names exist when none or a wrong one is given", async () => {
    const { dir, layout } = await scratch();
    const v1 = await writeImage(layout, { layers: [marker("v1")] });
    const v2 = await writeImage(layout, { layers: [marker("v2")] });
    const strip = ({ platform: _, ...descriptor }: typeof v1.manifest) => descriptor;
    await writeLayoutIndex(layout, [named(strip(v1.manifest), "v1"), named(strip(v2.manifest), "v2")]);
    await unpack({ kind: "layout", path: layout, ref: "v2" }, join(dir, "v2"));
    assert.equal(await readFile(join(dir, "v2", "which"), "utf8"), "v2");
    await assertRefused(unpack(layout, join(dir, "x")), join(dir, "x"), /holds 2 images: pass a reference to pick one \("v1", "v2"\)/);
    await assertRefused(unpack({ kind: "layout", path: layout, ref: "v3" }, join(dir, "x")), join(dir, "x"), /has no image named "v3"; it has "v1", "v2"/);

    const archive = join(dir, "both.tar");
    await archiveLayout(layout, archive);
    await unpack({ kind: "archive", path: archive, ref: "v1" }, join(dir, "v1"));
    assert.equal(await readFile(join(dir, "v1", "which"), "utf8"), "v1");
  });
});
