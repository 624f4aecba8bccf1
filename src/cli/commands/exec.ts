// `outpost exec <sandbox> [options] -- command args…`: runs the command in the sandbox with
// its output streamed live, and exits with the command's own exit code. The output comes
// as binary frames (raw bytes, no base64), written with backpressure to stdout/stderr.
import { readFileSync } from "node:fs";
import { FRAME, FRAMES_CONTENT_TYPE, FrameDecoder, frameJson } from "../../supervisor/frames.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, resolveConnection } from "../client.ts";

export const execHelp = `outpost exec <sandbox> [--cwd DIR] [--env KEY=VALUE]... [--timeout MS] [--stdin] [--root] -- command [args…]
  --root: as root inside the sandbox (sandboxes whose environment has an image; never root on the host).
  Exit code: the command's; 124 on timeout; 128+n when killed by signal n.`;

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12 };

export async function exec(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  if (dash === -1 || dash === argv.length - 1) throw new UsageError("put the command after --, e.g. outpost exec my-sandbox -- ls -la");
  const { values, positionals } = parse(argv.slice(0, dash), {
    cwd: { type: "string" },
    env: { type: "string", multiple: true },
    timeout: { type: "string" },
    stdin: { type: "boolean", default: false },
    root: { type: "boolean", default: false },
  });
  const [ref, ...extra] = positionals;
  if (!ref || extra.length) throw new UsageError("outpost exec takes exactly one sandbox before --");
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new UsageError(`--env takes KEY=VALUE, got '${pair}'`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1)) throw new UsageError("--timeout takes milliseconds");
  const body = {
    command: argv.slice(dash + 1),
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values.env ? { env } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(values.stdin ? { stdin: readFileSync(0, "utf8") } : {}),
    ...(values.root ? { user: "root" } : {}),
  };

  const api = new ApiClient(resolveConnection(values));
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  const response = await api.send("POST", `/api/v1/sandboxes/${encodeURIComponent(ref)}/exec`, body, { accept: FRAMES_CONTENT_TYPE }, stop.signal);
  if (!(response.headers["content-type"] ?? "").startsWith(FRAMES_CONTENT_TYPE)) {
    response.destroy();
    throw api.notOutpost(response);
  }
  const decoder = new FrameDecoder();
  try {
    // Iterating the response reads it only as fast as the frames are written out.
    for await (const chunk of response) {
      for (const frame of decoder.push(chunk as Buffer)) {
        if (frame.type === FRAME.stdout) await write(process.stdout, frame.payload);
        else if (frame.type === FRAME.stderr) await write(process.stderr, frame.payload);
        else if (frame.type === FRAME.error) {
          const data = frameJson(frame);
          throw new ApiError(503, String(data.code), String(data.message));
        } else if (frame.type === FRAME.exit) {
          const data = frameJson(frame);
          if (data.timedOut) return 124;
          if (typeof data.exitCode === "number") return data.exitCode;
          return 128 + (SIGNALS[String(data.signal)] ?? 0);
        }
      }
    }
  } catch (error) {
    if (stop.signal.aborted) return 130;
    throw error;
  }
  throw new ApiError(0, "STREAM_BROKEN", "the connection ended before the command finished");
}

/** Writes with backpressure, so a slow terminal slows the stream instead of filling memory. */
function write(stream: NodeJS.WriteStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(chunk)) resolve();
    else stream.once("drain", resolve);
  });
}
