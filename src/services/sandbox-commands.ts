// Commands in a sandbox, as use cases: exec and background processes. Each finds the
// sandbox (one the caller may do this to, running: woken first when it was stopped for
// idleness, see sandbox-wake.ts; an exec holds it busy while it runs), asks the driver for
// its link, hands commands the project's environment (read per command, so a change reaches
// the next one without a restart), and turns the supervisor's errors into Outpost's
// registered codes.
// Routes never touch the supervisor client or the driver themselves.
import type { Principal, ProjectAction } from "../domain/authorization.ts";
import { type DescribedError, describeError, type ErrorCode } from "../domain/error-registry.ts";
import { OutpostError } from "../domain/errors.ts";
import type { Driver } from "../drivers/driver.ts";
import type { ClientErrorCode, ExecChunk, SupervisorClient } from "../supervisor/client.ts";
import type {
  AllowedSignal,
  ExecEvent,
  ExecRequest,
  LogExitLine,
  LogRecord,
  Process,
  ProcessList,
  StartProcessRequest,
  SupervisorErrorCode,
} from "../supervisor/protocol.ts";
import { redactExecChunks, redactExecEvents, redactLogRecords, redactorFor } from "./redact-output.ts";
import type { Release } from "./sandbox-activity.ts";
import type { SandboxGate } from "./sandbox-wake.ts";
import { assertRunning, type SandboxRow, type SandboxService } from "./sandboxes.ts";
import type { CommandVariables } from "./variables.ts";

/**
 * The registered code a user sees for each code a supervisor (or its client) raises.
 * Most keep their name; the ones that mean the control plane and the supervisor disagree
 * (a route or method it does not know, JSON it cannot read) or that it broke become the
 * control plane's view of that. Complete on purpose: a new supervisor code does not compile
 * until it is given a registered code here.
 */
const FROM_SUPERVISOR = {
  INVALID_REQUEST: "VALIDATION_FAILED",
  INVALID_JSON: "INTERNAL",
  ROUTE_NOT_FOUND: "SUPERVISOR_PROTOCOL_MISMATCH",
  METHOD_NOT_ALLOWED: "SUPERVISOR_PROTOCOL_MISMATCH",
  PROCESS_NOT_FOUND: "PROCESS_NOT_FOUND",
  PROCESS_NOT_RUNNING: "PROCESS_NOT_RUNNING",
  STDIN_CLOSED: "STDIN_CLOSED",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  COMMAND_NOT_FOUND: "COMMAND_NOT_FOUND",
  COMMAND_NOT_EXECUTABLE: "COMMAND_NOT_EXECUTABLE",
  ROOT_UNAVAILABLE: "ROOT_UNAVAILABLE",
  CWD_NOT_FOUND: "CWD_NOT_FOUND",
  PORT_NOT_LISTENING: "PORT_NOT_LISTENING",
  PTY_UNAVAILABLE: "PTY_UNAVAILABLE",
  TERMINAL_NOT_FOUND: "TERMINAL_NOT_FOUND",
  TERMINAL_LIMIT_REACHED: "TERMINAL_LIMIT_REACHED",
  PATH_OUTSIDE_SANDBOX: "PATH_OUTSIDE_SANDBOX",
  FILE_PERMISSION_DENIED: "FILE_PERMISSION_DENIED",
  PATH_NOT_FOUND: "PATH_NOT_FOUND",
  NOT_A_DIRECTORY: "NOT_A_DIRECTORY",
  NOT_A_FILE: "NOT_A_FILE",
  PATH_EXISTS: "PATH_EXISTS",
  DIRECTORY_NOT_EMPTY: "DIRECTORY_NOT_EMPTY",
  FILE_TOO_LARGE: "FILE_TOO_LARGE",
  RANGE_NOT_SATISFIABLE: "RANGE_NOT_SATISFIABLE",
  MOVE_ACROSS_FILESYSTEMS: "MOVE_ACROSS_FILESYSTEMS",
  INVALID_ARCHIVE: "INVALID_ARCHIVE",
  RATE_LIMITED: "RATE_LIMITED",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  INTERNAL: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_UNAVAILABLE: "SUPERVISOR_UNAVAILABLE",
  SUPERVISOR_PROTOCOL_MISMATCH: "SUPERVISOR_PROTOCOL_MISMATCH",
  SUPERVISOR_STREAM_BROKEN: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_BAD_RESPONSE: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_TIMEOUT: "SUPERVISOR_TIMEOUT",
} as const satisfies Record<SupervisorErrorCode | ClientErrorCode, ErrorCode>;

