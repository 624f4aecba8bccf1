// One bridged connection through the Kubernetes link endpoint (see egress-bridge.ts): a new
// TLS connection, the bridge line with the sandbox's token and the service it wants, and
// the endpoint's answer. Only after OK does the caller pipe its client's bytes, so nothing
// of the client's reaches a connection the control plane has not accepted. The answer is
// bounded (PrefaceReader) and awaited for at most ANSWER_TIMEOUT_MS; refusals are logged at
// most once a minute per message, since every connection of a tool would repeat them.
import type { Socket } from "node:net";
import { type BridgeHello, formatBridgeHello, PrefaceError, PrefaceReader, parseBridgeAnswer } from "../link/preface.ts";
import { type Connect, isNetworkError } from "./link-connect.ts";

const ANSWER_TIMEOUT_MS = 10_000;
const LOG_INTERVAL_MS = 60_000;
const lastLogged = new Map<string, number>();

export interface LinkBridgeOptions {
  connect: Connect;
  hello: BridgeHello;
  log: (message: string) => void;
}

/** Resolves with the connection, paused and past the answer, once the endpoint said OK. */
export function openLinkBridge({ connect, hello, log }: LinkBridgeOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const reader = new PrefaceReader();
    const fail = (message: string) => {
      clearTimeout(timer);
      socket.destroy();
      logBounded(log, `${hello.kind} bridge: ${message}`);
      reject(new Error(message));
    };
    const timer = setTimeout(() => fail(`no answer from the link endpoint within ${ANSWER_TIMEOUT_MS} ms`), ANSWER_TIMEOUT_MS);
    const socket = connect(() => socket.write(formatBridgeHello(hello)));
    const onData = (chunk: Buffer) => {
      try {
        const got = reader.push(chunk);
        if (!got) return;
        const answer = parseBridgeAnswer(got.line);
        if (!answer.ok) return fail(`the control plane refused it: ${answer.code}: ${answer.message}`);
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("close", onClose);
        socket.pause();
        if (got.rest.length) socket.unshift(got.rest);
        resolve(socket);
      } catch (error) {
        fail(`bad answer from the control plane: ${error instanceof PrefaceError ? error.message : String(error)}`);
      }
    };
    const onClose = () => {
      clearTimeout(timer);
      reject(new Error("the link endpoint closed the connection before answering"));
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.on("error", (error) => {
      if (!isNetworkError(error)) logBounded(log, `${hello.kind} bridge: cannot reach the control plane: ${error.message}`);
    });
  });
}

function logBounded(log: (message: string) => void, message: string): void {
  const now = Date.now();
  const last = lastLogged.get(message);
  if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
  if (lastLogged.size >= 100) lastLogged.clear();
  lastLogged.set(message, now);
  log(message);
}
