// Cuts a stream's output into journal records of one line each (for `journal: "lines"`), so
// a record's seq names one line: an agent's JSON event can be pointed at by its seq. A
// partial line waits in memory for its newline (or flush() at the end of the output); a
// line longer than MAX_LOG_LINE_RECORD_BYTES goes out in pieces of that size, every piece
// but the last marked `more`, so memory stays bounded whatever the process writes.
import { MAX_LOG_LINE_RECORD_BYTES } from "../../protocol-schemas.ts";

const NEWLINE = 0x0a;

/** Receives one record: a whole line (with its "\n"), or a piece of one when `more`. */
export type LineRecordSink = (data: Buffer, more: boolean) => void;

export class LineRecords {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly emit: LineRecordSink,
    private readonly maxRecordBytes = MAX_LOG_LINE_RECORD_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline + 1;
      this.add(chunk.subarray(start, end), newline !== -1);
      start = end;
    }
  }

  /** Emits a last line that never got its newline (the output ended). */
  flush(): void {
    if (this.pendingBytes > 0) this.emit(this.take(), false);
  }

  /** `piece` holds no newline but, when `complete`, its last byte. */
  private add(piece: Buffer, complete: boolean): void {
    let rest = piece;
    while (this.pendingBytes + rest.length > this.maxRecordBytes) {
      const room = this.maxRecordBytes - this.pendingBytes;
      this.hold(rest.subarray(0, room));
      this.emit(this.take(), true);
      rest = rest.subarray(room);
    }
    this.hold(rest);
    if (complete) this.emit(this.take(), false);
  }

  private hold(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private take(): Buffer {
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return data;
  }
}
