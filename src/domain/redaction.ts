// Redaction of a project's `secret` variables from output the control plane streams and
// stores (exec output, process logs): each occurrence of a value becomes `[secret:NAME]`.
//
// What is caught, byte for byte:
//   - the value itself, wherever it appears, also split across any number of chunks;
//   - the value with surrounding whitespace trimmed (a value pasted with a trailing newline
//     is usually printed without it);
//   - the value with each line feed written as CR LF, as a terminal (PTY) prints it;
//   - the value as it appears inside a JSON string (quotes, backslashes, control characters
//     escaped the way JSON.stringify does), for logs written as JSON.
// What is NOT caught — redaction stops accidents, not a program that means to leak:
//   - values shorter than MIN_SECRET_BYTES bytes (redacting `1` or `abc` would shred
//     ordinary output; such a value gives no protection worth that);
//   - any encoding of a value: base64, hex, URL-encoding, JSON `\uXXXX` escapes of non-ASCII
//     characters or `\/`, shell quoting, and other escapings than those above;
//   - a value transformed by the program: cut, reversed, upper-cased, interleaved with
//     other output (two processes writing to one stream), printed with colour codes
//     inside it, or only a part of it printed;
//   - the value in output that never passes through a redactor (files in the workspace).
//
// Overlaps: when occurrences overlap (one value contains another, or the end of one is the
// start of another) the whole overlapping stretch becomes ONE label, named after the
// longest value among those that start where the stretch starts. That rule depends only on
// the bytes, never on where chunks were cut, so a stream's output is the same however its
// bytes arrive, and equal to redactText of the whole.
//
// Streaming holds back only what it must: the tail bytes that are a proper prefix of some
// value (they may be the start of a secret whose rest is in the next chunk), plus an
// occurrence those tail bytes overlap. Everything before passes at once. Memory per stream
// is bounded by about twice the longest value, even for output like `aaaa…` against a
// value `aaaa`: a stretch of overlapping occurrences longer than the longest value has its
// label sent, and the rest of the stretch is swallowed as it arrives.

export const MIN_SECRET_BYTES = 4;

export interface Redactor {
  /** False when no secret is long enough to redact: output may be passed on untouched. */
  readonly active: boolean;
  /** The text with every occurrence of a secret replaced by `[secret:NAME]` (matched as UTF-8: a lone surrogate comes back as U+FFFD). */
  redactText(text: string): string;
  /**
   * A redactor for one byte stream (one stream of one command: do not share across streams).
   * The arrays it returns may share memory with the chunk pushed; flush() at the end of the
   * stream gives back what was held.
   */
  stream(): RedactingStream;
}

export interface RedactingStream {
  push(chunk: Uint8Array): Uint8Array;
  flush(): Uint8Array;
}

interface Pattern {
  bytes: Buffer;
  name: string;
}

interface Occurrence {
  start: number;
  end: number;
  name: string;
  /** Bytes whose label went out with an earlier output: they are dropped, not labelled again. */
  alreadyLabelled: boolean;
}

export function createRedactor(secrets: readonly { name: string; value: string }[]): Redactor {
  const patterns = patternsOf(secrets);
  const active = patterns.length > 0;
  const redactor: Redactor = {
    active,
    redactText(text) {
      if (!active) return text;
      const stream = redactor.stream();
      const head = stream.push(new TextEncoder().encode(text));
      return new TextDecoder().decode(Buffer.concat([head, stream.flush()]));
    },
    stream: () => (active ? new StreamRedactor(patterns) : passThrough),
  };
  return redactor;
}

const EMPTY = new Uint8Array(0);
const passThrough: RedactingStream = { push: (chunk) => chunk, flush: () => EMPTY };

/** Every form of every value that is redacted, longest first; one name per distinct form. */
function patternsOf(secrets: readonly { name: string; value: string }[]): Pattern[] {
  const byForm = new Map<string, Pattern>();
  for (const { name, value } of secrets) {
    if (Buffer.byteLength(value) < MIN_SECRET_BYTES) continue;
    const trimmed = value.trim();
    const forms = [value, trimmed, value.replace(/(?<!\r)\n/g, "\r\n"), JSON.stringify(value).slice(1, -1), JSON.stringify(trimmed).slice(1, -1)];
    for (const form of forms) {
      const bytes = Buffer.from(form);
      // The first secret listed names a form two secrets share.
      if (bytes.byteLength >= MIN_SECRET_BYTES && !byForm.has(form)) byForm.set(form, { bytes, name });
    }
  }
  return [...byForm.values()].sort((a, b) => b.bytes.byteLength - a.bytes.byteLength);
}

