// How API routes reach a sandbox's supervisor: find the sandbox (yours, running), ask the
// driver for its link, hand commands the project's environment, and turn the supervisor's
// errors into Outpost's error hierarchy.
import { OutpostError } from "../domain/errors.ts";
import type { Driver } from "../drivers/driver.ts";
import { assertRunning, type SandboxService } from "../services/sandboxes.ts";
import type { SupervisorClient } from "../supervisor/client.ts";

const PASS_THROUGH: Record<string, ConstructorParameters<typeof OutpostError>[0]> = {
  PROCESS_NOT_FOUND: "PROCESS_NOT_FOUND",
  COMMAND_NOT_FOUND: "COMMAND_NOT_FOUND",
  COMMAND_NOT_EXECUTABLE: "UNPROCESSABLE",
  CWD_NOT_FOUND: "UNPROCESSABLE",
  PROCESS_NOT_RUNNING: "UNPROCESSABLE",
  INVALID_REQUEST: "VALIDATION_FAILED",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  SUPERVISOR_PROTOCOL_MISMATCH: "SUPERVISOR_PROTOCOL_MISMATCH",
  SUPERVISOR_BAD_RESPONSE: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_STREAM_BROKEN: "SUPERVISOR_BAD_RESPONSE",
  SUPERVISOR_TIMEOUT: "SUPERVISOR_TIMEOUT",
  PORT_NOT_LISTENING: "PORT_NOT_LISTENING",
  PTY_UNAVAILABLE: "UNPROCESSABLE",
};

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

export class SupervisorProvider {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly driver: Pick<Driver, "connect">,
    private readonly projectEnvironment: (projectId: string) => Promise<Record<string, string>>,
  ) {}

  async forSandbox(ownerId: string, ref: string): Promise<SandboxConnection> {
    const row = await this.sandboxes.row(ownerId, ref);
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
    const code = (error as { code?: unknown }).code;
    const message = (error as Error).message ?? String(error);
    const mapped = typeof code === "string" ? PASS_THROUGH[code] : undefined;
    if (mapped) return new OutpostError(mapped, message, { cause: error });
    return new OutpostError("SUPERVISOR_UNAVAILABLE", `The sandbox's supervisor did not answer: ${message}`, { cause: error });
  }

  /** The `{ code, message }` of an error event on a stream that has already started. */
  describe(error: unknown): { code: string; message: string } {
    const translated = this.translate(error);
    return { code: translated.code, message: translated.message };
  }
}
