// Safe unpacking of an OCI image into a root filesystem folder, for the local driver's images.
//
//   const image = await unpackOciImage({ source: { kind, path, ref? }, target, signal, platform?, onProgress? });
//
// - `source.kind` "layout": an OCI image layout folder (oci-layout, index.json,
//   blobs/sha256/…); "archive": a tar of one (what `skopeo copy … oci-archive:<file>[:ref]`
//   writes; not gzipped).
// - `source.ref` picks the manifest named so (annotation org.opencontainers.image.ref.name)
//   when the layout holds several; an image index is followed to `platform` (default linux and
//   this host's architecture: linux/amd64 on x86-64).
// - `target` must not exist. The root is built in `<target>.partial` (a leftover one, from a
//   process killed mid-unpack, is removed first) and renamed to `target` only when complete,
//   so a folder at `target` is always a whole image. On any failure nothing is left at either.
//   Callers must not unpack to the same target twice at once (the image store serializes).
// - Resolves to what the caller needs to run the image (its config's env, user, working dir)
//   and counts; rejects with OutpostError IMAGE_INVALID (message names the blob, layer and
//   entry refused), with `signal.reason` when aborted, or with the host's own error (ENOSPC…).
// - `onProgress` gets { phase: "verify" | "unpack", layer, layers, bytes, layerBytes,
//   unpackedBytes }: every layer is verified first, then each is applied.
//
// What is checked (the layout may come from a stranger): every blob's size and sha256 against
// its descriptor before use (layers again while applied, and against the config's diff_ids);
// layer media types tar and tar+gzip only (zstd is refused); entry names ≤ 4096 bytes that do
// not climb out of the root; no symlink followed while unpacking (an entry below a symlink is
// refused); hard links only to entries already in the root; `maxBytes` of file content (20
// GiB by default) and `maxEntries` entries. Device nodes and fifos are skipped and counted.
// Modes (setuid included: the sandbox's user namespace bounds it), mtimes, symlinks and hard
// links are kept; uid/gid are kept when running as root. Rules per entry: rootfs-builder.ts.
import { lstat, mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { OutpostError } from "../../../domain/errors.ts";
import { verifyBlob } from "./blobs.ts";
import { hostPlatform, selectImage } from "./image-select.ts";
import { applyLayer } from "./layer-apply.ts";
import { type OciImageSource, openLayoutSource } from "./layout-source.ts";
import type { Platform } from "./oci-schemas.ts";
import { shortDigest } from "./refusal.ts";
import { RootfsBuilder } from "./rootfs-builder.ts";

export type { OciImageSource } from "./layout-source.ts";
export type { Platform } from "./oci-schemas.ts";

export const DEFAULT_MAX_UNPACKED_BYTES = 20 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 2_000_000;
/** Progress is reported at each layer's start and end, and every this many bytes between. */
const PROGRESS_STEP_BYTES = 8 * 1024 * 1024;

export interface UnpackOciImageOptions {
  /** A layout folder, or a tar archive of one; `ref` picks one of several images. */
  source: OciImageSource;
  /** The root filesystem folder to make; it must not exist. Its parent is created if missing. */
  target: string;
  signal: AbortSignal;
  /** Which image of a multi-platform index; default linux and this host's architecture. */
  platform?: Platform;
  onProgress?: (progress: OciUnpackProgress) => void;
  /** Bytes of file content, all layers together; default 20 GiB. */
  maxBytes?: number;
  /** Tar entries, all layers together; default 2,000,000. */
  maxEntries?: number;
}

export interface OciUnpackProgress {
  /** "verify": checking a layer's digest; "unpack": applying it. Every layer is verified before any is applied. */
  phase: "verify" | "unpack";
  /** 1-based. */
  layer: number;
  layers: number;
  /** Bytes of this layer's blob read so far, out of `layerBytes`. */
  bytes: number;
  layerBytes: number;
  /** File content written so far, all layers together. */
  unpackedBytes: number;
}

export interface UnpackedOciImage {
  manifestDigest: string;
  configDigest: string;
  /** As the image's config says (it may differ from the host's when a reference picked it). */
  platform: Platform;
  /** From the image config: what a command in the image expects. */
  config: { env: string[]; workingDir?: string; user?: string; entrypoint?: string[]; cmd?: string[] };
  layers: number;
  /** Sum of the layers' files' sizes (a file replaced by a later layer counts twice). */
  unpackedBytes: number;
  entries: number;
  skippedDevices: number;
  skippedFifos: number;
}

export async function unpackOciImage(options: UnpackOciImageOptions): Promise<UnpackedOciImage> {
  try {
    return await unpack(options);
  } catch (error) {
    // Streams end an abort with their own AbortError; the caller gets the reason it gave.
    options.signal.throwIfAborted();
    throw error;
  }
}

async function unpack(options: UnpackOciImageOptions): Promise<UnpackedOciImage> {
  const { source, target, signal } = options;
  signal.throwIfAborted();
  await assertMissing(target);
  const layout = await openLayoutSource(source, signal);
  const image = await selectImage(layout, { reference: source.ref, platform: options.platform ?? hostPlatform(), signal });
  const count = image.layers.length;
  const report = progressReporter(options.onProgress, count);

  // Every layer is verified before the first is applied: a bad or missing blob fails fast,
  // before anything is written.
  const layers = [];
  for (const [i, { descriptor, compression, diffId }] of image.layers.entries()) {
    const label = `layer ${i + 1} of ${count} (${shortDigest(descriptor.digest)})`;
    const range = await verifyBlob(
      layout,
      descriptor,
      capitalize(label),
      signal,
      report("verify", i, descriptor.size, () => 0),
    );
    layers.push({ descriptor, compression, diffId, label, range });
  }

  const partial = `${target}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true });
  await mkdir(partial, { mode: 0o700 });
  const builder = new RootfsBuilder(
    partial,
    { maxBytes: options.maxBytes ?? DEFAULT_MAX_UNPACKED_BYTES, maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES },
    process.getuid?.() === 0,
  );
  try {
    for (const [i, layer] of layers.entries()) {
      const onBytes = report("unpack", i, layer.descriptor.size, () => builder.stats.unpackedBytes);
      await applyLayer(layer, builder, signal, onBytes);
      onBytes(layer.descriptor.size, true);
    }
    builder.finish();
    signal.throwIfAborted();
    await assertMissing(target);
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  return {
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    platform: image.platform,
    config: image.config,
    layers: count,
    ...builder.stats,
  };
}

async function assertMissing(target: string): Promise<void> {
  const existing = await lstat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing) throw new OutpostError("INTERNAL", `Cannot unpack an image to ${target}: it already exists`, { details: { target } });
}

/**
 * Per layer and phase, a callback taking the bytes read so far: it reports at the start, every
 * PROGRESS_STEP_BYTES, and when told `final` (after the layer's last entry was applied).
 */
function progressReporter(onProgress: UnpackOciImageOptions["onProgress"], layers: number) {
  return (phase: OciUnpackProgress["phase"], index: number, layerBytes: number, unpackedBytes: () => number) => {
    let reported = -1;
    const report = (bytes: number, final = false) => {
      if (!onProgress || (!final && reported >= 0 && bytes - reported < PROGRESS_STEP_BYTES)) return;
      reported = bytes;
      onProgress({ phase, layer: index + 1, layers, bytes, layerBytes, unpackedBytes: unpackedBytes() });
    };
    report(0);
    return report;
  };
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
