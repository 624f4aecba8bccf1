// Blobs are used only once their size and sha256 digest match the descriptor that named them:
// the descriptor chain (index → manifest → config and layers) is what makes a layout from a
// stranger mean one image and not another. Small blobs (manifests, configs) are read whole,
// verified and parsed; layers are verified in a first pass, then hashed again as they are
// applied (layer-apply.ts), so the bytes applied are the bytes verified.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { BlobRange, LayoutSource } from "./layout-source.ts";
import type { Descriptor } from "./oci-schemas.ts";
import { refuse, shortDigest } from "./refusal.ts";

/** The blob's bytes in the layout, refused when missing or of another size than the descriptor says. */
export async function locateBlob(layout: LayoutSource, descriptor: Descriptor, what: string): Promise<BlobRange> {
  const range = await layout.locate(descriptor.digest);
  if (!range) throw refuse(`${what} (blob ${descriptor.digest}) is missing from ${layout.label}`, { digest: descriptor.digest });
  if (range.size !== descriptor.size) {
    throw refuse(`${what} (blob ${shortDigest(descriptor.digest)}) is ${range.size} bytes, but its descriptor says ${descriptor.size}`, {
      digest: descriptor.digest,
    });
  }
  return range;
}

/** A stream of the blob's bytes, read in place. */
export function openBlob(range: BlobRange, signal?: AbortSignal): Readable {
  if (range.size === 0) return Readable.from([]);
  return createReadStream(range.path, { start: range.start, end: range.start + range.size - 1, highWaterMark: 1024 * 1024, signal });
}

/** Checks the blob's size and digest (reading it unless its layout already hashed it); answers where it is. */
export async function verifyBlob(
  layout: LayoutSource,
  descriptor: Descriptor,
  what: string,
  signal: AbortSignal,
  onBytes: (bytes: number, final?: boolean) => void = () => {},
): Promise<BlobRange> {
  const range = await locateBlob(layout, descriptor, what);
  let digest = range.digest;
  if (digest === undefined) {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of openBlob(range, signal)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
      onBytes(bytes);
    }
    digest = `sha256:${hash.digest("hex")}`;
  }
  if (digest !== descriptor.digest) throw digestMismatch(what, descriptor.digest, digest);
  onBytes(range.size, true);
  return range;
}

/** Reads a small blob whole and verifies it. */
export async function readVerifiedBlob(layout: LayoutSource, descriptor: Descriptor, what: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  if (descriptor.size > maxBytes)
    throw refuse(`${what} (blob ${shortDigest(descriptor.digest)}) is ${descriptor.size} bytes, more than the ${maxBytes} allowed`);
  const range = await locateBlob(layout, descriptor, what);
  const chunks: Buffer[] = [];
  for await (const chunk of openBlob(range, signal)) chunks.push(chunk as Buffer);
  const content = Buffer.concat(chunks);
  const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
  if (digest !== descriptor.digest || content.byteLength !== descriptor.size) throw digestMismatch(what, descriptor.digest, digest);
  return content;
}

export function digestMismatch(what: string, expected: string, actual: string) {
  return refuse(`${what} does not match its digest: expected ${expected}, the blob's bytes are ${actual}`, { expected, actual });
}
