// Streams a process's journaled log to a client: every record with seq > after, read
// from the file (never from memory), then either an exit line (the process has exited and
// everything was sent), an end line (no follow, still running), or, with follow, waits
// for new records. Each follower holds only a file position and one read buffer, so any
// number of slow followers costs bounded memory. Cost: the file is scanned from the start
// to find `after` (at most the log cap).
import { open } from "node:fs/promises";
import { LineSplitter } from "../../ndjson.ts";
import type { LogEndLine, LogExitLine } from "../../protocol.ts";
import type { SupervisorResponse } from "../http-types.ts";
import { writeLine } from "../respond.ts";
import type { ProcessEntry } from "./manager.ts";

const READ_BUFFER_BYTES = 64 * 1024;
/** Journal lines are at most one pipe read (64 KiB), or one piece of a "lines" journal
 * (512 KiB), in base64 plus a few fields. */
const MAX_LINE_BYTES = 1024 * 1024;
const NEWLINE = Buffer.from("\n");
const SEQ_PREFIX = Buffer.from('{"seq":');

/** The seq of a journal line: read from the fixed prefix the journal writes, else parsed. */
export function lineSeq(line: Buffer): number {
  if (line.subarray(0, SEQ_PREFIX.length).equals(SEQ_PREFIX)) {
    let value = 0;
    for (let i = SEQ_PREFIX.length; i < line.length; i++) {
      const digit = line[i]! - 48;
      if (digit < 0 || digit > 9) return i > SEQ_PREFIX.length ? value : Number.NaN;
      value = value * 10 + digit;
    }
  }
  try {
    return Number((JSON.parse(line.toString("utf8")) as { seq?: unknown }).seq);
  } catch {
    return Number.NaN;
  }
}

export interface LogReadOptions {
  after: number;
  follow: boolean;
  signal: AbortSignal;
}

export async function streamLog(entry: ProcessEntry, options: LogReadOptions, response: SupervisorResponse): Promise<void> {
  const file = await open(entry.journal.logPath, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  try {
    const splitter = new LineSplitter(MAX_LINE_BYTES);
    const buffer = Buffer.alloc(READ_BUFFER_BYTES);
    let position = 0;
    while (!response.closed) {
      // Taken before reading: a change during the read wakes the wait below at once.
      const version = entry.journal.changes.version;
      const exitedBefore = entry.process.status === "exited";
      while (file && !response.closed) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const out: Buffer[] = [];
        // Copy: `buffer` is reused by the next read while lines may still be pending.
        for (const line of splitter.push(Buffer.from(buffer.subarray(0, bytesRead)))) {
          if (lineSeq(line) > options.after) out.push(line, NEWLINE);
        }
        if (out.length > 0 && !response.write(Buffer.concat(out))) await response.drain();
      }
      if (response.closed) return;
      if (exitedBefore) {
        const { exitCode, signal, endedAt } = entry.process;
        const exit: LogExitLine = { type: "exit", exitCode, signal, endedAt };
        await writeLine(response, exit);
        break;
      }
      if (!options.follow) {
        const end: LogEndLine = { type: "end" };
        await writeLine(response, end);
        break;
      }
      await entry.journal.changes.wait(version, options.signal);
      if (options.signal.aborted) return;
    }
    if (!response.closed) response.end();
  } finally {
    await file?.close();
  }
}
