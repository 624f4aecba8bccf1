// On-disk journal of one background process, so its output and fate survive the control
// plane going away and the supervisor restarting:
//   <state>/processes/<id>/meta.json   the Process, replaced atomically on every change
//   <state>/processes/<id>/log.ndjson  append-only {"seq","stream","data","more"?,"ts"} lines
// Appends are synchronous single write() calls of whole lines: ordered, nothing buffered
// in memory, and a page-cache write costs microseconds. Past the cap nothing more is
// written except one "system" record saying so (the process keeps running, its output is
// read and dropped so it never blocks on a full pipe).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LOG_TRUNCATED_MESSAGE, type LogStream, PROCESS_ID_PATTERN, type Process } from "../../protocol.ts";
import { writeJsonAtomic } from "../files.ts";
import { Notifier } from "../notifier.ts";

export const DEFAULT_LOG_CAP_BYTES = 64 * 1024 * 1024;

export class ProcessJournal {
  /** Bumped after every append and when the journal closes; log followers wait on it. */
  readonly changes = new Notifier();
  private fd: number | null = null;
  private seq = 0;
  private bytes = 0;
  private truncated = false;

  private constructor(
    readonly dir: string,
    private readonly capBytes: number,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  get metaPath(): string {
    return join(this.dir, "meta.json");
  }

  get logPath(): string {
    return join(this.dir, "log.ndjson");
  }

  /** A fresh journal, open for appending. */
  static create(processesDir: string, id: string, capBytes: number, warn: (message: string) => void): ProcessJournal {
    const journal = new ProcessJournal(join(processesDir, id), capBytes, warn);
    mkdirSync(journal.dir, { recursive: true, mode: 0o700 });
    journal.fd = openSync(journal.logPath, "a", 0o600);
    return journal;
  }

  /** The journal of a process from an earlier supervisor: read-only. */
  static existing(dir: string): ProcessJournal {
    return new ProcessJournal(dir, 0);
  }

  writeMeta(process: Process): void {
    writeJsonAtomic(this.metaPath, process);
  }

  /** `more`: the record is a piece of a line that goes on in the next one (see line-records.ts). */
  append(stream: LogStream, chunk: Buffer, more = false): void {
    if (this.fd === null || this.truncated) return;
    const line = this.line(stream, chunk, more);
    try {
      if (this.bytes + Buffer.byteLength(line) > this.capBytes) {
        this.truncated = true;
        this.write(this.line("system", Buffer.from(LOG_TRUNCATED_MESSAGE)));
      } else {
        this.write(line);
      }
    } catch (error) {
      // A full disk must not take the supervisor down: stop journaling this process.
      this.truncated = true;
      this.warn(`journal ${this.dir}: ${(error as Error).message}; further output is dropped`);
    }
    this.changes.notify();
  }

  /** No more appends; wakes followers so they can notice the process ended. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.changes.notify();
  }

  /** Removes the journal of a process that never started. */
  discard(): void {
    this.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private line(stream: LogStream, chunk: Buffer, more = false): string {
    // `seq` first: readers find it without parsing the whole line (see log-reader.ts).
    const data = `"data":"${chunk.toString("base64")}"${more ? ',"more":true' : ""}`;
    return `{"seq":${this.seq + 1},"stream":"${stream}",${data},"ts":"${new Date().toISOString()}"}\n`;
  }

  private write(line: string): void {
    const bytes = Buffer.from(line);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd!, bytes, offset);
    this.seq++;
    this.bytes += bytes.length;
  }
}

/** Loads every process journaled under `processesDir`; unreadable entries are reported and skipped. */
export function loadJournals(processesDir: string, warn: (message: string) => void): { process: Process; journal: ProcessJournal }[] {
  if (!existsSync(processesDir)) return [];
  const loaded: { process: Process; journal: ProcessJournal }[] = [];
  for (const name of readdirSync(processesDir)) {
    if (!PROCESS_ID_PATTERN.test(name)) continue;
    const journal = ProcessJournal.existing(join(processesDir, name));
    try {
      const process = JSON.parse(readFileSync(journal.metaPath, "utf8")) as Process;
      if (process.id !== name || typeof process.pid !== "number" || (process.status !== "running" && process.status !== "exited")) {
        throw new Error("meta.json does not describe this process");
      }
      loaded.push({ process, journal });
    } catch (error) {
      // A crash between creating the folder and the first meta write leaves no meta.json.
      warn(`skipping journal ${name}: ${(error as Error).message}`);
    }
  }
  return loaded.sort((a, b) => a.process.startedAt.localeCompare(b.process.startedAt));
}
