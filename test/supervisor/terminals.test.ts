// Terminal sessions in the supervisor (daemon/terminals.ts): a login shell that outlives its
// clients, whose screen a client gets back when it attaches, several clients at once, a
// slow client that is skipped to a fresh screen instead of buffered for, and the bounds.
// The real daemon and client over a real link; what a client shows is read from a
// terminal emulator fed with what it received (test/helpers/screen.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { SupervisorClient, TerminalAttachment } from "../../src/supervisor/client.ts";
import { MAX_TERMINALS } from "../../src/supervisor/protocol-schemas.ts";
import { TerminalView } from "../helpers/screen.ts";
import { type Daemon, pidAlive, startDaemon, stopAllDaemons } from "./helpers.ts";

/** Feeds an attachment's events into a view until the stream ends. */
function watch(attachment: TerminalAttachment, view = new TerminalView()): TerminalView {
  void (async () => {
    try {
      for await (const event of attachment.events) {
        if (event.type === "output") await view.output(event.data);
        else if (event.type === "screen") view.redraw(event.cols, event.rows);
        else view.ended(event);
      }
    } catch {
      // a detach or a broken stream: the view says closed below
    }
    if (!view.closed) view.ended(null);
  })();
  return view;
}

async function attach(client: SupervisorClient, id: string, size?: { cols: number; rows: number }) {
  const attachment = await client.attachTerminal(id, size ?? {});
  const view = watch(attachment, new TerminalView(size?.cols, size?.rows));
  return { attachment, view };
}

const rssKiB = (pid: number, field: "VmRSS" | "VmHWM") =>
  Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

