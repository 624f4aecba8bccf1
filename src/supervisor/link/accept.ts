// Accepting one dialled connection as a supervisor link: read the hello (bounded in size
// and time), let the driver decide whether this connection may speak for that sandbox,
// pick the protocol, answer, and hand the connection to HTTP/2. Any failure drops the
// connection after a NO line; nothing from the peer is echoed back or logged unbounded.
import type { Socket } from "node:net";
import { formatAnswer, HELLO_TIMEOUT_MS, type Hello, PrefaceError, PrefaceReader, parseHello, pickProtocol } from "./preface.ts";
import { LinkSession } from "./session.ts";
import { SUPPORTED_PROTOCOLS } from "./versions.ts";

export interface LinkRefusal {
  code: "LINK_BAD_HELLO" | "LINK_WRONG_SANDBOX" | "LINK_BAD_TOKEN" | "LINK_PROTOCOL_MISMATCH" | "LINK_HELLO_TIMEOUT" | "LINK_TOO_MANY_CONNECTIONS";
  message: string;
  /** The sandbox the peer claimed to be, when it said one. */
  claimed?: string;
}

export class LinkRefusedError extends Error {
  constructor(readonly refusal: LinkRefusal) {
    super(refusal.message);
    this.name = "LinkRefusedError";
  }
}

export interface AcceptOptions {
  /** Throws LinkRefusedError (or returns a refusal) when this hello may not use this connection. */
  verify(hello: Hello): LinkRefusal | null;
  protocols?: readonly number[];
  timeoutMs?: number;
}

export function acceptLink(socket: Socket, options: AcceptOptions): Promise<LinkSession> {
  return new Promise((resolve, reject) => {
    const reader = new PrefaceReader();
    const refuse = (refusal: LinkRefusal) => {
      cleanup();
      socket.end(formatAnswer({ ok: false, code: refusal.code, message: refusal.message }));
      socket.destroySoon();
      reject(new LinkRefusedError(refusal));
    };
    const timer = setTimeout(
      () => refuse({ code: "LINK_HELLO_TIMEOUT", message: `no hello within ${options.timeoutMs ?? HELLO_TIMEOUT_MS} ms` }),
      options.timeoutMs ?? HELLO_TIMEOUT_MS,
    );
    const onClose = () => {
      cleanup();
      reject(new LinkRefusedError({ code: "LINK_BAD_HELLO", message: "the connection closed before a hello" }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      let hello: Hello;
      let rest: Buffer;
      try {
        const got = reader.push(chunk);
        if (!got) return;
        rest = got.rest;
        hello = parseHello(got.line);
      } catch (error) {
        return refuse({ code: "LINK_BAD_HELLO", message: error instanceof PrefaceError ? error.message : "unreadable hello" });
      }
      const ours = options.protocols ?? SUPPORTED_PROTOCOLS;
      const protocol = pickProtocol(ours, hello.protocols);
      const refusal =
        options.verify(hello) ??
        (protocol === null
          ? {
              code: "LINK_PROTOCOL_MISMATCH" as const,
              message: `the supervisor speaks protocol ${hello.protocols.join(", ")}, this control plane speaks ${ours.join(", ")}; restart the sandbox so it gets the matching supervisor`,
              claimed: hello.sandboxId,
            }
          : null);
      if (refusal) return refuse(refusal);
      cleanup();
      socket.pause();
      // Bytes after the hello already belong to HTTP/2 (none are expected: the supervisor
      // waits for our answer), but never drop them.
      if (rest.length) socket.unshift(rest);
      // HTTP/2 takes the connection over only once the answer is written: over TLS, a write
      // still queued when the session starts completes into the session's own bookkeeping
      // and aborts the process (Node's Http2Session::OnStreamAfterWrite assertion).
      socket.write(formatAnswer({ ok: true, protocol: protocol as number }), (error) => {
        if (error) {
          socket.destroy();
          reject(new LinkRefusedError({ code: "LINK_BAD_HELLO", message: "the connection failed while answering the hello", claimed: hello.sandboxId }));
          return;
        }
        resolve(new LinkSession(socket, hello, protocol as number));
      });
    };
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", () => {});
  });
}
