// Writes OCI image layouts for tests, built here from lists of tar entries (tar-stream + zlib),
// so a test says exactly which entries each layer has, malicious ones included. Blobs are
// real: digests, sizes and the config's diff_ids are computed, so a test that wants a broken
// layout breaks one thing on purpose (overwrite a blob, drop one, lie about a digest).
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { type Header, pack } from "tar-stream";

export const FIXED_MTIME = new Date("2024-01-02T03:04:05Z");

export interface TarEntry {
  name: string;
  type?: Header["type"];
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
}

export interface TestLayer {
  entries: TarEntry[];
  /** gzip (the default) or none; the bytes of a zstd layer are gzip too, only its media type says zstd. */
  compression?: "gzip" | "none" | "zstd";
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface TestImage {
  layers: TestLayer[];
  platform?: { os: string; architecture: string };
  /** What the config says each layer unpacks to; default the true digests. */
  diffIds?: string[];
  env?: string[];
}

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const archive = pack();
  for (const entry of entries) {
    const type = entry.type ?? "file";
    const header = {
      name: entry.name,
      type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      linkname: entry.linkname,
      mtime: entry.mtime ?? FIXED_MTIME,
    };
    if (type === "file") archive.entry(header, entry.content ?? "");
    else archive.entry(header);
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const sha256 = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export function blobPath(layout: string, digest: string): string {
  return join(layout, "blobs", "sha256", digest.slice("sha256:".length));
}

export async function writeBlob(layout: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
  await writeFile(blobPath(layout, digest), bytes);
  return { mediaType, digest, size: bytes.byteLength };
}

const LAYER_TYPES = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  none: "application/vnd.oci.image.layer.v1.tar",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

/** Writes an image's layers, config and manifest; answers the manifest's descriptor and the layers'. */
export async function writeImage(layout: string, image: TestImage): Promise<{ manifest: Descriptor; layers: Descriptor[]; config: Descriptor }> {
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const layer of image.layers) {
    const tar = await tarOf(layer.entries);
    diffIds.push(sha256(tar));
    const compression = layer.compression ?? "gzip";
    layers.push(await writeBlob(layout, compression === "none" ? tar : gzipSync(tar), LAYER_TYPES[compression]));
  }
  const platform = image.platform ?? { os: "linux", architecture: "amd64" };
  const config = await writeBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        ...platform,
        config: { Env: image.env ?? ["PATH=/usr/bin:/bin"], WorkingDir: "/work", User: "1000" },
        rootfs: { type: "layers", diff_ids: image.diffIds ?? diffIds },
      }),
    ),
    "application/vnd.oci.image.config.v1+json",
  );
  const manifest = await writeBlob(
    layout,
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers })),
    "application/vnd.oci.image.manifest.v1+json",
  );
  return { manifest: { ...manifest, platform }, layers, config };
}

/** A multi-platform image index blob over these manifests. */
export async function writeIndexBlob(layout: string, manifests: Descriptor[]): Promise<Descriptor> {
  const body = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests };
  return writeBlob(layout, Buffer.from(JSON.stringify(body)), "application/vnd.oci.image.index.v1+json");
}

/** The layout's own files: oci-layout and index.json listing these manifests. */
export async function writeLayoutIndex(layout: string, manifests: Descriptor[]): Promise<void> {
  await mkdir(layout, { recursive: true });
  await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
}

export const named = (descriptor: Descriptor, ref: string): Descriptor => ({
  ...descriptor,
  annotations: { "org.opencontainers.image.ref.name": ref },
});

/** A layout holding one image of these layers. */
export async function makeOciLayout(layout: string, layers: TestLayer[], options: { ref?: string } = {}) {
  const image = await writeImage(layout, { layers });
  // index.json entries usually carry no platform (skopeo writes none for a single image).
  const { platform: _, ...manifest } = image.manifest;
  await writeLayoutIndex(layout, [options.ref ? named(manifest, options.ref) : manifest]);
  return image;
}

/** A tar of the layout folder, as `skopeo copy … oci-archive:` writes it. */
export async function archiveLayout(layout: string, archive: string): Promise<void> {
  const entries: TarEntry[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const item of (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(folder, item.name);
      const name = relative(layout, path);
      if (item.isDirectory()) {
        entries.push({ name: `${name}/`, type: "directory" });
        await walk(path);
      } else {
        entries.push({ name, content: await readFile(path) });
      }
    }
  };
  await walk(layout);
  await writeFile(archive, await tarOf(entries));
}
