// The ssh-agent a sandbox's ssh talks to (SSH_AUTH_SOCK=/run/outpost/ssh-agent.sock): one
// socket per sandbox in its link folder, served here on the host, so the deploy key's
// private half never enters the sandbox. Who is asking is the socket a connection came in
// on; its project is looked up per connection (a rotated key or a sandbox moved to nothing
// applies to the next connection). The agent offers that project's key alone and signs
// only with it, only SSH login requests (domain/git/ssh-agent-protocol.ts); since an agent
// cannot see where a login goes, the egress proxy lets SSH out only to the project's
// repository. Everything a connection sends is bounded: messages of 256 KiB at most, each
// complete within messageMs of its first byte, answers in order with at most a few queued,
// and a connection idle for idleMs is closed.
import type { Socket } from "node:net";
import {
  AGENT_MESSAGE,
  type AgentIdentity,
  AgentMessageReader,
  AgentProtocolError,
  answerAgentRequest,
  parseAgentRequest,
} from "../domain/git/ssh-agent-protocol.ts";
import type { SandboxEgress } from "../services/egress.ts";

export interface SshAgentDeps {
  context(sandboxId: string): Promise<SandboxEgress | null>;
  /** The project's deploy key, opened on the host (null: the project has none). */
  identity(projectId: string): Promise<AgentIdentity | null>;
  log(message: string): void;
  timeouts?: {
    /** A message begun must be complete by then. Default 10 s. */
    messageMs?: number;
    /** A connection with no bytes either way this long is closed. Default 5 min. */
    idleMs?: number;
  };
}

const MESSAGE_MS = 10_000;
const IDLE_MS = 5 * 60_000;
/** Requests read but not yet answered, per connection; reading pauses past this. */
const MAX_QUEUED = 8;

export class SshAgentServer {
  readonly #sockets = new Set<Socket>();

  constructor(private readonly deps: SshAgentDeps) {}

  /** Serves one connection that `sandboxId` opened to its agent socket. */
  accept(sandboxId: string, socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(this.deps.timeouts?.idleMs ?? IDLE_MS, () => socket.destroy());

    const reader = new AgentMessageReader();
    let identity: Promise<AgentIdentity | null> | undefined;
    const lookup = () => {
      identity ??= this.deps.context(sandboxId).then((ctx) => (ctx ? this.deps.identity(ctx.projectId) : null));
      return identity;
    };
    let queued = 0;
    let answering: Promise<void> = Promise.resolve();
    let deadline: NodeJS.Timeout | undefined;
    const fail = (why: string) => {
      this.deps.log(`ssh-agent of ${sandboxId}: ${why}; connection closed`);
      socket.destroy();
    };

    socket.on("data", (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        return fail((error as Error).message);
      }
      if (reader.pending > 0) {
        deadline ??= setTimeout(() => fail("a message did not arrive whole in time"), this.deps.timeouts?.messageMs ?? MESSAGE_MS);
      } else {
        clearTimeout(deadline);
        deadline = undefined;
      }
      for (const body of messages) {
        queued += 1;
        if (queued >= MAX_QUEUED) socket.pause();
        answering = answering.then(async () => {
          try {
            const request = parseAgentRequest(body);
            const answer = answerAgentRequest(request, await lookup());
            if (request.kind === "sign" && answer[4] === AGENT_MESSAGE.FAILURE)
              this.deps.log(`ssh-agent of ${sandboxId}: refused to sign (not the project's key, or not an SSH login)`);
            if (!socket.destroyed) socket.write(answer);
          } catch (error) {
            fail(error instanceof AgentProtocolError ? error.message : `cannot answer: ${(error as Error).message}`);
          } finally {
            queued -= 1;
            if (queued < MAX_QUEUED && !socket.destroyed) socket.resume();
          }
        });
      }
    });
    // The client is done asking: answer what it asked, then close our side too.
    socket.on("end", () => void answering.then(() => socket.end()));
    socket.once("close", () => clearTimeout(deadline));
    // A connection bridged through the Kubernetes link endpoint arrives paused (the endpoint
    // read its preface first), and a 'data' listener does not resume a paused socket.
    socket.resume();
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}
