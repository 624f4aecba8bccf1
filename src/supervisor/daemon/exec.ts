// POST /v1/exec: runs a command to completion and streams its output as NDJSON
// (started, stdout/stderr chunks in base64, then exactly one exit line), or, when the
// request accepts application/vnd.outpost.frames, as binary frames (frames.ts) with the
// same events and the output as raw bytes (no base64: ~4× less work on both ends).
// Backpressure is end to end: when the response is full the child's pipes are paused, so
// any amount of output streams in bounded memory. If the client goes away before the
// exit line, the process group is killed: an exec never outlives its caller.
import { encodeJsonFrame, FRAME, FRAME_HEADER_BYTES, FRAMES_CONTENT_TYPE } from "../frames.ts";
import type { ExecExitEvent } from "../protocol.ts";
import { NDJSON_CONTENT_TYPE } from "../protocol.ts";
import { readJsonBody } from "./body.ts";
import { ChildRun, resolveCwd } from "./child.ts";
import type { Handler } from "./http-types.ts";
import { writeChunk } from "./respond.ts";
import type { RunRegistry } from "./run-registry.ts";
import { parseExecRequest } from "./validate.ts";

export function execHandler(options: { workspace: string; runs: RunRegistry }): Handler {
  return async (request, response) => {
    const body = parseExecRequest(await readJsonBody(request));
    options.runs.assertAccepting();
    const cwd = await resolveCwd(options.workspace, body.cwd);
    const frames = (request.headers.accept ?? "").includes(FRAMES_CONTENT_TYPE);
    const event = frames ? (value: ExecEventLine) => encodeJsonFrame(value.type === "started" ? FRAME.started : FRAME.exit, dropType(value)) : ndjsonLine;
    const run = await ChildRun.start({ command: body.command, cwd, env: body.env, stdin: body.stdin, user: body.user }, (stream, chunk) => {
      // Once the client is gone the output has nowhere to go; keep reading so the child
      // is not stuck on a full pipe while it is being killed.
      if (response.closed) return true;
      let flowing: boolean;
      if (frames) {
        // Header and bytes as two writes: no copy of the chunk.
        const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
        header[0] = stream === "stdout" ? FRAME.stdout : FRAME.stderr;
        header.writeUInt32BE(chunk.length, 1);
        response.write(header);
        flowing = response.write(chunk);
      } else {
        // Built by hand, like the journal's lines: base64 needs no escaping, and JSON.stringify
        // of a 64 KiB chunk's base64 costs ten times the template (bench/sandboxes.ts).
        flowing = response.write(`{"type":"${stream}","data":"${chunk.toString("base64")}"}\n`);
      }
      if (!flowing) void response.drain().then(() => run.resume());
      return flowing;
    });
    // No output can reach the sink before the lines below run: the child's 'data' events
    // are I/O callbacks, and the continuation of the await above is a microtask.
    options.runs.add(run);

    let timedOut = false;
    const timer =
      body.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            run.signal("SIGKILL");
          }, body.timeoutMs);
    const onAbort = () => run.signal("SIGKILL");
    request.signal.addEventListener("abort", onAbort, { once: true });
    if (request.signal.aborted) onAbort();

    response.start(200, { "content-type": frames ? FRAMES_CONTENT_TYPE : NDJSON_CONTENT_TYPE, "cache-control": "no-store" });
    await writeChunk(response, event({ type: "started", pid: run.pid }));
    try {
      const exit = await run.done;
      const line: ExecExitEvent = {
        type: "exit",
        exitCode: exit.exitCode,
        signal: exit.signal,
        timedOut,
        durationMs: Math.round(performance.now() - run.startedAt),
      };
      await writeChunk(response, event(line));
      if (!response.closed) response.end();
    } finally {
      if (timer) clearTimeout(timer);
      request.signal.removeEventListener("abort", onAbort);
    }
  };
}

type ExecEventLine = { type: "started"; pid: number } | ExecExitEvent;

const ndjsonLine = (value: ExecEventLine): string => `${JSON.stringify(value)}\n`;

function dropType({ type: _type, ...rest }: ExecEventLine): Record<string, unknown> {
  return rest;
}
