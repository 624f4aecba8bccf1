// An OCI image layout as an environment's image (issue 20), end to end: a layout made here
// from a Debian root (one gzip-less layer, written with GNU tar; real digests), placed in the
// image import folder, boots a sandbox. A path outside the import folder is refused with the
// folder named, and nothing is read from it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEBIAN_ROOT_CACHE, finishedBuild, stageOf } from "../helpers/environments.ts";
import { deleteEverySandbox, exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer, tempDir } from "../helpers/server.ts";

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** An OCI image layout of `root` as one uncompressed layer, at `layout`. */
async function layoutOf(root: string, layout: string): Promise<void> {
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const layer = join(layout, "layer.tar");
  execFileSync("tar", ["--numeric-owner", "-C", root, "-cf", layer, "--exclude=./.outpost-complete", "."]);
  const layerDigest = await sha256(layer);
  renameSync(layer, join(blobs, layerDigest));
  const blob = (content: string) => {
    const digest = createHash("sha256").update(content).digest("hex");
    writeFileSync(join(blobs, digest), content);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
  };
  const config = blob(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] }, config: {} }));
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerDigest}`, size: statSync(join(blobs, layerDigest)).size }],
    }),
  );
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "bookworm" } }],
    }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
}

describe("an OCI image layout boots a sandbox", () => {
  let s: TestServer;
  let importDir: string;

  before(async () => {
    importDir = tempDir("outpost-imports-");
    const debian = join(DEBIAN_ROOT_CACHE, "bookworm");
    // The Debian root the other environment tests keep (made here when missing).
    if (!existsSync(join(debian, ".outpost-complete"))) {
      const maker = await startTestServer("embedded", { debianRootCache: DEBIAN_ROOT_CACHE });
      await api(maker, "POST", "/api/v1/environments", { body: { name: "seed", image: "debian:bookworm" } });
      await api(maker, "POST", "/api/v1/environments/seed/builds");
      await finishedBuild(maker, "seed", 600_000);
      await maker.close();
    }
    await layoutOf(debian, join(importDir, "bookworm"));
    s = await startTestServer("embedded", { imageImportDir: importDir });
  });
  after(async () => {
    if (s) await deleteEverySandbox(s);
    await s?.close();
  });

  test("a layout under the import folder is unpacked, verified and runs", async () => {
    const env = await api(s, "POST", "/api/v1/environments", { body: { name: "oci", image: `oci-layout:${join(importDir, "bookworm")}@bookworm` } });
    assert.equal(env.status, 201, JSON.stringify(env.body));
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "from-oci", environment: "oci" } })).status, 201);
    const box = await runningSandbox(s, "from-oci", 600_000);
    assert.match((await stageOf(s, box.id, "environment"))?.message ?? "", /^oci: built \(img-/);
    const out = await exec(s, box.id, ["sh", "-c", "grep VERSION_CODENAME /etc/os-release; id -un"]);
    assert.equal(out.stdout, "VERSION_CODENAME=bookworm\noutpost\n");
    assert.equal((await exec(s, box.id, ["id", "-u"], { user: "root" })).stdout, "0\n");
  });

  test("a path outside the import folder is refused, naming the folder", async () => {
    const env = await api(s, "POST", "/api/v1/environments", { body: { name: "outside", image: "oci-layout:/etc" } });
    assert.equal(env.status, 201, "the name is fine; the path is checked when it is built");
    const build = await api(s, "POST", "/api/v1/environments/outside/builds");
    assert.equal(build.status, 202);
    const done = await finishedBuild(s, "outside");
    assert.equal(done.state, "failed");
    assert.match(done.error, /not inside the image import folder/);
    assert.match(done.log, new RegExp(importDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  });
});