/** The actions that go through a sandbox's supervisor. */
export type SupervisorAction = Extract<
  ProjectAction,
  "sandbox.exec" | "sandbox.process.read" | "sandbox.process.manage" | "sandbox.terminal" | "sandbox.preview" | "sandbox.files.read" | "sandbox.files.write"
>;

/** Where a streamed call stops: the caller's signal (a client that went away). */
export interface StreamOptions {
  signal?: AbortSignal;
}

/** Without idle stop: nothing is held, and only a running sandbox is usable. */
const NO_IDLE_STOP: SandboxGate = {
  hold: async () => () => {},
  awake: async (sandbox) => sandbox.phase === "running",
};

export class SandboxCommands {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly driver: Pick<Driver, "connect">,
    private readonly projectVariables: (projectId: string) => Promise<CommandVariables>,
    /** Idle stop and wake (sandbox-wake.ts): what a request holds busy, and waking a sandbox stopped for idleness. */
    private readonly gate: SandboxGate = NO_IDLE_STOP,
  ) {}

  /** Runs a command; resolves once the supervisor accepted it, with its events to iterate. */
  async exec(principal: Principal, ref: string, request: ExecRequest, { signal }: StreamOptions = {}): Promise<AsyncIterable<ExecEvent>> {
    const { client, env, redactor, release } = await this.#open(principal, ref, "sandbox.exec", request.env, { signal, hold: true });
    try {
      const events = await this.call(() => client.exec({ ...request, env }, { signal }));
      // Busy until its output ends: a command running is a sandbox in use.
      return heldWhile(redactor ? redactExecEvents(events, redactor) : events, release, signal);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Like exec, with the output as raw bytes (binary frames end to end). */
  async execFrames(principal: Principal, ref: string, request: ExecRequest, { signal }: StreamOptions = {}): Promise<AsyncIterable<ExecChunk>> {
    const { client, env, redactor, release } = await this.#open(principal, ref, "sandbox.exec", request.env, { signal, hold: true });
    try {
      const events = await this.call(() => client.execFrames({ ...request, env }, { signal }));
      return heldWhile(redactor ? redactExecChunks(events, redactor) : events, release, signal);
    } catch (error) {
      release();
      throw error;
    }
  }

  async startProcess(principal: Principal, ref: string, request: StartProcessRequest): Promise<Process> {
    const { client, env } = await this.#open(principal, ref, "sandbox.process.manage", request.env);
    return this.call(() => client.startProcess({ ...request, env }));
  }

  async listProcesses(principal: Principal, ref: string): Promise<ProcessList> {
    const { client } = await this.#open(principal, ref, "sandbox.process.read");
    return this.call(() => client.listProcesses());
  }

  async getProcess(principal: Principal, ref: string, processId: string): Promise<Process> {
    const { client } = await this.#open(principal, ref, "sandbox.process.read");
    return this.call(() => client.getProcess(processId));
  }

  async signalProcess(principal: Principal, ref: string, processId: string, signal: AllowedSignal): Promise<Process> {
    const { client } = await this.#open(principal, ref, "sandbox.process.manage");
    return this.call(() => client.signalProcess(processId, signal));
  }

  async processLogs(
    principal: Principal,
    ref: string,
    processId: string,
    options: { after: number; follow: boolean; signal?: AbortSignal },
  ): Promise<AsyncIterable<LogRecord | LogExitLine>> {
    const { client, redactor } = await this.#open(principal, ref, "sandbox.process.read", undefined, { signal: options.signal });
    const records = await this.call(() => client.processLogs(processId, options));
    return redactor ? redactLogRecords(records, redactor) : records;
  }

  /**
   * The sandbox's supervisor, the environment for a command (the project's variables, the
   * request's on top) and the redactor for its output (null: the project has no secrets).
   * A value the request passes is redacted as well when it is one of the project's secrets.
   */
  async #open(
    principal: Principal,
    ref: string,
    action: SupervisorAction,
    requested?: Record<string, string>,
    options: { signal?: AbortSignal; hold?: boolean } = {},
  ): Promise<{ client: SupervisorClient; env: Record<string, string>; redactor: ReturnType<typeof redactorFor>; release: Release }> {
    const { sandbox: row, release } = await this.#usable(principal, ref, action, options);
    try {
      const link = await this.call(() => this.driver.connect(row.id));
      const variables = await this.projectVariables(row.projectId);
      const env = action === "sandbox.exec" || action === "sandbox.process.manage" ? { ...variables.env, ...requested } : {};
      return { client: link.client, env, redactor: redactorFor(variables.secrets), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * The sandbox, if the caller may do `action` to it, running: woken first when it was stopped
   * for idleness (waiting as long as `signal` allows), refused as not running otherwise. With
   * `hold` it counts as busy until `release`; without, this use only counts as activity now.
   */
  async #usable(
    principal: Principal,
    ref: string,
    action: SupervisorAction,
    options: { signal?: AbortSignal; hold?: boolean },
  ): Promise<{ sandbox: SandboxRow; release: Release }> {
    let sandbox = await this.sandboxes.row(principal, ref, action);
    const release = await this.gate.hold(sandbox.id);
    try {
      if (!(await this.gate.awake(sandbox, options.signal))) assertRunning(sandbox);
      // Woken: the row read before says stopped.
      if (sandbox.phase !== "running") sandbox = await this.sandboxes.row(principal, ref, action);
    } catch (error) {
      release();
      throw error;
    }
    if (options.hold) return { sandbox, release };
    release();
    return { sandbox, release: () => {} };
  }

  /** Counts a sandbox busy until `release` (a terminal's attachment holds it while attached). */
  hold(sandboxId: string): Promise<Release> {
    return this.gate.hold(sandboxId);
  }

  /**
   * The supervisor of a running sandbox the caller may do `action` to (for services that
   * build on the link: files, terminals, previews), woken first if it was stopped for
   * idleness (as long as `signal` allows). Its failures are already translated.
   */
  async connect(principal: Principal, ref: string, action: SupervisorAction, signal?: AbortSignal): Promise<{ client: SupervisorClient; sandbox: SandboxRow }> {
    const { sandbox } = await this.#usable(principal, ref, action, { signal });
    const link = await this.call(() => this.driver.connect(sandbox.id));
    return { client: link.client, sandbox };
  }

  /** Runs a supervisor call, translating its failures. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.translate(error);
    }
  }

  translate(error: unknown): OutpostError {
    if (error instanceof OutpostError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    const message = (error as Error | null)?.message ?? String(error);
    const mapped = typeof code === "string" && Object.hasOwn(FROM_SUPERVISOR, code) ? FROM_SUPERVISOR[code as keyof typeof FROM_SUPERVISOR] : undefined;
    if (mapped) return new OutpostError(mapped, message, { cause: error });
    return new OutpostError("SUPERVISOR_UNAVAILABLE", `The sandbox's supervisor did not answer: ${message}`, { cause: error });
  }

  /** The `{ code, message, hint, retryable }` of an error event on a stream that has already started. */
  describe(error: unknown): DescribedError {
    return describeError(this.translate(error));
  }
}

/** The stream as it is, holding its sandbox busy until it ends, fails, is left, or `signal` aborts. */
async function* heldWhile<T>(stream: AsyncIterable<T>, release: Release, signal?: AbortSignal): AsyncGenerator<T> {
  signal?.addEventListener("abort", release, { once: true });
  try {
    yield* stream;
  } finally {
    signal?.removeEventListener("abort", release);
    release();
  }
}
