// One way to say "this image is refused": an IMAGE_INVALID error whose message names what
// was refused (a blob's digest, a layer, an entry's path), so the person who exported the
// image can find it. Names come from an untrusted image, so they are quoted and shortened.
import { OutpostError } from "../../../domain/errors.ts";

const MAX_SHOWN_NAME_CHARS = 200;

export function refuse(message: string, details: Record<string, unknown> = {}): OutpostError {
  return new OutpostError("IMAGE_INVALID", message, { details });
}

/** An entry name as it appears in a message: JSON-quoted (control characters escaped), at most 200 characters. */
export function shown(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length <= MAX_SHOWN_NAME_CHARS ? quoted : `${quoted.slice(0, MAX_SHOWN_NAME_CHARS - 2)}…"`;
}

/** `sha256:0123456789ab`: enough of a digest to find its blob, short enough to read. */
export const shortDigest = (digest: string): string => digest.slice(0, "sha256:".length + 12);
