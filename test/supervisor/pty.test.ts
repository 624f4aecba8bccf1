// The in-sandbox PTY (src/supervisor/daemon/pty.ts) on the real addon: raw bytes, input,
// resize, signals, flow control, and what node-pty's own JavaScript gets wrong on Linux
// (the end of a command's output, and output queued while the reader is paused at exit).
// Runs in the test runner's Node (the addon is N-API: it loads on 20 as on 22), and at the
// end under dist/opt-outpost/bin/node from a bundle next to dist/opt-outpost/node_modules,
// which is how the supervisor finds it at /opt/outpost.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { build } from "esbuild";
import { packageRoot } from "../../src/package-root.ts";
import { openPty, type PtyExit, type PtyProcess } from "../../src/supervisor/daemon/pty.ts";
import { pidAlive, waitUntil } from "./helpers.ts";

const ENV = { PATH: "/usr/bin:/bin" };
const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

interface Session {
  pty: PtyProcess;
  output: () => Buffer;
  /** Resolves once the output so far matches. */
  until: (pattern: RegExp) => Promise<void>;
  exit: Promise<PtyExit>;
}

function open(command: string[]): Session {
  const pty = openPty({ command, cwd: tmpdir(), env: ENV, cols: 80, rows: 24 });
  const chunks: Buffer[] = [];
  const waiters: Array<() => void> = [];
  pty.onData((chunk) => {
    assert.ok(Buffer.isBuffer(chunk));
    chunks.push(chunk);
    for (const waiter of waiters.splice(0)) waiter();
  });
  const output = () => Buffer.concat(chunks);
  const until = async (pattern: RegExp) => {
    while (!pattern.test(output().toString("latin1"))) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const exit = new Promise<PtyExit>((resolve) => pty.onExit(resolve));
  return { pty, output, until, exit };
}

const state = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0];
};

// A terminal that never answers fails its test in seconds, not at the runner's timeout.
describe("openPty", { timeout: 30_000 }, () => {
  test("output comes as raw bytes, the terminal has IUTF8 on, and the exit code comes back", async () => {
    const session = open(["/bin/sh", "-c", "stty -a; printf '\\377\\376\\000'; exit 3"]);
    assert.deepEqual(await session.exit, { exitCode: 3, signal: null });
    const output = session.output();
    assert.deepEqual([...output.subarray(-3)], [0xff, 0xfe, 0x00]);
    assert.match(output.toString("latin1"), /(^|\s)iutf8(\s|$)/);
  });

  test("a shell takes input, and a resize reaches the terminal", async () => {
    const session = open(["/bin/sh"]);
    assert.ok(session.pty.pid > 0);
    // h""i: the echoed command line must not match, only the command's output.
    session.pty.write('echo h""i\n');
    await session.until(/hi\r\n/);
    session.pty.resize(100, 40);
    session.pty.write(Buffer.from("stty size\n"));
    await session.until(/40 100\r\n/);
    session.pty.write("exit 5\n");
    assert.deepEqual(await session.exit, { exitCode: 5, signal: null });
    assert.throws(() => session.pty.resize(0, 10), RangeError);
  });

  test("the command's environment and folder are the ones given, with TERM defaulted", async () => {
    const pty = openPty({ command: ["/bin/sh", "-c", 'echo "$TERM|$FOO|$PWD|$(pwd)"'], cwd: "/usr", env: { ...ENV, FOO: "bar" }, cols: 80, rows: 24 });
    const chunks: Buffer[] = [];
    pty.onData((chunk) => chunks.push(chunk));
    await new Promise((resolve) => pty.onExit(resolve));
    assert.equal(Buffer.concat(chunks).toString(), "xterm-256color|bar|/usr|/usr\r\n");
  });

  test("every byte written before the exit is delivered before onExit (20 fast commands)", async () => {
    // node-pty's own stream loses the tail here about every other time on Linux.
    for (let round = 0; round < 20; round++) {
      const session = open(["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; printf END"]);
      assert.deepEqual(await session.exit, { exitCode: 0, signal: null });
      const output = session.output().toString("latin1");
      assert.equal(output.length, 100_003, `round ${round}: ${output.length} bytes`);
      assert.ok(output.endsWith("xEND"));
    }
  });

  test("kill signals the command and the exit names the signal; SIGHUP by default; a no-op after the exit", async () => {
    const term = open(["sleep", "1000"]);
    term.pty.kill("SIGTERM");
    assert.deepEqual(await term.exit, { exitCode: null, signal: "SIGTERM" });
    term.pty.kill("SIGKILL");
    const hup = open(["sleep", "1000"]);
    hup.pty.kill();
    assert.deepEqual(await hup.exit, { exitCode: null, signal: "SIGHUP" });
  });

  test("while paused nothing is delivered and the command blocks in write; resume delivers everything in order", async () => {
    const expected = Array.from({ length: 100_000 }, (_, index) => `${index + 1}\r\n`).join("");
    const session = open(["seq", "1", "100000"]);
    let paused = false;
    let pausedOnce = false;
    let deliveredWhilePaused = 0;
    session.pty.onData((chunk) => {
      if (paused) deliveredWhilePaused += chunk.length;
      else if (!pausedOnce && session.output().length >= 32 * 1024) {
        paused = pausedOnce = true;
        session.pty.pause();
      }
    });
    await waitUntil("the pty was paused", () => paused);
    // seq never sleeps but in a write the terminal does not take.
    await waitUntil("seq blocks in write(2)", () => state(session.pty.pid) === "S");
    assert.equal(deliveredWhilePaused, 0);
    assert.ok(session.output().length < expected.length);
    paused = false;
    session.pty.resume();
    assert.deepEqual(await session.exit, { exitCode: 0, signal: null });
    assert.equal(session.output().toString("latin1"), expected);
  });

  test("a command that exits while paused: its last output, then its exit, come after resume", async () => {
    const session = open(["/bin/sh", "-c", "printf last-words; exit 7"]);
    session.pty.pause();
    let exited = false;
    void session.exit.then(() => {
      exited = true;
    });
    // Reaped by the addon's waitpid thread, whose exit callback then waits for resume.
    await waitUntil("the command was reaped", () => !pidAlive(session.pty.pid));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(session.output().length, 0);
    assert.equal(exited, false);
    session.pty.resume();
    assert.deepEqual(await session.exit, { exitCode: 7, signal: null });
    assert.equal(session.output().toString(), "last-words");
  });
});

