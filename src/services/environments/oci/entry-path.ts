// Where a tar entry lands below the image's root, decided from its name alone (pure, no I/O).
// A layer comes from whoever built the image, so its names are hostile input:
//   - a leading "/" is dropped (an absolute name is taken relative to the root, as tar does);
//   - "." and empty components vanish, ".." removes the component before it;
//   - a ".." with nothing left to remove would climb out of the root: refused, never clamped,
//     because an image that tries it was made to attack, not by a careless tool.
// The result is a list of plain components; joining them under the root can name only a
// path inside it. Whether that path's parents are real folders is the builder's job.

export const MAX_ENTRY_NAME_BYTES = 4096;

export type EntryPath = { ok: true; components: string[] } | { ok: false; reason: string };

export function entryPath(name: string): EntryPath {
  if (Buffer.byteLength(name) > MAX_ENTRY_NAME_BYTES) return { ok: false, reason: `is longer than ${MAX_ENTRY_NAME_BYTES} bytes` };
  // Node refuses paths with NUL; a tar name cannot hold one unless a pax header smuggled it in.
  if (name.includes("\0")) return { ok: false, reason: "contains a NUL byte" };
  const components: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (components.length === 0) return { ok: false, reason: "climbs above the image's root with '..'" };
      components.pop();
      continue;
    }
    components.push(part);
  }
  return { ok: true, components };
}

/** The key of a path in the builder's sets: components joined with "/" ("" is the root). */
export const keyOf = (components: readonly string[]): string => components.join("/");
