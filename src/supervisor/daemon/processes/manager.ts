// Background processes (dev servers, watchers): start, list, signal, and their journals.
// The in-memory map is only an index over the journal on disk; on start-up it is rebuilt
// from the meta files, so a supervisor restart loses neither logs nor exit statuses.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AllowedSignal, Process, StartProcessRequest } from "../../protocol.ts";
import { ChildRun, resolveCwd } from "../child.ts";
import { SupervisorError } from "../errors.ts";
import { newProcessId } from "../files.ts";
import type { RunRegistry, StoppableRun } from "../run-registry.ts";
import { loadJournals, ProcessJournal } from "./journal.ts";
import { LineRecords } from "./line-records.ts";
import { ProcessStdin } from "./stdin.ts";

export interface ProcessEntry {
  process: Process;
  journal: ProcessJournal;
  run?: StoppableRun;
  /** Only while a process started with stdin "pipe" runs. */
  stdin?: ProcessStdin;
}

export interface ProcessManagerOptions {
  stateDir: string;
  workspace: string;
  logCapBytes: number;
  runs: RunRegistry;
  log: (message: string) => void;
  /** How often an adopted process (see load) is checked for liveness. */
  adoptPollMs?: number;
}

/** True when `pid` runs. EPERM means it exists under another uid. A zombie does not run:
 * its parent died with the old supervisor and whoever inherited it has not reaped it yet. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true; // no /proc: trust kill()
  }
}

export class ProcessManager {
  private readonly entries = new Map<string, ProcessEntry>();
  private readonly processesDir: string;

  constructor(private readonly options: ProcessManagerOptions) {
    this.processesDir = join(options.stateDir, "processes");
  }

  /** Rebuilds the index from disk. A "running" process whose pid is gone died with the
   * previous supervisor: it is recorded as exited (exitCode null, signal SIGKILL, since
   * its real fate is unknown). One still alive is adopted: signals reach its group, and it
   * is polled until it goes; its output after the restart is lost (its pipes were ours),
   * and its stdin, if piped, is reported "closed". */
  load(): void {
    for (const { process: proc, journal } of loadJournals(this.processesDir, this.options.log)) {
      const entry: ProcessEntry = { process: proc, journal };
      this.entries.set(proc.id, entry);
      if (proc.status !== "running") continue;
      if (alive(proc.pid)) {
        // Its stdin pipe was the old supervisor's, closed when that one went.
        this.markStdinClosed(entry);
        entry.run = this.adopt(entry);
      } else {
        this.markExited(entry, { exitCode: null, signal: "SIGKILL" });
      }
    }
  }

  async start(request: StartProcessRequest): Promise<Process> {
    this.options.runs.assertAccepting();
    const cwd = await resolveCwd(this.options.workspace, request.cwd);
    const id = newProcessId();
    const journal = ProcessJournal.create(this.processesDir, id, this.options.logCapBytes, this.options.log);
    // "lines": stdout cut at newlines, so one record is one line; stderr stays chunked.
    const lines = request.journal === "lines" ? new LineRecords((data, more) => journal.append("stdout", data, more)) : null;
    const holdStdin = request.stdin === "pipe";
    let run: ChildRun;
    try {
      run = await ChildRun.start({ command: request.command, cwd, env: request.env, holdStdin, user: request.user }, (stream, chunk) => {
        if (lines && stream === "stdout") lines.push(chunk);
        else journal.append(stream, chunk);
        return true;
      });
    } catch (error) {
      journal.discard();
      throw error;
    }
    const proc: Process = {
      id,
      ...(request.name === undefined ? {} : { name: request.name }),
      command: request.command,
      cwd,
      ...(holdStdin ? { stdin: "pipe" as const } : {}),
      pid: run.pid,
      status: "running",
      exitCode: null,
      signal: null,
      startedAt: new Date().toISOString(),
      endedAt: null,
    };
    journal.writeMeta(proc);
    const entry: ProcessEntry = { process: proc, journal, run };
    // A finished run's stdin closes on its way to "exited", which writes the meta anyway.
    if (run.stdin) entry.stdin = new ProcessStdin(run.stdin, () => this.markStdinClosed(entry, !run.isFinished));
    this.entries.set(id, entry);
    this.options.runs.add(run);
    // `done` settles after the pipes closed, so every record is journaled before "exited".
    void run.done.then((exit) => {
      lines?.flush();
      this.markExited(entry, exit);
    });
    return { ...proc };
  }

  list(): Process[] {
    return [...this.entries.values()].map((entry) => ({ ...entry.process }));
  }

  get(id: string): ProcessEntry {
    const entry = this.entries.get(id);
    if (!entry) throw new SupervisorError("PROCESS_NOT_FOUND", `No process '${id}'.`);
    return entry;
  }

  /** Signals the process's whole group. */
  signal(id: string, signal: AllowedSignal): Process {
    const entry = this.get(id);
    if (entry.process.status !== "running" || !entry.run?.signal(signal)) {
      throw new SupervisorError("PROCESS_NOT_RUNNING", `Process '${id}' is not running.`);
    }
    return { ...entry.process };
  }

  /** Writes `data` to the process's stdin, then closes it when `eof`; resolves with the bytes written. */
  async input(id: string, data: Buffer, eof: boolean, signal: AbortSignal): Promise<{ written: number }> {
    const entry = this.get(id);
    if (entry.process.status !== "running") throw new SupervisorError("PROCESS_NOT_RUNNING", `Process '${id}' is not running.`);
    if (!entry.stdin?.isOpen) {
      const why = entry.process.stdin === undefined ? 'it was not started with stdin "pipe"' : "its input has ended";
      throw new SupervisorError("STDIN_CLOSED", `Process '${id}' takes no more input: ${why}.`);
    }
    return { written: await entry.stdin.write(data, eof, signal) };
  }

  private markStdinClosed(entry: ProcessEntry, persist = true): void {
    entry.stdin = undefined;
    if (entry.process.stdin !== "pipe") return;
    entry.process.stdin = "closed";
    if (persist) this.writeMeta(entry);
  }

  private writeMeta(entry: ProcessEntry): void {
    try {
      entry.journal.writeMeta(entry.process);
    } catch (error) {
      this.options.log(`could not write meta of ${entry.process.id}: ${(error as Error).message}`);
    }
  }

  private markExited(entry: ProcessEntry, exit: { exitCode: number | null; signal: string | null }): void {
    if (entry.process.status === "exited") return;
    Object.assign(entry.process, { status: "exited", exitCode: exit.exitCode, signal: exit.signal, endedAt: new Date().toISOString() });
    this.markStdinClosed(entry, false);
    entry.run = undefined;
    this.writeMeta(entry);
    entry.journal.close();
  }

  private adopt(entry: ProcessEntry): StoppableRun {
    const pid = entry.process.pid;
    const pollMs = this.options.adoptPollMs ?? 1000;
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (alive(pid)) {
          // Not unref'd: shutdown awaits `done`, and only this timer may keep the loop alive then.
          setTimeout(check, pollMs);
          return;
        }
        this.markExited(entry, { exitCode: null, signal: "SIGKILL" });
        resolve();
      };
      check();
    });
    const run: StoppableRun = {
      done,
      signal: (signal) => {
        try {
          process.kill(-pid, signal);
          return true;
        } catch {
          return false;
        }
      },
    };
    this.options.runs.add(run);
    return run;
  }
}
