// Reads a byte stream in the sizes a parser asks for (a 512-byte tar header, then a file's
// data in chunks), pulling from the source only when asked: whatever the parser does not
// consume yet is not read, so flow control reaches the sender.
export class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Exactly `size` bytes; null when the stream ended before any; an error when it ends midway. */
  async exactly(size: number): Promise<Buffer | null> {
    while (this.#pending.length < size && (await this.#more()));
    if (this.#pending.length === 0 && size > 0) return null;
    if (this.#pending.length < size) throw new UnexpectedEndError();
    return this.#take(size);
  }

  /** `size` bytes as the chunks they come in (none larger than the source's own). */
  async *chunks(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#more())) throw new UnexpectedEndError();
      const chunk = this.#take(Math.min(left, this.#pending.length));
      left -= chunk.length;
      yield chunk;
    }
  }

  async skip(size: number): Promise<void> {
    for await (const _ of this.chunks(size));
  }

  /** Reads and drops the rest, up to `limit` bytes; false if more was there. */
  async drain(limit: number): Promise<boolean> {
    let seen = this.#pending.length;
    this.#pending = Buffer.alloc(0);
    while (seen <= limit) {
      const next = await this.#source.next();
      if (next.done) return true;
      seen += next.value.length;
    }
    return false;
  }

  #take(size: number): Buffer {
    const chunk = this.#pending.subarray(0, size);
    this.#pending = this.#pending.subarray(size);
    this.position += size;
    return chunk;
  }

  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return true;
  }
}

export class UnexpectedEndError extends Error {
  constructor() {
    super("the stream ended in the middle of an entry");
    this.name = "UnexpectedEndError";
  }
}
