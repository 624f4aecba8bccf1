// Baselines measured next to Outpost's sandboxes in the same run: a bare bubblewrap spawn,
// Anthropic's sandbox-runtime CLI (`srt`, the peer), and plain host pipes for throughput.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deferCleanup } from "./cleanup.ts";
import { REPO_ROOT } from "./outpost.ts";

export interface SpawnResult {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Bytes of stdout (counted, not kept). */
  stdoutBytes: number;
  /** The first few kB of stderr. */
  stderr: string;
}

/** Spawns a command and resolves when it exits, with the wall time from spawn to exit. */
export function timedSpawn(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdoutBytes = 0;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ ms: performance.now() - started, code, signal, stdoutBytes, stderr }));
  });
}

/** The bare bwrap of the comparisons, without its command: a fresh user/pid/net/ipc/uts/
 *  cgroup namespace, read-only /usr with the merged-usr links, /proc and /dev. */
const BARE_BWRAP_SETUP = [
  "--unshare-all",
  "--ro-bind",
  "/usr",
  "/usr",
  "--symlink",
  "usr/bin",
  "/bin",
  "--symlink",
  "usr/lib",
  "/lib",
  "--symlink",
  "usr/lib64",
  "/lib64",
  "--proc",
  "/proc",
  "--dev",
  "/dev",
];

/** The bare bwrap command of the comparison: BARE_BWRAP_SETUP, then /bin/true. */
export const BARE_BWRAP_ARGS = [...BARE_BWRAP_SETUP, "/bin/true"];

/** The same bare bwrap with the sandboxes' Node bound where they have it (the folder Outpost
 *  binds read-only at /opt/outpost), a clean environment like a sandbox's (the host's
 *  NODE_* and certificate variables would change what Node does at start), then
 *  `/opt/outpost/bin/node <args>`. */
export function bareBwrapNodeArgs(outpostDir: string, nodeArgs: readonly string[]): string[] {
  return [
    ...BARE_BWRAP_SETUP,
    "--ro-bind",
    outpostDir,
    "/opt/outpost",
    "--clearenv",
    "--setenv",
    "PATH",
    "/opt/outpost/bin:/usr/bin:/bin",
    "--setenv",
    "LANG",
    "C.UTF-8",
    "/opt/outpost/bin/node",
    ...nodeArgs,
  ];
}

export const SRT_PACKAGE = "@anthropic-ai/sandbox-runtime";

export interface SrtSetup {
  /** How to run it: the node binary and the CLI script. */
  node: string;
  cli: string;
  version: string;
  /** An empty working directory and an explicit settings file (no ~/.srt-settings.json). */
  cwd: string;
  settings: string;
}

/** Finds srt in the repo's node_modules (or OUTPOST_BENCH_SRT_CLI), run with
 *  OUTPOST_BENCH_SRT_NODE or this node; a string says why it cannot be used. */
export function findSrt(): SrtSetup | string {
  const packageDir = join(REPO_ROOT, "node_modules", ...SRT_PACKAGE.split("/"));
  let cli = process.env.OUTPOST_BENCH_SRT_CLI;
  let version = "?";
  if (!cli) {
    const manifest = join(packageDir, "package.json");
    if (!existsSync(manifest)) return `${SRT_PACKAGE} is not installed (npm install --no-save ${SRT_PACKAGE})`;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { version: string; bin?: string | Record<string, string> };
    version = pkg.version;
    const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.srt;
    if (!bin) return `${SRT_PACKAGE} ${version} declares no srt binary`;
    cli = join(packageDir, bin);
  }
  if (!existsSync(cli)) return `srt's CLI ${cli} does not exist`;
  const node = process.env.OUTPOST_BENCH_SRT_NODE || process.execPath;
  if (!existsSync(node)) return `OUTPOST_BENCH_SRT_NODE=${node} does not exist`;
  const dir = mkdtempSync(join(tmpdir(), "outpost-bench-srt-"));
  deferCleanup(`srt dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  // srt scans its working directory for files to protect: give it an empty one.
  const cwd = join(dir, "work");
  mkdirSync(cwd);
  // srt's defaults made explicit: no network, writes nowhere, nothing extra denied.
  const settings = join(dir, "srt-settings.json");
  writeFileSync(
    settings,
    `${JSON.stringify({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [], denyWrite: [] } })}\n`,
  );
  return { node, cli, version, cwd, settings };
}

export const srtArgs = (srt: SrtSetup, command: string) => [srt.cli, "-s", srt.settings, "-c", command];

/** A command's trimmed stdout ("" when it fails or cannot start), e.g. `bwrap --version`. */
export async function commandOutput(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.once("error", () => resolve(""));
    child.once("close", (code) => resolve(code === 0 ? out.trim() : ""));
  });
}

/** The first line of a failed command's stderr, squeezed to one line (for "why not" reports). */
export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return line.trim().slice(0, 300);
}
