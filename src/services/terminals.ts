// Terminal sessions in a sandbox, as use cases: open one, list, kill, attach. The sessions
// themselves live in the sandbox's supervisor (docs/supervisor-protocol.md, "Terminal
// sessions"), so they outlive the clients attached to them and this control plane's
// restarts; this service only finds the sandbox (one the caller may open terminals in,
// running; one stopped for idleness is woken), hands a new shell the project's environment,
// and translates the supervisor's errors. A sandbox counts as busy while a client is attached
// to one of its terminals; a terminal nobody is attached to does not keep it from an idle
// stop. Terminal output is not redacted like exec output: redacting a stream holds back any
// bytes that could start a secret, which would hold back typed characters' echo.
import type { Principal } from "../domain/authorization.ts";
import type { DescribedError } from "../domain/error-registry.ts";
import type { SupervisorClient, TerminalAttachment } from "../supervisor/client.ts";
import type { Terminal, TerminalList } from "../supervisor/protocol.ts";
import type { SandboxCommands } from "./sandbox-commands.ts";
import type { CommandVariables } from "./variables.ts";

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** A client attached to a terminal: what it is attached to, and the stream both ways. */
export interface OpenTerminal {
  terminal: Terminal;
  /** True when the attach opened the terminal (`new`). */
  created: boolean;
  attachment: TerminalAttachment;
  /** Detaches, and closes the terminal if this attach opened it (the client never got to it). */
  discard(): void;
}

export const DEFAULT_TERMINAL_SIZE: TerminalSize = { cols: 80, rows: 24 };

export class TerminalService {
  constructor(
    private readonly commands: SandboxCommands,
    private readonly projectVariables: (projectId: string) => Promise<CommandVariables>,
  ) {}

  async create(principal: Principal, ref: string, size: TerminalSize): Promise<Terminal> {
    const client = await this.#client(principal, ref);
    return this.#create(client.client, client.projectId, size);
  }

  async list(principal: Principal, ref: string): Promise<TerminalList> {
    const { client } = await this.#client(principal, ref);
    return this.commands.call(() => client.listTerminals());
  }

  async get(principal: Principal, ref: string, terminalId: string): Promise<Terminal> {
    const { client } = await this.#client(principal, ref);
    return this.commands.call(() => client.getTerminal(terminalId));
  }

  /** Hangs the terminal's shell up; resolves once it has ended. */
  async kill(principal: Principal, ref: string, terminalId: string): Promise<void> {
    const { client } = await this.#client(principal, ref);
    await this.commands.call(() => client.killTerminal(terminalId));
  }

  /**
   * Attaches to a terminal (`new`: opens one first), resized to `size` when given. Resolves
   * once attached; the attachment's events start with the screen as it is.
   */
  async attach(principal: Principal, ref: string, terminalId: string | "new", size?: TerminalSize): Promise<OpenTerminal> {
    const { client, projectId, sandboxId } = await this.#client(principal, ref);
    const created = terminalId === "new";
    const id = created ? (await this.#create(client, projectId, size ?? DEFAULT_TERMINAL_SIZE)).id : terminalId;
    let attachment: TerminalAttachment;
    try {
      attachment = await this.commands.call(() => client.attachTerminal(id, size ?? {}));
    } catch (error) {
      // A terminal opened for this attach and never attached to would run unseen.
      if (created) await client.killTerminal(id).catch(() => {});
      throw error;
    }
    try {
      // Read after attaching, so it shows this client and the size it asked for.
      const terminal = await this.commands.call(() => client.getTerminal(id));
      // Busy while attached: closing the attachment (the client detaching) releases it.
      const release = await this.commands.hold(sandboxId);
      const held: TerminalAttachment = {
        ...attachment,
        close: () => {
          attachment.close();
          release();
        },
      };
      const discard = () => {
        held.close();
        if (created) void client.killTerminal(id).catch(() => {});
      };
      return { terminal, created, attachment: held, discard };
    } catch (error) {
      attachment.close();
      throw error;
    }
  }

  /** `{ code, message, hint, retryable }` for an error on a stream that has started. */
  describe(error: unknown): DescribedError {
    return this.commands.describe(error);
  }

  async #client(principal: Principal, ref: string): Promise<{ client: SupervisorClient; projectId: string; sandboxId: string }> {
    const { client, sandbox } = await this.commands.connect(principal, ref, "sandbox.terminal");
    return { client, projectId: sandbox.projectId, sandboxId: sandbox.id };
  }

  /** A new shell gets the project's environment, like every command (read now: a change reaches the next terminal). */
  async #create(client: SupervisorClient, projectId: string, size: TerminalSize): Promise<Terminal> {
    const { env } = await this.projectVariables(projectId);
    return this.commands.call(() => client.createTerminal({ ...size, env }));
  }
}
