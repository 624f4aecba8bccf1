// Encryption of secrets at rest (project env values, later database credentials).
// AES-256-GCM with a random 96-bit IV per value. The row's identity (e.g. project id and
// variable name) is bound in as associated data, so a ciphertext copied onto another row
// fails to decrypt instead of silently moving a secret. Format: `v1:<base64(iv|tag|ct)>`.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { OutpostError } from "../domain/errors.ts";

const VERSION = "v1";
export const KEY_BYTES = 32;

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`secret key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = key;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  open(sealed: string, context: string): string {
    const [version, payload] = sealed.split(":", 2);
    if (version !== VERSION || !payload) throw decryptFailed(context);
    const raw = Buffer.from(payload, "base64");
    if (raw.length < 28) throw decryptFailed(context);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      throw decryptFailed(context);
    }
  }
}

function decryptFailed(context: string): OutpostError {
  return new OutpostError("SECRET_DECRYPT_FAILED", "A stored secret could not be decrypted: the secret key changed or the value was tampered with.", {
    details: { context },
  });
}

/** Parses OUTPOST_SECRET_KEY: base64 (or hex) of exactly 32 bytes; null when malformed. */
export function parseSecretKey(text: string): Buffer | null {
  const trimmed = text.trim();
  const candidates = [/^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : null, Buffer.from(trimmed, "base64")];
  return candidates.find((key) => key !== null && key.length === KEY_BYTES) ?? null;
}
