// A Debian root filesystem made by debootstrap (minbase) from a Debian mirror, for the
// `debian:<suite>` images. debootstrap runs as root on the host: it only unpacks and
// configures packages of the Debian archive, which it verifies against the archive's keys;
// nothing a user wrote runs here (setup scripts run inside a sandbox). It takes about 40 s
// and 200 MB, so a finished root may be kept in a cache folder (OUTPOST_DEBIAN_ROOT_CACHE)
// and copied from there: test machines and CI keep one, a fresh one makes its own.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OutpostError } from "../../domain/errors.ts";

export interface DebianRootOptions {
  suite: string;
  mirror: string;
  /** Where to put the root (must not exist). */
  target: string;
  /** A folder keeping finished roots by suite (<cache>/<suite>), or none. */
  cacheDir?: string;
  debootstrapPath?: string;
  signal: AbortSignal;
  progress(line: string): void;
}

const COMPLETE = ".outpost-complete";

export async function makeDebianRoot(options: DebianRootOptions): Promise<void> {
  const cached = options.cacheDir ? join(options.cacheDir, options.suite) : undefined;
  if (cached && existsSync(join(cached, COMPLETE))) {
    options.progress(`copying the Debian ${options.suite} root kept in ${cached}`);
    await run("cp", ["-a", "--", cached, options.target], options);
    rmSync(join(options.target, COMPLETE), { force: true });
    return;
  }
  options.progress(`debootstrap ${options.suite} from ${options.mirror} (about a minute)`);
  await run(options.debootstrapPath ?? "debootstrap", ["--variant=minbase", options.suite, options.target, options.mirror], options);
  if (cached) {
    // Kept for the next build: made under a temporary name, so a kill never leaves half a cache.
    const partial = `${cached}.partial-${process.pid}`;
    mkdirSync(dirname(cached), { recursive: true, mode: 0o700 });
    rmSync(partial, { recursive: true, force: true });
    await run("cp", ["-a", "--", options.target, partial], options);
    writeFileSync(join(partial, COMPLETE), "");
    // Another installation (or test) may have kept one meanwhile: it stays, ours goes. A
    // kept root is never removed here, so a copy from it is never cut short.
    if (existsSync(join(cached, COMPLETE))) rmSync(partial, { recursive: true, force: true });
    else {
      rmSync(cached, { recursive: true, force: true });
      try {
        renameSync(partial, cached);
      } catch {
        rmSync(partial, { recursive: true, force: true });
      }
    }
  }
}

/** Runs a host command, its output lines as progress; fails with its last lines. */
function run(command: string, args: string[], options: { signal: AbortSignal; progress(line: string): void }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], signal: options.signal, env: { ...process.env, LC_ALL: "C" } });
    let tail = "";
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim()) options.progress(line.trim());
    };
    child.stdout.on("data", onOutput);
    child.stderr.on("data", onOutput);
    child.once("error", (error) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        reject(new OutpostError("IMAGE_BUILD_FAILED", `${command} is not installed on this machine`, { fix: `Install it: apt-get install -y ${command}` }));
      else reject(error);
    });
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new OutpostError("IMAGE_BUILD_FAILED", `${command} failed (${signal ?? `exit ${code}`}): ${tail.trim().split("\n").slice(-5).join(" | ")}`));
    });
  });
}