describe("terminal sessions in the supervisor", { timeout: 120_000 }, () => {
  let daemon: Daemon;
  before(async () => {
    daemon = await startDaemon();
  });
  // The daemon runs on the host here (no sandbox): the login shell gets a HOME of its own, so
  // this machine's dotfiles (a slow ~/.bashrc) play no part.
  const create = (request: { cols?: number; rows?: number; env?: Record<string, string> } = {}) =>
    daemon.client.createTerminal({ cols: request.cols ?? 80, rows: request.rows ?? 24, env: { HOME: daemon.dir, ...request.env } });
  after(stopAllDaemons);

  test("a login shell in the workspace with an xterm and UTF-8; typed input is echoed; the list shows it", async () => {
    const terminal = await create({ cols: 100, rows: 30, env: { GREETING: "hallo" } });
    assert.match(terminal.id, /^trm_[a-z0-9]{12}$/);
    assert.deepEqual([terminal.cols, terminal.rows, terminal.cwd, terminal.clients], [100, 30, daemon.workspace, 0]);
    assert.match(terminal.command.join(" "), /\/(bash -l|sh -l)$/);
    assert.ok(pidAlive(terminal.pid));
    assert.deepEqual(
      (await daemon.client.listTerminals()).items.map((t) => t.id),
      [terminal.id],
    );

    const { attachment, view } = await attach(daemon.client, terminal.id);
    // LC_ALL, LC_CTYPE and LANG together: whichever is set names the locale.
    attachment.write('echo "$TERM|$LC_ALL$LC_CTYPE$LANG|$GREETING|$OUTPOST_TERMINAL|$(pwd)|$((6*7))"\r');
    await view.untilText(new RegExp(`xterm-256color\\|[^|]*UTF-?8\\|hallo\\|${terminal.id}\\|${daemon.workspace}\\|42`));
    assert.equal((await daemon.client.getTerminal(terminal.id)).clients, 1);
    attachment.write("exit 3\r");
    await view.until(() => view.exit !== null, "the exit");
    assert.deepEqual([view.exit?.exitCode, view.exit?.signal], [3, null]);
    assert.deepEqual((await daemon.client.listTerminals()).items, [], "a shell that exits ends its session");
    await assert.rejects(daemon.client.attachTerminal(terminal.id), { code: "TERMINAL_NOT_FOUND", status: 404 });
  });

  test("a client that detaches and comes back gets the screen as it is, full-screen programs included", async () => {
    const terminal = await create();
    const first = await attach(daemon.client, terminal.id);
    first.attachment.write("echo before-$((1+1))\r");
    await first.view.untilText(/before-2/);
    first.attachment.close();
    await first.view.until(() => first.view.closed, "the detach");
    assert.ok(pidAlive(terminal.pid), "the shell outlives its client");

    // While nobody watches: a full-screen program takes over (alternate screen, like vim).
    const writer = await daemon.client.attachTerminal(terminal.id);
    writer.write("printf '\\033[?1049h\\033[2J\\033[5;10HFULL-%s SCREEN' $((3*3)); read line; printf '\\033[?1049l'\r");
    const watcher = watch(writer);
    await watcher.untilText(/FULL-9 SCREEN/);
    writer.close();

    const again = await attach(daemon.client, terminal.id);
    await again.view.untilText(/FULL-9 SCREEN/);
    assert.equal(again.view.screen.buffer, "alternate", "the program's screen, not the shell's");
    assert.equal((await again.view.screen.visible())[4], "         FULL-9 SCREEN", "at the same place");
    // Leaving the program gives the shell's screen back, with what was there before.
    again.attachment.write("\r");
    await again.view.until(() => again.view.screen.buffer === "normal", "the normal screen");
    const text = await again.view.untilText(/before-2/);
    assert.doesNotMatch(text, /FULL-9/);
    again.attachment.write("exit\r");
    await again.view.until(() => again.view.exit !== null, "the exit");
  });

  test("resizing reaches the shell; every attached client sees the output and the last resize wins", async () => {
    const terminal = await create();
    const a = await attach(daemon.client, terminal.id);
    const b = await attach(daemon.client, terminal.id, { cols: 120, rows: 40 });
    await b.view.until(() => b.view.redraws === 1, "b's screen");
    a.attachment.write("stty size\r");
    await a.view.untilText(/^40 120$/m);
    await b.view.untilText(/^40 120$/m);
    b.attachment.resize(90, 33);
    a.attachment.write("stty size\r");
    await b.view.untilText(/^33 90$/m);
    assert.deepEqual([(await daemon.client.getTerminal(terminal.id)).cols, (await daemon.client.getTerminal(terminal.id)).rows], [90, 33]);
    await daemon.client.killTerminal(terminal.id);
  });

  test("a client that does not read is skipped to a fresh screen; the shell and the others go on", async () => {
    const terminal = await create();
    const reader = await attach(daemon.client, terminal.id);
    // Attached, then never read while the shell prints 64 MB.
    const stalled = await daemon.client.attachTerminal(terminal.id);
    const peakBefore = rssKiB(daemon.pid, "VmHWM");
    reader.attachment.write("head -c 64000000 /dev/zero | tr '\\0' x; echo; echo DONE-$((6*7))\r");
    await reader.view.untilText(/^DONE-42$/m);
    const grownMiB = (rssKiB(daemon.pid, "VmHWM") - peakBefore) / 1024;
    assert.ok(grownMiB < 48, `the daemon's peak memory grew by ${grownMiB.toFixed(1)} MiB for 64 MB of output`);

    // Reading now: what was queued, then a redraw that ends on the current screen.
    let received = 0;
    const view = new TerminalView();
    void (async () => {
      for await (const event of stalled.events) {
        if (event.type === "output") {
          received += event.data.length;
          await view.output(event.data);
        } else if (event.type === "screen") view.redraw(event.cols, event.rows);
        else view.ended(event);
      }
    })().catch(() => view.ended(null));
    await view.untilText(/^DONE-42$/m);
    assert.ok(view.redraws >= 2, `a fresh screen replaced what it missed (${view.redraws} redraws)`);
    assert.ok(received < 16 * 1024 * 1024, `it was sent ${received} bytes, not the 64 MB it missed`);
    reader.attachment.write("exit\r");
    await view.until(() => view.exit !== null, "the exit reaching the once-stalled client too");
  });

  test("kill hangs the shell up; clients get the exit; bad requests are refused; at most MAX_TERMINALS", async () => {
    const terminal = await create();
    const { view } = await attach(daemon.client, terminal.id);
    await view.until(() => view.redraws === 1, "the first screen");
    const ended = await daemon.client.killTerminal(terminal.id);
    assert.deepEqual(ended, { id: terminal.id, exitCode: null, signal: "SIGHUP" });
    await view.until(() => view.exit !== null, "the exit");
    assert.equal(view.exit?.signal, "SIGHUP");
    assert.equal(pidAlive(terminal.pid), false);
    await assert.rejects(daemon.client.killTerminal(terminal.id), { code: "TERMINAL_NOT_FOUND" });
    await assert.rejects(daemon.client.getTerminal("../../etc"), { code: "TERMINAL_NOT_FOUND" });

    await assert.rejects(daemon.client.createTerminal({ cols: 0, rows: 24 }), { code: "INVALID_REQUEST", message: /'cols' must be an integer from 1 to 1000/ });
    await assert.rejects(daemon.client.createTerminal({ cols: 80, rows: 24, shell: "zsh" } as never), {
      code: "INVALID_REQUEST",
      message: /Unknown field 'shell'/,
    });
    await assert.rejects(daemon.client.createTerminal({ cols: 80, rows: 24, cwd: "missing" }), { code: "CWD_NOT_FOUND" });
    await assert.rejects(daemon.client.attachTerminal((await create()).id, { cols: 0, rows: 5 }), {
      code: "INVALID_REQUEST",
    });

    const made = (await daemon.client.listTerminals()).items.length;
    for (let i = made; i < MAX_TERMINALS; i++) await create();
    await assert.rejects(daemon.client.createTerminal({ cols: 80, rows: 24 }), { code: "TERMINAL_LIMIT_REACHED", status: 409 });
    const pids = (await daemon.client.listTerminals()).items.map((t) => t.pid);
    assert.equal(pids.length, MAX_TERMINALS);

    // A stopping supervisor hangs its terminals up (an interactive shell ignores SIGTERM).
    assert.equal(await daemon.stop(), 0);
    assert.deepEqual(
      pids.filter((pid) => pidAlive(pid)),
      [],
    );
  });
});
