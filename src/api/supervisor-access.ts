// How API routes reach a sandbox's supervisor: find the sandbox (one the caller may do this
// to, running), ask the driver for its link, hand commands the project's environment, and turn the supervisor's
// errors into Outpost's error hierarchy.
import type { Principal, ProjectAction } from "../domain/authorization.ts";
import { type DescribedError, describeError, type ErrorCode } from "../domain/error-registry.ts";
import { OutpostError } from "../domain/errors.ts";
import type { Driver } from "../drivers/driver.ts";
import { assertRunning, type SandboxService } from "../services/sandboxes.ts";
import type { ClientErrorCode, SupervisorClient } from "../supervisor/client.ts";
import type { SupervisorErrorCode } from "../supervisor/protocol.ts";

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
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  COMMAND_NOT_FOUND: "COMMAND_NOT_FOUND",
  COMMAND_NOT_EXECUTABLE: "COMMAND_NOT_EXECUTABLE",
  CWD_NOT_FOUND: "CWD_NOT_FOUND",
  PORT_NOT_LISTENING: "PORT_NOT_LISTENING",
  PTY_UNAVAILABLE: "PTY_UNAVAILABLE",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  INTERNAL: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_UNAVAILABLE: "SUPERVISOR_UNAVAILABLE",
  SUPERVISOR_PROTOCOL_MISMATCH: "SUPERVISOR_PROTOCOL_MISMATCH",
  SUPERVISOR_STREAM_BROKEN: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_BAD_RESPONSE: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_TIMEOUT: "SUPERVISOR_TIMEOUT",
} as const satisfies Record<SupervisorErrorCode | ClientErrorCode, ErrorCode>;

/** A running sandbox's supervisor, and the environment its commands start with. */
export interface SandboxConnection {
  client: SupervisorClient;
  /**
   * The project's environment (decrypted) with the request's own variables on top. Read
   * per command, not at sandbox start, so a change to the project reaches the next command
   * without a restart.
   */
  environment(requested?: Record<string, string>): Promise<Record<string, string>>;
}

/** The actions that go through a sandbox's supervisor. */
export type SupervisorAction = Extract<
  ProjectAction,
  "sandbox.exec" | "sandbox.process.read" | "sandbox.process.manage" | "sandbox.terminal" | "sandbox.preview" | "sandbox.files.read" | "sandbox.files.write"
>;

export class SupervisorProvider {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly driver: Pick<Driver, "connect">,
    private readonly projectEnvironment: (projectId: string) => Promise<Record<string, string>>,
  ) {}

  /** What a route does through the link decides the role it needs (authorize() reads the table). */
  async forSandbox(principal: Principal, ref: string, action: SupervisorAction): Promise<SandboxConnection> {
    const row = await this.sandboxes.row(principal, ref, action);
    assertRunning(row);
    const link = await this.call(() => this.driver.connect(row.id));
    return {
      client: link.client,
      environment: async (requested) => ({ ...(await this.projectEnvironment(row.projectId)), ...requested }),
    };
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
