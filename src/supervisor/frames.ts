// Binary frames: bytes as bytes on the supervisor link and, for clients that want
// throughput, on the API (`Accept: application/vnd.outpost.frames`). A frame is
//   [type: u8][length: u32 big-endian][payload: length bytes]
// Output and input frames carry raw bytes; control frames carry one small JSON object.
// Used by exec (instead of base64 in NDJSON), PTYs (input, resize) and their answers.
// Pure (Buffer only): bundled into the supervisor and used by the control plane and CLI.

export const FRAMES_CONTENT_TYPE = "application/vnd.outpost.frames";

export const FRAME = {
  /** Output of the command (raw bytes). */
  stdout: 1,
  stderr: 2,
  /** {"pid": N} once the command runs. */
  started: 3,
  /** {"exitCode", "signal", "timedOut", "durationMs"}: the last frame of a run. */
  exit: 4,
  /** Input for the command (raw bytes). */
  stdin: 5,
  /** {"cols", "rows"}: a terminal's new size. */
  resize: 6,
  /** {"code", "message"}: the run failed mid-stream. */
  error: 7,
  /** Closes the command's stdin (no payload). */
  eof: 8,
  /** The request of a stream whose body is frames (a PTY): its JSON options, first. */
  open: 9,
  /** {"cols", "rows"}: a terminal session's whole screen follows in stdout frames (terminal attach). */
  screen: 10,
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];
const TYPES = new Set<number>(Object.values(FRAME));

export const FRAME_HEADER_BYTES = 5;
/** A frame's payload above this is a protocol error (output is read in ≤ 64 KiB pipe reads). */
export const MAX_FRAME_BYTES = 1024 * 1024;

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

export function encodeFrame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame[0] = type;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export const encodeJsonFrame = (type: FrameType, value: unknown): Buffer => encodeFrame(type, JSON.stringify(value));

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** Splits a byte stream into frames; memory is bounded by MAX_FRAME_BYTES plus one chunk. */
export class FrameDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): Frame[] {
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      chunk = Buffer.concat(this.#pending, this.#pendingBytes + chunk.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (chunk.length - offset >= FRAME_HEADER_BYTES) {
      const type = chunk[offset]!;
      const length = chunk.readUInt32BE(offset + 1);
      if (!TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      if (length > this.maxFrameBytes) throw new FrameError(`a frame of ${length} bytes is larger than ${this.maxFrameBytes}`);
      if (chunk.length - offset - FRAME_HEADER_BYTES < length) break;
      const start = offset + FRAME_HEADER_BYTES;
      frames.push({ type: type as FrameType, payload: chunk.subarray(start, start + length) });
      offset = start + length;
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset);
      this.#pending.push(rest);
      this.#pendingBytes = rest.length;
    }
    return frames;
  }

  /** Bytes of an unfinished frame (non-zero at the end of a stream means it was cut). */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }
}

/** Parses a control frame's JSON payload (bounded by the frame size); throws FrameError. */
export function frameJson(frame: Frame): Record<string, unknown> {
  try {
    const value = JSON.parse(frame.payload.toString("utf8")) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new FrameError(`frame ${frame.type} does not hold a JSON object`);
}
