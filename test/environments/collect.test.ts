// Unused images and setup layers are removed (issue 20): what no environment needs as defined
// now and no sandbox was started on goes; what one does stays, and so does a folder being made.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { DEFAULT_SETUP_EGRESS, imageKey, setupKey } from "../../src/domain/environments.ts";
import { EnvironmentBuilder } from "../../src/services/environments/builder.ts";
import { ImageStore } from "../../src/services/environments/images.ts";

const root = mkdtempSync(join(tmpdir(), "outpost-collect-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("images and layers that nothing uses are removed; used ones, and ones a sandbox runs on, stay", async () => {
  const mirror = "http://mirror.invalid/debian";
  const images = new ImageStore({ dir: join(root, "images"), importDir: join(root, "imports"), debianMirror: mirror });
  const notUsed = (): never => {
    throw new Error("no sandbox is started when collecting");
  };
  const builder = new EnvironmentBuilder({
    images,
    layersDir: join(root, "layers"),
    sandboxes: { ensure: notUsed, stop: notUsed, remove: notUsed, list: async () => [], takeWritableLayer: notUsed },
  });
  const made = (path: string) => {
    mkdirSync(join(path, "rootfs"), { recursive: true });
    return join(path, "rootfs");
  };
  // The image and setup layer an environment defines now.
  const bookworm = imageKey({ kind: "debian", suite: "bookworm" }, mirror);
  const currentImage = made(join(root, "images", bookworm));
  const currentSetup = made(join(root, "layers", setupKey(bookworm, "make tools", {})));
  // An old setup layer a running sandbox still sits on, an old one nothing uses, an image of
  // a deleted environment, and what a kill left half made.
  const inUse = made(join(root, "layers", setupKey(bookworm, "old tools", {})));
  const stale = made(join(root, "layers", setupKey(bookworm, "older tools", {})));
  const orphanImage = made(join(root, "images", imageKey({ kind: "debian", suite: "trixie" }, mirror)));
  mkdirSync(join(root, "layers", "setup-abc.partial"), { recursive: true });

  const removed = await builder.collect(
    [{ name: "tools", image: "debian:bookworm", setup: "make tools", setupEnv: {}, setupEgress: DEFAULT_SETUP_EGRESS }],
    [inUse],
  );
  for (const kept of [currentImage, currentSetup, inUse]) assert.ok(existsSync(kept), `${kept} is kept`);
  for (const gone of [stale, orphanImage]) assert.ok(!existsSync(gone), `${gone} is removed`);
  assert.ok(!existsSync(join(root, "layers", "setup-abc.partial")), "a leftover .partial is removed");
  assert.equal(removed.length, 3);
});
