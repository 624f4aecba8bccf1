// Exec through the API: JSON and streamed (SSE) modes, 100 MB in order, caps, timeouts,
// bad input, the project's env in every command, and a client that disconnects ending the
// command.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

describe("exec", () => {
  let s: TestServer;
  let box: any;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "ex" } });
    box = await runningSandbox(s, "ex");
  });
  after(async () => s?.close());

  test("argv and shell strings run with cwd, env and stdin; the exit code comes back", async () => {
    const argv = await exec(s, box.name, ["printf", "%s|", "a b", "c"]);
    assert.deepEqual([argv.exitCode, argv.stdout, argv.stderr, argv.truncated], [0, "a b|c|", "", false]);
    assert.equal(typeof argv.durationMs, "number");
    const shell = await exec(s, box.id, "mkdir -p sub && cd sub && pwd && echo $GREETING && cat && echo oops >&2 && exit 3", {
      env: { GREETING: "hello" },
      stdin: "from stdin\n",
    });
    assert.deepEqual([shell.exitCode, shell.stdout, shell.stderr], [3, "/workspace/sub\nhello\nfrom stdin\n", "oops\n"]);
    const inCwd = await exec(s, box.id, "pwd", { cwd: "sub" });
    assert.equal(inCwd.stdout, "/workspace/sub\n");
  });

  test("commands and background processes get the project's env; the request's own wins; a change reaches the next command", async () => {
    const patched = await api(s, "PATCH", "/api/v1/projects/ex", { body: { env: { API_KEY: "sk-one", MODE: "dev" } } });
    assert.equal(patched.status, 200);
    const first = await exec(s, box.id, 'echo "$API_KEY $MODE"', { env: { MODE: "test" } });
    assert.equal(first.stdout, "sk-one test\n");

    await api(s, "PATCH", "/api/v1/projects/ex", { body: { env: { API_KEY: "sk-two", MODE: null } } });
    const second = await exec(s, box.id, 'echo "$API_KEY"; printenv MODE || echo unset');
    assert.equal(second.stdout, "sk-two\nunset\n");

    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: 'echo "$API_KEY"' } });
    assert.equal(started.status, 201);
    const events = await collectSse(`${s.url}/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs`, {
      token: s.token,
      until: (seen) => seen.some((e) => e.event === "exit"),
    });
    const printed = events.filter((e) => e.event === "log").map((e) => Buffer.from(e.data.data, "base64").toString());
    assert.equal(printed.join(""), "sk-two\n");
    await api(s, "PATCH", "/api/v1/projects/ex", { body: { env: { API_KEY: null } } });

    // The largest environment a project may hold still runs (the kernel and the supervisor take it).
    const big = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`BIG${i}`, String(i).repeat(31 * 1024)]));
    assert.equal((await api(s, "PATCH", "/api/v1/projects/ex", { body: { env: big } })).status, 200);
    const sizes = await exec(s, box.id, "for i in 0 1 2 3 4 5 6 7; do printenv BIG$i | wc -c; done | sort -u");
    assert.equal(sizes.stdout.trim(), String(31 * 1024 + 1));
    await api(s, "PATCH", "/api/v1/projects/ex", { body: { env: Object.fromEntries(Object.keys(big).map((name) => [name, null])) } });
  });

  test("a command that runs too long is killed and says so", async () => {
    const res = await exec(s, box.id, ["sleep", "30"], { timeoutMs: 300 });
    assert.equal(res.timedOut, true);
    assert.equal(res.exitCode, null);
    assert.equal(res.signal, "SIGKILL");
  });

  test("JSON output over 1 MiB is truncated with a marker while the command runs to its end", async () => {
    const res = await exec(s, box.id, "head -c 3000000 /dev/zero | tr '\\0' x; echo done >&2");
    assert.equal(res.truncated, true);
    assert.ok(res.stdout.startsWith("x".repeat(1000)));
    assert.match(res.stdout, /output truncated, 1951424 more bytes not shown/);
    assert.equal(res.stderr, "done\n");
  });

  test("a missing executable is a 422 COMMAND_NOT_FOUND; bad bodies are 400", async () => {
    const missing = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: ["no-such-binary-xyz"] } });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.error.code, "COMMAND_NOT_FOUND");
    for (const body of [
      {},
      { command: [] },
      { command: "" },
      { command: "x", timeoutMs: -1 },
      { command: "x", shell: true },
      { command: "x", env: { "A-B": "1" } },
    ]) {
      const res = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
    }
    const nobody = await api(s, "POST", "/api/v1/sandboxes/sbx_nothere000000000/exec", { body: { command: "true" } });
    assert.equal(nobody.status, 404);
    assert.equal(nobody.body.error.code, "SANDBOX_NOT_FOUND");
  });

  test("100 MB of streamed output arrives complete and in order", async () => {
    // Each line carries its number, so order and completeness are checked line by line.
    const lines = 1_500_000;
    const response = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ command: ["sh", "-c", `seq -w 1 ${lines} | sed 's/$/ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/'`] }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const decoder = new TextDecoder();
    let sse = "";
    let partial = "";
    let expected = 1;
    let bytes = 0;
    let exit: any;
    const hash = createHash("sha256");
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      sse += decoder.decode(chunk, { stream: true });
      let cut = sse.indexOf("\n\n");
      while (cut !== -1) {
        const frame = sse.slice(0, cut);
        sse = sse.slice(cut + 2);
        cut = sse.indexOf("\n\n");
        const type = /^event: (.+)$/m.exec(frame)?.[1];
        const data = /^data: (.+)$/m.exec(frame)?.[1];
        if (!data) continue;
        const payload = JSON.parse(data);
        if (type === "stdout") {
          const raw = Buffer.from(payload.data, "base64");
          bytes += raw.length;
          hash.update(raw);
          const text = partial + raw.toString("latin1");
          const parts = text.split("\n");
          partial = parts.pop() ?? "";
          for (const line of parts) {
            assert.equal(Number(line.slice(0, 7)), expected, `line ${expected} in order`);
            expected++;
          }
        } else if (type === "exit") exit = payload;
      }
    }
    assert.equal(partial, "");
    assert.equal(expected - 1, lines);
    assert.equal(bytes, lines * 71, "7 digits, a space, 62 letters and a newline per line");
    assert.ok(bytes >= 100_000_000);
    assert.equal(exit?.exitCode, 0);
  });

  test("a client that disconnects ends the command: no process is left behind", async () => {
    const controller = new AbortController();
    const response = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ command: ["sh", "-c", "echo ready; exec sleep 4242"] }),
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    while (!seen.includes("event: stdout")) seen += new TextDecoder().decode((await reader.read()).value);
    const running = await exec(s, box.id, "pgrep -f 'sleep 424[2]' || true");
    assert.notEqual(running.stdout.trim(), "", "the command runs");
    controller.abort();
    const deadline = Date.now() + 15_000;
    let left = running.stdout.trim();
    while (left && Date.now() < deadline) {
      left = (await exec(s, box.id, "pgrep -f 'sleep 424[2]' || true")).stdout.trim();
    }
    assert.equal(left, "", "the command was killed when the client went away");
  });
});