describe("openPty under the pinned Node 22, as the supervisor runs in a sandbox", { timeout: 30_000 }, () => {
  const optOutpost = join(packageRoot(), "dist", "opt-outpost");
  const node = join(optOutpost, "bin", "node");
  const script = `
    import { openPty } from "./pty.ts";
    let result;
    try {
      const pty = openPty({ command: ["/bin/sh"], cwd: "/", env: { PATH: "/usr/bin:/bin" }, cols: 80, rows: 24 });
      let output = "";
      let resized = false;
      pty.onData((chunk) => {
        output += chunk.toString();
        if (!resized && /hi\\r\\n/.test(output)) {
          resized = true;
          pty.resize(120, 50);
          pty.write("stty size; exit 4\\n");
        }
      });
      pty.write('echo h""i\\n');
      pty.onExit((exit) => console.log(JSON.stringify({ node: process.version, output, exit })));
    } catch (error) {
      console.log(JSON.stringify({ node: process.version, error: error.message }));
    }
  `;

  /** Bundles the script like scripts/build.mjs bundles the supervisor, into a fresh folder. */
  async function bundle(withNodeModules: boolean): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "outpost-pty-"));
    temps.push(dir);
    await build({
      stdin: { contents: script, resolveDir: join(packageRoot(), "src", "supervisor", "daemon"), loader: "ts", sourcefile: "check.ts" },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: join(dir, "check.js"),
      logLevel: "silent",
    });
    if (withNodeModules) symlinkSync(join(optOutpost, "node_modules"), join(dir, "node_modules"));
    return join(dir, "check.js");
  }

  const run = async (file: string) => JSON.parse((await promisify(execFile)(node, [file])).stdout);

  test("dist/opt-outpost has the Node 22 binary (run `npm run build`)", () => {
    assert.ok(existsSync(node), `${node} is missing: run \`npm run build\``);
  });

  test("the addon loads from <bundle's folder>/node_modules; input, output, resize and exit work", async () => {
    const result = await run(await bundle(true));
    assert.match(result.node, /^v22\./);
    assert.match(result.output, /50 120\r\n/);
    assert.deepEqual(result.exit, { exitCode: 4, signal: null });
  });

  test("without the addon next to the bundle, openPty says so", async () => {
    const result = await run(await bundle(false));
    assert.equal(result.error, "PTY support is not installed in /opt/outpost");
  });
});
