// Terminals through the API, over real sockets into a real sandbox: a WebSocket carries a
// login shell's PTY both ways; the shell is a persistent session kept by the sandbox's
// supervisor, so a closed tab or a control-plane restart leaves it running with its screen;
// every upgrade is authenticated and authorized before the socket is accepted; and a client
// that never reads costs the control plane a bounded buffer, not memory without end.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { HIGH_WATER_BYTES, terminalSocketStats } from "../../src/api/terminal-socket.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, createUser, startTestServer, type TestServer } from "../helpers/server.ts";
import { connectTerminal, isRefused, openTerminal } from "../helpers/terminal-socket.ts";

/** JavaScript heap and buffers still held after a full garbage collection. */
function retainedBytes(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  // Twice: the first pass may leave objects that only a second one frees (finalizers, weak refs).
  gc();
  gc();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

/** Output reaches a socket in chunks of at most one PTY read (64 KiB). */
const MAX_OUTPUT_CHUNK = 64 * 1024;

describe("terminals", { timeout: 300_000 }, () => {
  let s: TestServer;
  let box: any;
  let dataDir: string;
  before(async () => {
    s = await startTestServer("embedded");
    dataDir = s.dataDir;
    await api(s, "POST", "/api/v1/projects", { body: { name: "term", env: { PROJECT_GREETING: "from-the-project" } } });
    box = await runningSandbox(s, "term");
  });
  after(async () => {
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a new terminal: bash in /workspace, the project's env, `echo hi` shows hi, and a resize reaches `stty size`", async () => {
    const term = await openTerminal(s, box.id, "new", { cols: 100, rows: 30 });
    assert.equal(term.terminal.type, "terminal");
    assert.equal(term.terminal.created, true);
    assert.match(term.terminal.id, /^trm_[a-z0-9]{12}$/);
    assert.deepEqual([term.terminal.cols, term.terminal.rows, term.terminal.cwd], [100, 30, "/workspace"]);
    term.type("echo hi\r");
    await term.view.untilText(/^hi$/m);
    term.type('echo "$TERM $LANG $PROJECT_GREETING $0 $(pwd)"\r');
    await term.view.untilText(/^xterm-256color C\.UTF-8 from-the-project -?\S*(bash|sh) \/workspace$/m);
    term.type("stty size\r");
    await term.view.untilText(/^30 100$/m);
    term.resize(132, 43);
    term.type("stty size\r");
    await term.view.untilText(/^43 132$/m);
    // The REST side sees the same terminal, with its new size and this client.
    const listed = await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals`);
    const mine = listed.body.items.find((t: any) => t.id === term.terminal.id);
    assert.deepEqual([mine.cols, mine.rows, mine.clients], [132, 43, 1]);
    // A control message that is not one is answered and changes nothing.
    term.socket.send("ls\r");
    await term.view.until(() => term.messages.some((m) => m.type === "error" && m.code === "VALIDATION_FAILED"), "the error message");
    term.type("exit 7\r");
    await term.view.until(() => term.view.exit !== null, "the exit message");
    assert.deepEqual(term.view.exit, { exitCode: 7, signal: null });
    assert.equal(await term.closed, 1000);
    const gone = await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals/${term.terminal.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, "TERMINAL_NOT_FOUND");
  });

  test("closing the socket leaves the shell running; reattaching restores the screen, a full-screen program included", async () => {
    await exec(s, box.id, "seq -f 'line %g of the file' 1 200 > /workspace/long.txt");
    const first = await openTerminal(s, box.id, "new", { cols: 80, rows: 24 });
    first.type("echo marker-$((20+3)) && less /workspace/long.txt\r");
    await first.view.untilText(/line 23 of the file/);
    await first.view.until(() => first.view.screen.buffer === "alternate", "less on the alternate screen");
    await first.close();

    // Like a reloaded tab: a new socket to the same terminal.
    const again = await openTerminal(s, box.id, first.terminal.id);
    assert.equal(again.terminal.created, false);
    assert.equal(again.terminal.pid, first.terminal.pid, "the same shell");
    await again.view.untilText(/line 23 of the file/);
    assert.equal(again.view.screen.buffer, "alternate", "less is still on its own screen");
    const rows = await again.view.screen.visible();
    assert.equal(rows[0], "line 1 of the file");
    assert.match(rows.at(-1) ?? "", /long\.txt|:/, "with its status line");
    // The program still has the terminal: quitting it brings the shell's screen back.
    again.type("q");
    await again.view.until(() => again.view.screen.buffer === "normal", "the shell's screen");
    await again.view.untilText(/^marker-23$/m);
    again.type("exit\r");
    await again.view.until(() => again.view.exit !== null, "the exit");
  });

  test("two terminals are independent; DELETE hangs one up and its socket gets the exit", async () => {
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/terminals`, { body: { cols: 90, rows: 20 } });
    assert.equal(created.status, 201);
    assert.deepEqual([created.body.cols, created.body.rows, created.body.clients], [90, 20, 0]);
    const a = await openTerminal(s, box.id, created.body.id);
    const b = await openTerminal(s, box.id, "new");
    a.type("export ONLY_IN_A=yes; mkdir -p /workspace/a && cd /workspace/a; echo a-ready\r");
    await a.view.untilText(/^a-ready$/m);
    b.type('test -z "$ONLY_IN_A" && echo "b:unset:$(pwd)"\r');
    await b.view.untilText(/^b:unset:\/workspace$/m);
    assert.doesNotMatch(await a.view.screen.text(), /b:unset/, "b's output is not on a's screen");
    const ids = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals`)).body.items.map((t: any) => t.id);
    assert.ok(ids.includes(a.terminal.id) && ids.includes(b.terminal.id));

    const deleted = await api(s, "DELETE", `/api/v1/sandboxes/${box.id}/terminals/${a.terminal.id}`);
    assert.equal(deleted.status, 204);
    await a.view.until(() => a.view.exit !== null, "a's exit");
    assert.equal(a.view.exit?.signal, "SIGHUP");
    b.type("echo b-still-here\r");
    await b.view.untilText(/^b-still-here$/m);
    await b.close();
    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${box.id}/terminals/${b.terminal.id}`)).status, 204);
  });

  test("upgrades are refused as plain HTTP answers: no credentials, a viewer, a cookie from another origin, bad input", async () => {
    const anonymous = await connectTerminal(s, box.id, "new", { token: null });
    assert.ok(isRefused(anonymous));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, "UNAUTHENTICATED");

    const viewer = await createUser(s, `viewer${Date.now()}`);
    await api(s, "POST", `/api/v1/projects/${box.projectId}/members`, { body: { userId: viewer.id, role: "viewer" } });
    const viewed = await connectTerminal(s, box.id, "new", { token: viewer.token });
    assert.ok(isRefused(viewed));
    assert.equal(viewed.status, 403);
    assert.match(viewed.body.error.hint, /--role editor/);

    const link = await api(s, "POST", "/api/v1/login-links");
    const opened = await fetch(link.body.url, { redirect: "manual" });
    const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0]!;
    const foreign = await connectTerminal(s, box.id, "new", { token: null, cookie, origin: "https://evil.example" });
    assert.ok(isRefused(foreign), "a page on another site cannot open a terminal with the user's cookie");
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, "FORBIDDEN");
    // A preview's origin is same-site with the UI (both *.localhost), so the browser sends
    // the cookie along: the Origin check is what keeps a preview's JavaScript out.
    const preview = await connectTerminal(s, box.id, "new", { token: null, cookie, origin: `http://3000-${box.name}.localhost:${new URL(s.url).port}` });
    assert.ok(isRefused(preview));
    assert.equal(preview.status, 403);
    // The same cookie from the UI's own origin works.
    const own = await openTerminal(s, box.id, "new", { token: null, cookie, origin: s.url });
    own.type("echo cookie-ok\r");
    await own.view.untilText(/^cookie-ok$/m);
    own.type("exit\r");
    await own.closed;

    const before = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals`)).body.items.length;
    for (const [tid, query, status, code] of [
      ["trm_nothing00000", "", 404, "TERMINAL_NOT_FOUND"],
      ["TRM_BAD", "", 400, "VALIDATION_FAILED"],
      ["new", "?cols=0&rows=10", 400, "VALIDATION_FAILED"],
      ["new", "?cols=80", 400, "VALIDATION_FAILED"],
    ] as const) {
      const refused = await connectTerminal({ url: s.url, token: s.token }, box.id, `${tid}${query}`);
      assert.ok(isRefused(refused), `${tid}${query}`);
      assert.deepEqual([refused.status, refused.body.error?.code], [status, code], `${tid}${query}: ${JSON.stringify(refused.body)}`);
    }
    const nothing = await connectTerminal(s, "sbx_nothing000000000", "new");
    assert.ok(isRefused(nothing));
    assert.equal(nothing.status, 404);
    assert.equal((await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals`)).body.items.length, before, "refused upgrades opened nothing");
  });

  test("a client that never reads while the shell prints 32 MB: the control plane holds a bounded amount for it, and it gets a fresh screen later", async () => {
    const reader = await openTerminal(s, box.id, "new");
    // The reader's own screen full first (its scrollback is this process's memory too).
    reader.type("seq 1 6000; echo FILLED-$((1+1))\r");
    await reader.view.untilText(/^FILLED-2$/m);
    // Stops reading from the network at once: the server's writes pile up on its side.
    const stalled = await openTerminal(s, box.id, reader.terminal.id, { stalled: true });
    const retainedBefore = retainedBytes();
    terminalSocketStats.highestBufferedBytes = 0;
    const pausesBefore = terminalSocketStats.pauses;

    reader.type("head -c 32000000 /dev/zero | tr '\\0' x; echo; echo DONE-$((6*7))\r");
    await reader.view.untilText(/^DONE-42$/m);
    // Everything the stalled client missed has gone through; what this process still holds
    // for it (it has read nothing) is what it buffers per slow client.
    const retainedMiB = (retainedBytes() - retainedBefore) / 1024 / 1024;
    assert.ok(terminalSocketStats.pauses > pausesBefore, "the stalled socket's stream was paused");
    assert.ok(
      terminalSocketStats.highestBufferedBytes <= HIGH_WATER_BYTES + MAX_OUTPUT_CHUNK,
      `a socket buffered ${terminalSocketStats.highestBufferedBytes} bytes at most (bound ${HIGH_WATER_BYTES} + one chunk)`,
    );
    // Measured in this process, which is the control plane (and the test's clients).
    assert.ok(retainedMiB < 8, `the control plane holds ${retainedMiB.toFixed(1)} MiB more after 32 MB of output to a client that read none`);

    // Reading again: a redraw replaces what it missed, and it ends on the current screen.
    stalled.unstall();
    await stalled.view.untilText(/^DONE-42$/m);
    assert.ok(stalled.view.redraws >= 2, `a fresh screen replaced the output it missed (${stalled.view.redraws} redraws)`);
    reader.type("exit\r");
    await stalled.view.until(() => stalled.view.exit !== null, "the exit reaching the once-stalled client");
    await reader.closed;
  });

  test("a control-plane restart keeps the shell: same pid, its variables, its screen", async () => {
    const term = await openTerminal(s, box.id, "new");
    term.type("export KEPT=across-restarts; echo before-restart\r");
    await term.view.untilText(/^before-restart$/m);
    const { id, pid } = term.terminal;

    // The control plane stops (its sockets close with it) and starts again on the same data dir.
    await s.server.close({ stopDatabase: false });
    assert.notEqual(await term.closed, 1000, "the socket closed because the server went away");
    s = await startTestServer("embedded", { dataDir });
    const running = await api(s, "GET", `/api/v1/sandboxes/${box.id}`);
    assert.equal(running.body.phase, "running");

    const back = await openTerminal(s, box.id, id);
    assert.equal(back.terminal.pid, pid, "the same shell process");
    await back.view.untilText(/^before-restart$/m);
    back.type('echo "still $KEPT"\r');
    await back.view.untilText(/^still across-restarts$/m);
    back.type("exit\r");
    await back.view.until(() => back.view.exit !== null, "the exit");
  });

  test("the plain GET answers the terminal; `new` is for WebSockets only", async () => {
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/terminals`);
    assert.equal(created.status, 201);
    assert.deepEqual([created.body.cols, created.body.rows], [80, 24]);
    const got = await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals/${created.body.id}`);
    assert.deepEqual(got.body, created.body);
    const plainNew = await api(s, "GET", `/api/v1/sandboxes/${box.id}/terminals/new`);
    assert.equal(plainNew.status, 404);
    assert.equal(plainNew.body.error.code, "TERMINAL_NOT_FOUND");
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/terminals`, { body: { cols: 5000 } })).status, 400);
    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${box.id}/terminals/${created.body.id}`)).status, 204);
  });
});
