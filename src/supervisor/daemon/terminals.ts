// The supervisor's terminal sessions: at most MAX_TERMINALS login shells, each in a PTY with
// its screen kept by a headless emulator (terminal-session.ts). They live in this process:
// a client that goes away (a closed tab, a control plane restarting) leaves them running; a
// supervisor that stops ends them (its shutdown hangs them up like its other commands).
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { randomLowerAlnum } from "../../random.ts";
import type { CreateTerminalRequest, Terminal } from "../protocol.ts";
import { MAX_TERMINALS } from "../protocol-schemas.ts";
import { TERMINAL_ID_PATTERN } from "../protocol-values.ts";
import { resolveCwd } from "./child.ts";
import { SupervisorError } from "./errors.ts";
import { preferForOomKill } from "./oom.ts";
import { openPty, type PtyProcess } from "./pty.ts";
import type { RunRegistry } from "./run-registry.ts";
import { TerminalSession } from "./terminal-session.ts";

export interface TerminalManagerOptions {
  workspace: string;
  runs: RunRegistry;
}

export class TerminalManager {
  readonly #sessions = new Map<string, TerminalSession>();

  constructor(private readonly options: TerminalManagerOptions) {}

  async create(request: CreateTerminalRequest): Promise<Terminal> {
    this.options.runs.assertAccepting();
    if (this.#sessions.size >= MAX_TERMINALS) {
      throw new SupervisorError("TERMINAL_LIMIT_REACHED", `A sandbox keeps at most ${MAX_TERMINALS} terminals; close one first.`);
    }
    const cwd = await resolveCwd(this.options.workspace, request.cwd);
    // Loaded at the first terminal: the emulator is most of the bundle, and most sandboxes
    // start without anyone opening a terminal.
    const { createScreen } = await import("./terminal-screen.ts");
    const env = shellEnv({ ...process.env, ...request.env } as Record<string, string>);
    const command = loginShell(env.PATH ?? "");
    const id = `trm_${randomLowerAlnum(12)}`;
    env.OUTPOST_TERMINAL = id;
    // The sandbox has no /etc/bash.bashrc: without this bash's prompt is "bash-5.2$ ".
    if (command[0]?.endsWith("/bash") && env.PS1 === undefined) env.PS1 = "\\u@\\h:\\w\\$ ";
    let pty: PtyProcess;
    try {
      pty = openPty({ command, cwd, env, cols: request.cols, rows: request.rows, user: request.user });
    } catch (error) {
      if (error instanceof SupervisorError) throw error;
      throw new SupervisorError("PTY_UNAVAILABLE", (error as Error).message);
    }
    preferForOomKill(pty.pid);
    const session = new TerminalSession({ id, command, cwd, cols: request.cols, rows: request.rows }, pty, createScreen(request.cols, request.rows));
    this.#sessions.set(id, session);
    // An interactive shell ignores SIGTERM: a stopping supervisor hangs it up instead.
    this.options.runs.add({ signal: (signal) => session.signal(signal === "SIGTERM" ? "SIGHUP" : signal), done: session.done });
    void session.done.then(() => this.#sessions.delete(id));
    return session.info;
  }

  list(): Terminal[] {
    return [...this.#sessions.values()].filter((session) => !session.exited).map((session) => session.info);
  }

  /** A live session; an id that is not well formed is "not found" as well. */
  get(id: string): TerminalSession {
    const session = TERMINAL_ID_PATTERN.test(id) ? this.#sessions.get(id) : undefined;
    if (!session || session.exited) throw new SupervisorError("TERMINAL_NOT_FOUND", `No terminal '${id.slice(0, 40)}' (its shell may have exited).`);
    return session;
  }
}

/** The shell's environment: an xterm (what the screen emulates) with a UTF-8 locale. */
function shellEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...env, TERM: "xterm-256color", COLORTERM: "truecolor" };
  if (!out.LC_ALL && !out.LC_CTYPE && !/utf-?8/i.test(out.LANG ?? "")) out.LANG = "C.UTF-8";
  return out;
}

/** bash as a login shell when the sandbox has it, else sh. */
function loginShell(path: string): string[] {
  for (const dir of [...path.split(":").filter((entry) => entry.startsWith("/")), "/bin", "/usr/bin"]) {
    const candidate = join(dir, "bash");
    try {
      accessSync(candidate, constants.X_OK);
      return [candidate, "-l"];
    } catch {
      // not here
    }
  }
  return ["/bin/sh", "-l"];
}
