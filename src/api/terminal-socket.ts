// One WebSocket attached to a terminal session (docs/api.md, "Terminals"):
//   server → client: a text message {"type":"terminal", …Terminal, "created"} first; then
//     binary messages with the terminal's output, each redraw of the whole screen announced
//     by a text message {"type":"screen","cols","rows"} (its bytes start with a reset); and
//     {"type":"exit","exitCode","signal"} when the shell ends (then close 1000), or
//     {"type":"error",code,message,hint,retryable} when the link to the sandbox breaks
//     (then close 1011).
//   client → server: binary messages are input as typed; text messages are JSON controls:
//     {"type":"resize","cols","rows"}. Anything else is answered with an error message
//     (VALIDATION_FAILED) and changes nothing.
// Closing the socket detaches; the shell keeps running.
//
// Backpressure, so a client that does not read costs a bounded amount of memory here: once
// the socket's bufferedAmount passes HIGH_WATER_BYTES this stops reading the terminal's
// stream until the client has taken enough of it; the supervisor's stream then fills up
// (HTTP/2 flow control) and the supervisor skips that client to a fresh screen. Input the
// same way round: while the stream to the supervisor is full, the socket is not read.
import type { WebSocket } from "ws";
import type { DescribedError } from "../domain/error-registry.ts";
import type { OpenTerminal } from "../services/terminals.ts";

/** Output waiting in a WebSocket's buffers before the terminal's stream is no longer read. */
export const HIGH_WATER_BYTES = 256 * 1024;
/** Reading resumes once the client has taken the buffer down to this. */
const LOW_WATER_BYTES = 64 * 1024;

/** What the sockets of this process have buffered at most, and how often they were paused (for tests and diagnosis). */
export const terminalSocketStats = { highestBufferedBytes: 0, pauses: 0 };

const OPEN = 1;

export async function pipeTerminal(socket: WebSocket, open: OpenTerminal, describe: (error: unknown) => DescribedError): Promise<void> {
  const { attachment, terminal, created } = open;
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const waiting = wake;
    wake = null;
    waiting?.();
  };
  socket.on("close", () => {
    attachment.close();
    wakeUp();
  });
  socket.on("message", (data, isBinary) => {
    if (isBinary) {
      if (!attachment.write(toBuffer(data))) {
        socket.pause();
        void attachment.drained().then(() => socket.resume());
      }
      return;
    }
    const control = parseControl(toBuffer(data).toString("utf8"));
    if (control) attachment.resize(control.cols, control.rows);
    else
      send(socket, {
        type: "error",
        code: "VALIDATION_FAILED",
        message: 'A text message must be {"type":"resize","cols":1–1000,"rows":1–1000}; input goes in binary messages.',
        hint: "Send keystrokes as binary messages and resizes as JSON text messages.",
        retryable: false,
      });
  });

  send(socket, { type: "terminal", ...terminal, created });
  try {
    for await (const event of attachment.events) {
      if (socket.readyState !== OPEN) return;
      if (event.type === "output") {
        socket.send(event.data, { binary: true }, () => {
          if (socket.bufferedAmount <= LOW_WATER_BYTES) wakeUp();
        });
        const buffered = socket.bufferedAmount;
        terminalSocketStats.highestBufferedBytes = Math.max(terminalSocketStats.highestBufferedBytes, buffered);
        if (buffered > HIGH_WATER_BYTES) {
          terminalSocketStats.pauses += 1;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      } else if (event.type === "screen") {
        send(socket, { type: "screen", cols: event.cols, rows: event.rows });
      } else {
        send(socket, { type: "exit", exitCode: event.exitCode, signal: event.signal });
        socket.close(1000, "the shell exited");
        return;
      }
    }
  } catch (error) {
    if (socket.readyState !== OPEN) return;
    send(socket, { type: "error", ...describe(error) });
    socket.close(1011, "the terminal's stream broke");
  } finally {
    attachment.close();
  }
}

function send(socket: WebSocket, message: Record<string, unknown>): void {
  if (socket.readyState === OPEN) socket.send(JSON.stringify(message));
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

const isSize = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 1000;

function parseControl(text: string): { cols: number; rows: number } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { type, cols, rows, ...rest } = value as Record<string, unknown>;
  if (type !== "resize" || !isSize(cols) || !isSize(rows) || Object.keys(rest).length > 0) return null;
  return { cols, rows };
}
