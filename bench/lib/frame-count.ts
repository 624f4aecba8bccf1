// Counts the binary frames of a streamed exec (`Accept: application/vnd.outpost.frames`:
// `[type u8][length u32 big-endian][payload]`, 1 stdout / 2 stderr raw bytes, 3 started /
// 4 exit / 7 error JSON) as chunks arrive, without copying or keeping the output: a frame's
// payload may span any number of chunks and a header may be cut anywhere. Only the small
// control frames and the first few kB of stderr are kept. Pure: no I/O.

export const FRAME_TYPES = { stdout: 1, stderr: 2, started: 3, exit: 4, error: 7 } as const;
const HEADER_BYTES = 5;
/** The protocol's bound on one payload; larger means the stream is not what we think. */
const MAX_PAYLOAD_BYTES = 1024 * 1024;
const KEPT_STDERR_BYTES = 4096;

export interface FrameCount {
  stdoutBytes: number;
  stderrBytes: number;
  /** Every frame, control frames included. */
  frames: number;
  started?: Record<string, unknown>;
  exit?: Record<string, unknown>;
  error?: Record<string, unknown>;
  /** The first few kB of stderr, as text. */
  stderr: string;
}

export class FrameCounter {
  readonly count: FrameCount = { stdoutBytes: 0, stderrBytes: 0, frames: 0, stderr: "" };
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #type = 0;
  /** Payload bytes still to come of the current frame. */
  #left = 0;
  /** The payload of the current control frame, gathered (small). */
  #control: Buffer[] = [];
  #inFrame = false;

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.#inFrame) {
        const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + take), this.#headerFill);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < HEADER_BYTES) return;
        this.#begin(this.#header[0]!, this.#header.readUInt32BE(1));
        continue;
      }
      const take = Math.min(this.#left, chunk.length - offset);
      this.#payload(chunk.subarray(offset, offset + take));
      offset += take;
      this.#left -= take;
      if (this.#left === 0) this.#finish();
    }
  }

  /** Bytes of a frame that was cut off (non-zero at the end of a stream means it broke). */
  get pendingBytes(): number {
    return this.#inFrame ? HEADER_BYTES + this.#left : this.#headerFill;
  }

  #begin(type: number, length: number): void {
    if (!Object.values(FRAME_TYPES).includes(type as never)) throw new Error(`unknown frame type ${type}`);
    if (length > MAX_PAYLOAD_BYTES) throw new Error(`a frame of ${length} bytes (more than ${MAX_PAYLOAD_BYTES})`);
    this.#type = type;
    this.#left = length;
    this.#headerFill = 0;
    this.#inFrame = true;
    if (length === 0) this.#finish();
  }

  #payload(bytes: Uint8Array): void {
    if (this.#type === FRAME_TYPES.stdout) this.count.stdoutBytes += bytes.length;
    else if (this.#type === FRAME_TYPES.stderr) {
      this.count.stderrBytes += bytes.length;
      if (this.count.stderr.length < KEPT_STDERR_BYTES) this.count.stderr += Buffer.from(bytes).toString("utf8").slice(0, KEPT_STDERR_BYTES);
    } else this.#control.push(Buffer.from(bytes));
  }

  #finish(): void {
    this.count.frames++;
    this.#inFrame = false;
    if (this.#type === FRAME_TYPES.stdout || this.#type === FRAME_TYPES.stderr) return;
    const text = Buffer.concat(this.#control).toString("utf8");
    this.#control = [];
    const value = JSON.parse(text) as Record<string, unknown>;
    if (this.#type === FRAME_TYPES.started) this.count.started = value;
    else if (this.#type === FRAME_TYPES.exit) this.count.exit = value;
    else this.count.error = value;
  }
}
