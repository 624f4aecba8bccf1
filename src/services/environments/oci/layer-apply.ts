// One layer, from its blob to the root being built: read in place → sha256 (the blob's digest,
// checked again: the bytes applied must be the bytes verified) → gunzip when compressed →
// sha256 (the config's diff_id for this layer, when it lists one) → tar entries, each applied
// by the RootfsBuilder before the next is read.
import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { digestMismatch, openBlob } from "./blobs.ts";
import type { LayerCompression } from "./image-select.ts";
import type { BlobRange } from "./layout-source.ts";
import type { Descriptor } from "./oci-schemas.ts";
import { refuse } from "./refusal.ts";
import type { RootfsBuilder } from "./rootfs-builder.ts";

export interface LayerToApply {
  descriptor: Descriptor;
  range: BlobRange;
  compression: LayerCompression;
  diffId?: string;
  /** "layer 2 of 5 (sha256:…)": the start of every message about this layer. */
  label: string;
}

export async function applyLayer(layer: LayerToApply, builder: RootfsBuilder, signal: AbortSignal, onBytes: (bytes: number) => void): Promise<void> {
  const blobHash = createHash("sha256");
  const diffHash = createHash("sha256");
  let bytes = 0;
  const hashBlob = tap((chunk) => {
    blobHash.update(chunk);
    bytes += chunk.byteLength;
    onBytes(bytes);
  });
  const hashDiff = tap((chunk) => diffHash.update(chunk));
  const entries = extract();
  // The entry being applied: awaited before an error is thrown, so nothing still writes into
  // the root while the caller removes it.
  let applying: Promise<void> = Promise.resolve();
  entries.on("entry", (header, body, next) => {
    applying = builder.apply(header, body).then(() => next(), next);
  });
  builder.beginLayer(layer.label);
  try {
    const stages = layer.compression === "gzip" ? [hashBlob, createGunzip(), hashDiff] : [hashBlob, hashDiff];
    await pipeline([openBlob(layer.range), ...stages, entries], { signal });
  } catch (error) {
    await applying.catch(() => {});
    signal.throwIfAborted();
    throw asLayerError(error, layer.label);
  }
  const blobDigest = `sha256:${blobHash.digest("hex")}`;
  if (blobDigest !== layer.descriptor.digest)
    throw digestMismatch(`${capitalize(layer.label)} changed while it was applied: it`, layer.descriptor.digest, blobDigest);
  const diffDigest = `sha256:${diffHash.digest("hex")}`;
  if (layer.diffId !== undefined && diffDigest !== layer.diffId) {
    throw refuse(
      `${capitalize(layer.label)} unpacks to other content than the image config says (rootfs.diff_ids): expected ${layer.diffId}, got ${diffDigest}`,
    );
  }
}

function tap(observe: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      observe(chunk);
      callback(null, chunk);
    },
  });
}

/** Refusals and the host's own failures (a full disk) pass as they are; anything else is a broken layer. */
function asLayerError(error: unknown, label: string): unknown {
  if (!(error instanceof Error)) return error;
  if ((error as { code?: unknown }).code === "IMAGE_INVALID" || "syscall" in error) return error;
  return refuse(`${capitalize(label)} is not a valid tar layer: ${error.message}`, { layer: label });
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
