// The `terminal` group: keystroke echo latency through a terminal WebSocket — one byte
// typed, wait for it to come back — next to a PTY on the host in the same run. Both run
// `stty raw -echo; cat` in their terminal, so each echo is one byte read and written back
// by a program (what a shell's line editor does too) and nothing else is printed. The
// terminal path is WebSocket → control plane → supervisor link (HTTP/2) → supervisor →
// PTY → cat, and back the same way through the supervisor's screen.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { openPty } from "../src/supervisor/daemon/pty.ts";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup } from "./lib/cleanup.ts";
import { benchDataDir, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { killSandboxes } from "./lib/sandbox-processes.ts";
import { percentile } from "./lib/stats.ts";
import { createRunning, deleteDeleted, describe, type Log, Tracker } from "./sandboxes/tracker.ts";

export interface EchoLatency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface TerminalResults {
  keystrokes: number;
  terminal?: EchoLatency;
  localPty?: EchoLatency;
  failures: string[];
}

const KEYSTROKES = Number(process.env.OUTPOST_BENCH_TERMINAL_KEYSTROKES) || 300;
const WARMUP = 20;
const PROJECT = "bench-terminal";
/** READY is spelled so that the shell's echo of this command line does not contain it. */
const ECHO_PROGRAM = "stty raw -echo; printf 'RE%sY' AD; exec cat";

/** Something that takes keystrokes and hands back what the terminal printed. */
interface Echoer {
  type(byte: Buffer): void;
  /** Resolves once `byte` came back (everything before it is dropped). */
  next(byte: number): Promise<void>;
}

function echoer(send: (byte: Buffer) => void, onData: (listener: (chunk: Buffer) => void) => void): Echoer & { ready: Promise<void> } {
  let seen = "";
  let waiter: { byte: number; resolve: () => void } | null = null;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  let isReady = false;
  onData((chunk) => {
    if (!isReady) {
      seen += chunk.toString("latin1");
      if (seen.includes("READY")) {
        isReady = true;
        resolveReady();
      }
      return;
    }
    if (waiter && chunk.includes(waiter.byte)) {
      const { resolve } = waiter;
      waiter = null;
      resolve();
    }
  });
  return {
    ready,
    type: send,
    next: (byte) =>
      new Promise((resolve) => {
        waiter = { byte, resolve };
      }),
  };
}

async function measure(target: Echoer, count: number): Promise<EchoLatency> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + count; i++) {
    const byte = 0x61 + (i % 26); // a…z
    const started = performance.now();
    const echoed = target.next(byte);
    target.type(Buffer.from([byte]));
    await echoed;
    if (i >= WARMUP) samples.push(performance.now() - started);
  }
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

async function localPty(count: number): Promise<EchoLatency> {
  const pty = openPty({ command: ["/bin/sh", "-c", ECHO_PROGRAM], cwd: REPO_ROOT, env: { PATH: "/usr/bin:/bin" }, cols: 80, rows: 24 });
  const exited = new Promise((resolve) => pty.onExit(resolve));
  try {
    const target = echoer(
      (byte) => pty.write(byte),
      (listener) => pty.onData(listener),
    );
    await target.ready;
    return await measure(target, count);
  } finally {
    pty.kill("SIGKILL");
    await exited;
  }
}

async function throughTerminal(url: string, token: string, sandboxId: string, count: number): Promise<EchoLatency> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/api/v1/sandboxes/${sandboxId}/terminals/new?cols=80&rows=24`, {
    headers: { authorization: `Bearer ${token}` },
  });
  // Listening before the open event: the first messages may come with the handshake's answer.
  const target = echoer(
    (byte) => socket.send(byte, { binary: true }),
    (listener) =>
      socket.on("message", (data, isBinary) => {
        if (isBinary) listener(data as Buffer);
      }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) => reject(new Error(`the terminal socket was refused: ${response.statusCode}`)));
  });
  const closed = new Promise((resolve) => socket.once("close", resolve));
  try {
    // The shell's own prompt first, then the echo program (READY is printed by it, after stty).
    socket.send(Buffer.from(`${ECHO_PROGRAM}\r`), { binary: true });
    await target.ready;
    return await measure(target, count);
  } finally {
    socket.close();
    await closed;
  }
}

export async function benchTerminal(log: Log = () => {}): Promise<TerminalResults> {
  const results: TerminalResults = { keystrokes: KEYSTROKES, failures: [] };
  log(`local PTY on the host: ${KEYSTROKES} keystrokes`);
  results.localPty = await localPty(KEYSTROKES);

  const dir = benchDataDir("outpost-bench-terminal-");
  const { plane, ms } = await startTimed(dir);
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const api = new OutpostApi(plane.url, token);
  const run = new Tracker();
  const cleanupDone = deferCleanup("the terminal bench's sandbox", async () => {
    run.stopping = true;
    for (const id of run.live()) await api.call("DELETE", `/api/v1/sandboxes/${id}`).catch(() => undefined);
    await killSandboxes(run.created);
    api.close();
  });
  try {
    await api.expect(201, "POST", "/api/v1/projects", { name: PROJECT });
    const { sandbox } = await createRunning(api, run, PROJECT);
    log(`control plane ready in ${ms.toFixed(0)} ms; sandbox ${sandbox.id} running; ${KEYSTROKES} keystrokes through its terminal WebSocket`);
    results.terminal = await throughTerminal(plane.url, token, sandbox.id, KEYSTROKES);
    await deleteDeleted(api, run, sandbox.id);
  } catch (error) {
    if (run.stopping) throw error;
    results.failures.push(describe(error));
  } finally {
    if (!run.stopping) {
      await stopGracefully(plane).catch((error) => results.failures.push(`graceful stop: ${describe(error)}`));
      cleanupDone();
      await killSandboxes(run.created);
      api.close();
    }
  }
  return results;
}

export function terminalReport(results: TerminalResults): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const line = (label: string, value: EchoLatency | undefined) =>
    value
      ? `  ${label.padEnd(34)} p50 ${ms(value.p50).padStart(9)}   p99 ${ms(value.p99).padStart(9)}   max ${ms(value.max).padStart(9)}   (n=${value.n})`
      : `  ${label}: not measured`;
  const lines = [
    `terminal: keystroke echo latency, one byte typed and awaited (${results.keystrokes} keystrokes after ${WARMUP} warm-up)`,
    line("terminal WebSocket (sandbox)", results.terminal),
    line("local PTY on the host (baseline)", results.localPty),
  ];
  if (results.terminal && results.localPty) {
    lines.push(
      `  ratio                              p50 ${(results.terminal.p50 / results.localPty.p50).toFixed(1)}×   p99 ${(results.terminal.p99 / results.localPty.p99).toFixed(1)}×   added p50 ${ms(results.terminal.p50 - results.localPty.p50)}`,
    );
  }
  for (const failure of results.failures) lines.push(`  FAILED: ${failure}`);
  return `${lines.join("\n")}\n`;
}
