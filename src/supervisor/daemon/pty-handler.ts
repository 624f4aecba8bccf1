// POST /v1/pty: a command in a pseudo-terminal, bytes both ways. Request and response
// bodies are binary frames (frames.ts):
//   request:  open {command, cwd?, env?, cols, rows} first, then stdin / resize / eof
//   response: started {pid}, stdout (the terminal's output, raw), then exit {exitCode,
//             signal, timedOut: false, durationMs}; error {code, message} on a failure
// The terminal's output pauses while the control plane's stream is full, so a slow
// client never makes the supervisor buffer. The control plane cancelling the stream
// (client gone) hangs the terminal up (SIGHUP, then SIGKILL after the grace).
import { encodeFrame, encodeJsonFrame, FRAME, FRAMES_CONTENT_TYPE, type Frame, FrameDecoder, FrameError, frameJson } from "../frames.ts";
import { resolveCwd, signalGroup, toArgv } from "./child.ts";
import { invalid, SupervisorError } from "./errors.ts";
import type { Handler } from "./http-types.ts";
import { preferForOomKill } from "./oom.ts";
import { openPty, type PtyProcess } from "./pty.ts";
import { writeChunk } from "./respond.ts";
import { parseExecRequest } from "./validate.ts";

const HANGUP_GRACE_MS = 2000;

interface PtyOpen {
  command: string | string[];
  cwd?: string;
  env?: Record<string, string>;
  cols: number;
  rows: number;
}

export function ptyHandler(options: { workspace: string }): Handler {
  return async (request, response) => {
    const decoder = new FrameDecoder(256 * 1024);
    const reader = request.body[Symbol.asyncIterator]();
    const { open, rest } = await readOpen(reader, decoder);
    const cwd = await resolveCwd(options.workspace, open.cwd);
    let pty: PtyProcess;
    try {
      pty = openPty({
        command: toArgv(open.command),
        cwd,
        env: { ...process.env, ...open.env, TERM: open.env?.TERM ?? "xterm-256color" } as Record<string, string>,
        cols: open.cols,
        rows: open.rows,
      });
    } catch (error) {
      throw new SupervisorError("PTY_UNAVAILABLE", (error as Error).message);
    }
    preferForOomKill(pty.pid);
    const startedAt = performance.now();
    response.start(200, { "content-type": FRAMES_CONTENT_TYPE, "cache-control": "no-store" });
    await writeChunk(response, encodeJsonFrame(FRAME.started, { pid: pty.pid }));
    const exited = new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => pty.onExit(resolve));
    pty.onData((chunk) => {
      if (response.closed) return;
      if (!response.write(encodeFrame(FRAME.stdout, chunk))) {
        pty.pause();
        void response.drain().then(() => pty.resume());
      }
    });
    // The terminal's command leads its own session and process group: hang up all of it.
    const hangUp = () => {
      signalGroup(pty.pid, "SIGHUP");
      setTimeout(() => signalGroup(pty.pid, "SIGKILL"), HANGUP_GRACE_MS).unref();
    };
    request.signal.addEventListener("abort", hangUp, { once: true });
    const input = (frame: Frame) => {
      if (frame.type === FRAME.stdin) pty.write(frame.payload);
      else if (frame.type === FRAME.resize) {
        const { cols, rows } = frameJson(frame);
        if (isSize(cols) && isSize(rows)) pty.resize(cols, rows);
      } else if (frame.type === FRAME.eof) pty.write(Buffer.from([4])); // ^D, as a terminal would
    };
    // Input: until the stream ends or the terminal exits.
    void (async () => {
      try {
        for (const frame of rest) input(frame);
        for (;;) {
          const next = await reader.next();
          if (next.done) return;
          for (const frame of decoder.push(next.value as Buffer)) input(frame);
        }
      } catch {
        hangUp();
      }
    })();
    const exit = await exited;
    request.signal.removeEventListener("abort", hangUp);
    await writeChunk(response, encodeJsonFrame(FRAME.exit, { ...exit, timedOut: false, durationMs: Math.round(performance.now() - startedAt) }));
    response.end();
  };
}

const isSize = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 1000;

/** The open frame, and any frames the client sent right behind it. */
async function readOpen(reader: AsyncIterator<unknown>, decoder: FrameDecoder): Promise<{ open: PtyOpen; rest: Frame[] }> {
  for (;;) {
    const next = await reader.next();
    if (next.done) throw invalid("The PTY request needs an open frame first.");
    let frames: ReturnType<FrameDecoder["push"]>;
    try {
      frames = decoder.push(next.value as Buffer);
    } catch (error) {
      throw invalid(error instanceof FrameError ? error.message : "unreadable frames");
    }
    const [first, ...rest] = frames;
    if (!first) continue;
    if (first.type !== FRAME.open || rest.some((frame) => frame.type === FRAME.open)) throw invalid("The PTY request must start with exactly one open frame.");
    let value: Record<string, unknown>;
    try {
      value = frameJson(first);
    } catch {
      throw invalid("The open frame must hold a JSON object.");
    }
    const { cols, rows, ...fields } = value;
    if (!isSize(cols) || !isSize(rows)) throw invalid("'cols' and 'rows' must be integers from 1 to 1000.");
    const base = parseExecRequest(fields);
    if (base.stdin !== undefined || base.timeoutMs !== undefined) throw invalid("A PTY takes no 'stdin' or 'timeoutMs' (send stdin frames).");
    return { open: { command: base.command, cwd: base.cwd, env: base.env, cols, rows }, rest };
  }
}