class StreamRedactor implements RedactingStream {
  private readonly longest: number;
  /** Bytes not yet sent: a possible start of a secret, or an occurrence it overlaps. */
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of pending[0]. */
  private pendingOffset = 0;
  /** Stream offset up to which bytes belong to a stretch whose label was already sent. */
  private labelledUntil = 0;

  constructor(private readonly patterns: readonly Pattern[]) {
    this.longest = patterns[0]?.bytes.byteLength ?? 0;
  }

  push(chunk: Uint8Array): Uint8Array {
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return this.step(this.pending.byteLength === 0 ? input : Buffer.concat([this.pending, input]), false);
  }

  flush(): Uint8Array {
    return this.step(this.pending, true);
  }

  private step(bytes: Buffer, atEnd: boolean): Uint8Array {
    const stretches = this.stretches(bytes);
    // A stretch that reaches into the held tail may still grow: it is held too.
    const hold = atEnd ? bytes.byteLength : this.possibleSecretStart(bytes);
    const open = stretches.find((stretch) => stretch.start < hold && stretch.end > hold);
    const parts: Uint8Array[] = [];
    let sent = 0;
    for (const stretch of stretches) {
      if (stretch.end > (open ? open.start : hold)) break;
      parts.push(bytes.subarray(sent, stretch.start));
      if (!stretch.alreadyLabelled) parts.push(label(stretch.name));
      sent = stretch.end;
    }
    let keepFrom: number;
    if (open && hold - open.start > this.longest) {
      // A stretch longer than any value cannot gain a longer first occurrence: send its
      // label now, and swallow the rest of it when it arrives.
      parts.push(bytes.subarray(sent, open.start));
      if (!open.alreadyLabelled) parts.push(label(open.name));
      this.labelledUntil = this.pendingOffset + open.end;
      keepFrom = hold;
    } else {
      keepFrom = open ? open.start : hold;
      parts.push(bytes.subarray(sent, keepFrom));
    }
    // Copied: the held bytes must not pin the caller's (possibly large) chunk.
    this.pending = Buffer.from(bytes.subarray(keepFrom));
    this.pendingOffset += keepFrom;
    const nonEmpty = parts.filter((part) => part.byteLength > 0);
    return nonEmpty.length === 1 ? nonEmpty[0]! : Buffer.concat(nonEmpty);
  }

  /** Occurrences merged into stretches: occurrences that overlap make one stretch. */
  private stretches(bytes: Buffer): Occurrence[] {
    const found: Occurrence[] = [];
    const labelledBytes = this.labelledUntil - this.pendingOffset;
    if (labelledBytes > 0) found.push({ start: 0, end: labelledBytes, name: "", alreadyLabelled: true });
    for (const { bytes: value, name } of this.patterns) {
      for (let at = bytes.indexOf(value); at !== -1; at = bytes.indexOf(value, at + 1)) {
        found.push({ start: at, end: at + value.byteLength, name, alreadyLabelled: false });
      }
    }
    // By start, then longest first: a stretch is named after its first occurrence.
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    const merged: Occurrence[] = [];
    for (const occurrence of found) {
      const last = merged[merged.length - 1];
      if (last && occurrence.start < last.end) {
        last.end = Math.max(last.end, occurrence.end);
        last.alreadyLabelled ||= occurrence.alreadyLabelled;
      } else {
        merged.push({ ...occurrence });
      }
    }
    return merged;
  }

  /** Where the bytes' tail could be the start of a secret still arriving, or their length when it cannot. */
  private possibleSecretStart(bytes: Buffer): number {
    const length = bytes.byteLength;
    for (let start = Math.max(0, length - this.longest + 1); start < length; start++) {
      const tail = length - start;
      for (const { bytes: value } of this.patterns) {
        // Patterns are sorted longest first: the rest are too short to extend past the tail.
        if (value.byteLength <= tail) break;
        if (value[0] === bytes[start] && value.compare(bytes, start, length, 0, tail) === 0) return start;
      }
    }
    return length;
  }
}

function label(name: string): Buffer {
  return Buffer.from(`[secret:${name}]`);
}
