// `outpost shell` as a user runs it: in a real terminal (a PTY), against a real server with
// a real sandbox. Typing reaches the shell, the window's size follows, Enter ~ . detaches and
// leaves the user's terminal as it was, --terminal comes back to the same shell and screen,
// the shell's exit code becomes the command's; without a TTY the bytes are piped.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { openPty, type PtyExit } from "../../src/supervisor/daemon/pty.ts";
import { TerminalView } from "../helpers/screen.ts";
import { apiJson, childEnv, OUTPOST_BIN, type OutpostServer, REPO_ROOT, runCli, startOutpost } from "./harness.ts";

/** `outpost shell …` (then `stty -a`, to show the terminal it left behind) in a terminal of its own. */
function inTerminal(server: OutpostServer, args: string[], size = { cols: 80, rows: 24 }) {
  const command = `${[process.execPath, OUTPOST_BIN, "shell", ...args].map((word) => `'${word}'`).join(" ")}; echo "code=$?"; stty -a; echo END-OF-RUN`;
  const env = childEnv({ ...server.cliEnv, TERM: "xterm-256color" }) as Record<string, string>;
  const pty = openPty({ command: ["/bin/sh", "-c", command], cwd: REPO_ROOT, env, ...size });
  const view = new TerminalView(size.cols, size.rows);
  let raw = "";
  pty.onData((chunk) => {
    raw += chunk.toString("utf8");
    void view.output(chunk);
  });
  const exited = new Promise<PtyExit>((resolve) => pty.onExit(resolve));
  void exited.then(() => view.ended(null));
  return { pty, view, exited, raw: () => raw };
}

describe("outpost shell", { timeout: 240_000 }, () => {
  let server: OutpostServer;
  let sandbox: string;

  before(async () => {
    server = await startOutpost();
    assert.equal((await runCli(["project", "create", "shelly"], server.cliEnv)).code, 0);
    const created = await runCli(["sandbox", "create", "shelly", "--json"], server.cliEnv, 90_000);
    assert.equal(created.code, 0, created.stderr);
    sandbox = JSON.parse(created.stdout).name;
  });
  after(async () => {
    if (!server) return;
    const list = await apiJson<{ items: { id: string }[] }>(server, "GET", "/api/v1/sandboxes");
    for (const box of list.body?.items ?? []) await runCli(["sandbox", "delete", box.id], server.cliEnv);
    await server.stop();
  });

  test("in a terminal: typing, resizing, detaching with Enter ~ . (terminal restored), coming back, and the exit code", async () => {
    const first = inTerminal(server, [sandbox]);
    first.pty.write("echo hi-$((1+1))\r");
    await first.view.untilText(/^hi-2$/m);
    first.pty.write("stty size\r");
    await first.view.untilText(/^24 80$/m);
    first.pty.resize(100, 40);
    first.view.screen.resize(100, 40);
    first.pty.write("stty size\r");
    await first.view.untilText(/^40 100$/m);
    // A full-screen program is running when the user detaches.
    first.pty.write("printf '\\033[?1049h\\033[?25lBUSY'; read line; printf '\\033[?25h\\033[?1049l'\r");
    await first.view.untilText(/BUSY/);
    first.pty.write("\r~.");
    await first.view.untilText(/END-OF-RUN/);
    const text = await first.view.screen.text();
    assert.match(text, /^code=0$/m, "a detach exits 0");
    const id = /\[detached; the shell keeps running: outpost shell \S+ --terminal (trm_[a-z0-9]{12})\]/.exec(first.raw())?.[1];
    assert.ok(id, `the detach message names the terminal:\n${first.raw()}`);
    // The user's terminal is as it was: cooked mode with echo, the normal screen, the cursor shown.
    assert.match(text, /(^|\s)icanon(\s|$)/m);
    assert.match(text, /(^|\s)echo(\s|$)/m);
    assert.equal(first.view.screen.buffer, "normal");
    assert.match(first.raw(), /\x1b\[\?25h/);
    await first.exited;

    // Back to the same shell, with the program still on its screen.
    const again = inTerminal(server, [sandbox, "--terminal", id], { cols: 100, rows: 40 });
    await again.view.untilText(/BUSY/);
    again.pty.write("\r");
    await again.view.until(() => again.view.screen.buffer === "normal", "the program leaving its screen");
    again.pty.write("echo back-$((2+2)); exit 3\r");
    await again.view.untilText(/END-OF-RUN/);
    const after = await again.view.screen.text();
    assert.match(after, /^back-4$/m);
    assert.match(after, /^code=3$/m, "the shell's exit code is the command's");
    await again.exited;
  });

  test("without a TTY the bytes are piped both ways and the shell's exit ends the command", async () => {
    const child = spawn(process.execPath, [OUTPOST_BIN, "shell", sandbox], { cwd: REPO_ROOT, env: childEnv(server.cliEnv), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.stdin.end("echo piped-$((2+3)); exit 4\n");
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.equal(code, 4, stderr);
    assert.match(stdout, /^piped-5\r?$/m);
  });

  test("--list shows the terminals, --kill closes one, a wrong sandbox says what to do", async () => {
    const opened = await apiJson<{ id: string }>(server, "POST", `/api/v1/sandboxes/${sandbox}/terminals`, {});
    const listed = await runCli(["shell", sandbox, "--list"], server.cliEnv);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${opened.body.id}\\s+\\d+\\s+80x24\\s+0\\s`, "m"));
    const killed = await runCli(["shell", sandbox, "--kill", opened.body.id], server.cliEnv);
    assert.deepEqual([killed.code, killed.stdout], [0, `closed ${opened.body.id}\n`]);
    assert.doesNotMatch((await runCli(["shell", sandbox, "--list"], server.cliEnv)).stdout, new RegExp(opened.body.id));

    const missing = await runCli(["shell", "no-such-sandbox"], server.cliEnv);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /SANDBOX_NOT_FOUND/);
    assert.match(missing.stderr, /hint: /);
    const gone = await runCli(["shell", sandbox, "--terminal", opened.body.id], server.cliEnv);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /TERMINAL_NOT_FOUND/);
    assert.equal((await runCli(["shell"], server.cliEnv)).code, 2);
  });
});
