// One run of one container: a bwrap process tree started in its own process group, its
// output appended to the container's log file (bounded, so a chatty container cannot fill
// the disk), and the ways a runtime stops it: SIGTERM to the container's command, SIGKILL to
// everything. Killing bwrap's init in the new pid namespace ends all of it: the kernel kills
// the rest of the namespace and bwrap's monitor exits; --die-with-parent covers the test
// process itself dying.
import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { firstChild, processTree } from "./proc-tree.ts";

export interface ContainerExit {
  exitCode: number;
  signal: NodeJS.Signals | null;
}

class BoundedLogFile {
  readonly #fd: number;
  #written: number;
  #full = false;
  #closed = false;

  constructor(
    path: string,
    private readonly limit: number,
  ) {
    this.#fd = openSync(path, "a");
    this.#written = fstatSync(this.#fd).size;
  }

  write(chunk: Buffer | string): void {
    if (this.#full || this.#closed) return;
    const data = Buffer.from(chunk);
    const room = this.limit - this.#written;
    writeSync(this.#fd, data.subarray(0, Math.max(0, room)));
    this.#written += Math.min(room, data.length);
    if (data.length > room) {
      this.#full = true;
      writeSync(this.#fd, "\n[log limit reached: later output dropped]\n");
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}

export class ContainerProcess {
  readonly exited: Promise<ContainerExit>;
  #running = true;

  private constructor(
    readonly pid: number,
    exited: Promise<ContainerExit>,
  ) {
    this.exited = exited.finally(() => {
      this.#running = false;
    });
  }

  static start(options: { args: string[]; env: Record<string, string>; logPath: string; logLimitBytes?: number }): ContainerProcess {
    const log = new BoundedLogFile(options.logPath, options.logLimitBytes ?? 4 * 1024 * 1024);
    const child = spawn("bwrap", options.args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: options.env });
    child.stdout.on("data", (chunk) => log.write(chunk));
    child.stderr.on("data", (chunk) => log.write(chunk));
    // "close", not "exit": it comes once every process that holds the output pipes has ended,
    // i.e. the whole tree (bwrap's init can outlive its monitor by a moment).
    const exited = new Promise<ContainerExit>((resolve) => {
      child.once("error", (error) => {
        log.write(`could not start bwrap: ${error.message}\n`);
        // A runtime that cannot start the container reports exit code 128 (StartError).
        resolve({ exitCode: 128, signal: null });
      });
      child.once("close", (code, signal) => resolve({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0), signal }));
    }).finally(() => log.close());
    return new ContainerProcess(child.pid ?? -1, exited);
  }

  get running(): boolean {
    return this.#running;
  }

  /** SIGTERM to the container's command, as a runtime's graceful stop does (the command is
   *  not pid 1 of its namespace here, bwrap's init is, so it gets the signal's default action
   *  unless it handles it). The monitor and init follow the command when it exits. */
  terminate(): void {
    const init = firstChild(this.pid);
    const command = init === undefined ? undefined : firstChild(init);
    // Not started yet (bwrap still mounting): nothing to stop gracefully, and a SIGTERM to
    // bwrap itself would end the monitor but not its init in the new pid namespace.
    if (command === undefined) this.kill();
    else this.#signal(command, "SIGTERM");
  }

  /** SIGKILL to bwrap's init: the kernel then kills everything in its pid namespace and the
   *  monitor exits with 137 after reaping it (killing the monitor first would leave the init
   *  an orphan zombie of the host's pid 1). The whole process group when there is no init yet. */
  kill(): void {
    const init = firstChild(this.pid);
    this.#signal(init ?? -this.pid, "SIGKILL");
  }

  /** Live host pids of this run: bwrap's monitor, its init, the command and its children. */
  pids(): number[] {
    return this.#running ? processTree(this.pid) : [];
  }

  #signal(target: number, signal: NodeJS.Signals): void {
    if (!this.#running || this.pid <= 0) return;
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}
