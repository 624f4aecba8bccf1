// Incremental splitting of newline-delimited bytes, used by the daemon (reading journals
// back) and by the client (reading streamed responses). Memory is bounded: a line longer
// than `maxLineBytes` is an error rather than a reason to keep buffering. Node builtins
// only (Buffer), so it can live in the daemon's bundle.

export class LineTooLongError extends Error {
  constructor(readonly maxLineBytes: number) {
    super(`NDJSON line longer than ${maxLineBytes} bytes`);
    this.name = "LineTooLongError";
  }
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Bytes held back because they are not yet terminated by a newline. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Returns the complete lines in `chunk` (without their "\n"); keeps the rest. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    let newline = chunk.indexOf(10, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline);
      if (this.pendingBytes > 0) {
        this.pending.push(piece);
        lines.push(Buffer.concat(this.pending, this.pendingBytes + piece.length));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        lines.push(piece);
      }
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      this.pending.push(rest);
    }
    for (const line of lines) if (line.length > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
    return lines;
  }
}

/** Yields each line of `source` (a stream of byte chunks); a trailing partial line is returned via `rest`. */
export async function* splitLines(source: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<Buffer, number> {
  const splitter = new LineSplitter(maxLineBytes);
  for await (const chunk of source) {
    for (const line of splitter.push(chunk)) yield line;
  }
  // The generator's return value: how many bytes were left without a final newline.
  return splitter.bufferedBytes;
}
