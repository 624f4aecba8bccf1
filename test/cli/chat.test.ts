// `outpost chat`, `runs`, `run`, `approve` and the agent flags of `project update`, as a user
// runs them: the built CLI against a real control plane whose sandbox runs the real Claude
// Code, which talks to a stand-in Messages API (test/helpers/anthropic-agent-stub.ts). Each
// test queues the model's turns, so it decides what the agent says and which tools it calls.
// Run `npm run build` first (the CLI is dist/outpost.js).
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AnthropicAgentStub, gate, startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { childEnv, exitOf, OutputWatcher, runCli, spawnOutpost, stopProcess } from "./harness.ts";

const STACK_FRAME = /\n\s+at .+:\d+:\d+/;
/** Claude Code is installed once for every test file that runs it (the lead's shared folder). */
const AGENTS_DIR = process.env.OUTPOST_TEST_AGENTS_DIR ?? join(tmpdir(), "outpost-test-agents");
/** The first run installs Claude Code with npm; later ones start in seconds. */
const RUN_TIMEOUT_MS = 300_000;
const FINAL_LINE = /^✓ succeeded · [\d,]+ in \/ [\d,]+ out tokens/m;

let s: TestServer;
let stub: AnthropicAgentStub;
let sandbox: { id: string; name: string };
let env: Record<string, string>;

const outpost = (args: string[], timeoutMs = RUN_TIMEOUT_MS) => runCli(args, env, timeoutMs);

before(async () => {
  stub = await startAnthropicAgentStub();
  s = await startTestServer("embedded", { anthropicUpstream: stub.url, agentsDir: AGENTS_DIR });
  env = { OUTPOST_URL: s.url, OUTPOST_TOKEN: s.token };
  assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "chat" } })).status, 201);
  assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "empty" } })).status, 201);
  const secret = await api(s, "POST", "/api/v1/projects/chat/secrets", {
    body: { name: "ANTHROPIC_API_KEY", value: "sk-ant-test-0123456789", kind: "credential" },
  });
  assert.ok(secret.status === 200 || secret.status === 201, JSON.stringify(secret.body));
  sandbox = await runningSandbox(s, "chat");
});

after(async () => {
  await s?.close();
  await stub?.close();
});

describe("outpost chat", () => {
  test("streams the agent's text, a line per tool call and its result, and the outcome; exit 0", async () => {
    stub.queue(
      { blocks: [{ text: "I will write the file." }, { tool: "Write", input: { file_path: "/workspace/x.txt", content: "hello\n" } }] },
      { blocks: [{ text: "Wrote x.txt for you." }] },
    );
    const result = await outpost(["chat", "chat", "write x.txt"]);
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    const lines = result.stdout.split("\n");
    assert.ok(lines.includes("I will write the file."), result.stdout);
    const tool = lines.indexOf("→ Write /workspace/x.txt");
    assert.ok(tool >= 0, result.stdout);
    assert.match(lines[tool + 1] ?? "", /^ {2}✓ \S/, "the result comes right below its call");
    assert.ok(lines.includes("± /workspace/x.txt"), result.stdout);
    assert.ok(lines.includes("Wrote x.txt for you."), result.stdout);
    assert.equal(result.stdout.split("Wrote x.txt for you.").length, 2, "the streamed text is not repeated by the full message");
    assert.match(result.stdout, FINAL_LINE);
    assert.match(result.stderr, /^new conversation cnv_\w+ with claude-code in chat-\w+$/m);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("a second chat is a follow-up in the same conversation; --new starts another", async () => {
    stub.queue({ blocks: [{ text: "Still here." }] });
    const followUp = await outpost(["chat", sandbox.name, "are you there?"]);
    assert.equal(followUp.code, 0, followUp.stderr);
    assert.match(followUp.stdout, /^Still here\.$/m);
    assert.equal(followUp.stderr, "", "no new conversation");
    let conversations = (await api(s, "GET", `/api/v1/sandboxes/${sandbox.id}/conversations`)).body.items;
    assert.equal(conversations.length, 1);

    stub.queue({ blocks: [{ text: "Fresh start." }] });
    const fresh = await outpost(["chat", "chat", "--new", "hello"]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stderr, /new conversation/);
    conversations = (await api(s, "GET", `/api/v1/sandboxes/${sandbox.id}/conversations`)).body.items;
    assert.equal(conversations.length, 2);
  });

  test("--follow shows the conversation's last run again after the fact, from its start", async () => {
    const result = await outpost(["chat", "chat", "--follow"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Fresh start\.$/m);
    assert.match(result.stdout, FINAL_LINE);
    const json = await outpost(["chat", "chat", "--follow", "--json"]);
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; status?: string; runSeq: number });
    assert.deepEqual(
      events.map((e) => e.runSeq),
      events.map((_, i) => i + 1),
      "every event once, in order",
    );
    assert.equal(events.at(-1)?.type, "status");
    assert.equal(events.at(-1)?.status, "succeeded");
  });

  test("a run the model API fails ends with exit code 1 and says why", async () => {
    stub.queue({ status: 400, message: "prompt is too long" });
    const result = await outpost(["chat", "chat", "--new", "this will fail"]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^✗ failed/m);
  });

  test("Ctrl-C cancels the run and waits for it to end; exit 130", async () => {
    const before = stub.requests.length;
    stub.queue({ hang: true });
    const child = spawnOutpost(["chat", "chat", "--new", "take your time"], childEnv(env));
    const stdout = new OutputWatcher(child.stdout);
    const stderr = new OutputWatcher(child.stderr);
    try {
      // The agent has asked the model: the run is under way.
      await stub.waitForRequest(before + 1);
      child.kill("SIGINT");
      await stderr.waitFor(/cancelling run_\w+/, { exited: exitOf(child), timeoutMs: RUN_TIMEOUT_MS });
      const { code } = await exitOf(child);
      assert.equal(code, 130, `stdout:\n${stdout.text}\nstderr:\n${stderr.text}`);
      assert.match(await stdout.drained(), /^■ cancelled/m);
    } finally {
      await stopProcess(child, "SIGKILL").catch(() => {});
    }
  });

  test("a dropped connection is resumed: nothing missed, nothing shown twice", async () => {
    const proxy = await startCuttingProxy(s.url);
    const release = gate();
    stub.queue(
      { blocks: [{ text: "Before the cut." }, { tool: "Bash", input: { command: "echo one" } }] },
      // biome-ignore lint/suspicious/noThenProperty: the stub's gated turn names what follows the gate `then`
      { gate: release.promise, next: { blocks: [{ text: "After the cut." }] } },
    );
    const child = spawnOutpost(["chat", "chat", "--new", "survive a cut"], childEnv({ ...env, OUTPOST_URL: proxy.url }));
    const stdout = new OutputWatcher(child.stdout);
    const exited = exitOf(child);
    try {
      await stdout.waitFor(/^ {2}✓ one$/m, { exited, timeoutMs: RUN_TIMEOUT_MS, what: "the tool's result" });
      proxy.cutAll();
      release.open();
      const { code } = await exited;
      assert.equal(code, 0, stdout.text);
      const text = await stdout.drained();
      assert.equal(text.split("Before the cut.").length, 2, text);
      assert.equal(text.split("→ Bash echo one").length, 2, text);
      assert.match(text, /^After the cut\.$/m);
      assert.match(text, FINAL_LINE);
      assert.ok(proxy.resumed(), "the CLI came back with Last-Event-ID");
    } finally {
      release.open();
      await stopProcess(child, "SIGKILL").catch(() => {});
      await proxy.close();
    }
  });

  test("bad input: an unknown agent, a project without a sandbox, an unknown name", async () => {
    const agent = await outpost(["chat", "chat", "--agent", "clippy", "hi"]);
    assert.equal(agent.code, 2);
    assert.match(agent.stderr, /unknown agent 'clippy': use one of claude-code, codex, gemini, opencode, custom/);
    assert.equal(agent.stdout, "");

    const empty = await outpost(["chat", "empty", "hi"]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /project empty has no sandbox/);
    assert.match(empty.stderr, /hint: create one: outpost sandbox create empty/);

    const unknown = await outpost(["chat", "nowhere", "hi"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no sandbox or project named 'nowhere'/);

    const noPrompt = await outpost(["chat", "chat"]);
    assert.equal(noPrompt.code, 2);
    assert.match(noPrompt.stderr, /needs a sandbox or project and a prompt/);
    for (const r of [agent, empty, unknown, noPrompt]) assert.doesNotMatch(r.stderr, STACK_FRAME);
  });
});

describe("outpost runs / run", () => {
  test("runs lists the project's runs, newest first, with status, tokens and the prompt", async () => {
    const result = await outpost(["runs", "chat"], 30_000);
    assert.equal(result.code, 0, result.stderr);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^ID\s+STATUS\s+AGENT\s+STARTED\s+DURATION\s+TOKENS\s+COST\s+PROMPT$/);
    assert.match(rows.find((r) => r.includes("write x.txt")) ?? "", /^run_\w+\s+succeeded\s+claude-code\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+s\s+\d+\/\d+\s/);
    assert.match(rows.find((r) => r.includes("take your time")) ?? "", /\scancelled\s/);
    assert.match(rows.find((r) => r.includes("this will fail")) ?? "", /\sfailed\s/);
    const failedOnly = await outpost(["runs", "chat", "--status", "failed"], 30_000);
    assert.equal(failedOnly.stdout.trimEnd().split("\n").length, 2, failedOnly.stdout);
  });

  test("run get, run events and run raw show one run", async () => {
    const list = (await api(s, "GET", "/api/v1/runs?project=chat&status=succeeded")).body.items as { id: string; prompt: string }[];
    const run = list.find((r) => r.prompt === "write x.txt");
    assert.ok(run);
    const got = await outpost(["run", "get", run.id], 30_000);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^status:\s+succeeded$/m);
    assert.match(got.stdout, /^prompt:\s+write x\.txt$/m);

    const events = await outpost(["run", "events", run.id], 30_000);
    assert.equal(events.code, 0, events.stderr);
    const types = events.stdout
      .trimEnd()
      .split("\n")
      .map((line) => (JSON.parse(line) as { type: string }).type);
    assert.ok(types.includes("tool_call") && types.includes("file_change"), types.join(" "));
    assert.equal(types.at(-1), "status");

    const raw = await outpost(["run", "raw", run.id], 30_000);
    assert.equal(raw.code, 0, raw.stderr);
    const first = JSON.parse(raw.stdout.split("\n")[0] ?? "") as { type: string };
    assert.equal(typeof first.type, "string", "the agent's own stream-json lines");
  });

  test("run get with an id that is no run exits 1 naming the problem", async () => {
    const result = await outpost(["run", "get", "run_doesnotexist"], 30_000);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /run_doesnotexist|RUN_NOT_FOUND/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });
});

describe("approvals from the CLI", () => {
  test("project update sets approve mode; chat waits at the approval line until `outpost approve` allows it", async () => {
    const updated = await outpost(
      ["project", "update", "chat", "--permission-mode", "approve", "--approval-rule", "Bash(*)", "--stall-seconds", "600"],
      30_000,
    );
    assert.equal(updated.code, 0, updated.stderr);
    const agent = (await api(s, "GET", "/api/v1/projects/chat")).body.agent;
    assert.equal(agent.permissionMode, "approve");
    assert.deepEqual(agent.approvalRules, ["Bash(*)"]);
    assert.equal(agent.limits.stallTimeoutSec, 600);

    const badRule = await outpost(["project", "update", "chat", "--approval-rule", "Bash("], 30_000);
    assert.equal(badRule.code, 2);
    assert.match(badRule.stderr, /--approval-rule 'Bash\(' is not Tool or Tool\(pattern\)/);

    // Not a bare `echo`: Claude Code runs read-only commands without asking.
    stub.queue({ blocks: [{ tool: "Bash", input: { command: "touch /workspace/approved && echo approved-ok" } }] }, { blocks: [{ text: "It ran." }] });
    const child = spawnOutpost(["chat", "chat", "--new", "run the command"], childEnv(env));
    const stdout = new OutputWatcher(child.stdout);
    const exited = exitOf(child);
    try {
      const shown = await stdout.waitFor(
        /^\? approval needed: Bash touch \/workspace\/approved && echo approved-ok — answer with: outpost approve (run_\w+) (apr_\w+) allow\|deny$/m,
        {
          exited,
          timeoutMs: RUN_TIMEOUT_MS,
          what: "the approval line",
        },
      );
      const [, rid, aid] = /outpost approve (run_\w+) (apr_\w+)/.exec(shown) ?? [];
      const answer = await outpost(["approve", rid ?? "", aid ?? "", "allow"], 30_000);
      assert.equal(answer.code, 0, answer.stderr);
      assert.equal(answer.stdout, `allowed: Bash touch /workspace/approved && echo approved-ok (${aid})\n`);

      const { code } = await exited;
      const text = await stdout.drained();
      assert.equal(code, 0, text);
      assert.match(text, /^ {2}allowed$/m);
      assert.match(text, /^ {2}✓ approved-ok$/m);
      assert.match(text, /^It ran\.$/m);
      assert.match(text, FINAL_LINE);

      const again = await outpost(["approve", rid ?? "", aid ?? "", "maybe"], 30_000);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /allow or deny, got 'maybe'/);
    } finally {
      await stopProcess(child, "SIGKILL").catch(() => {});
    }
  });
});

/** A TCP proxy to `target` whose connections the test can cut, as a flaky network would. */
async function startCuttingProxy(target: string): Promise<{ url: string; cutAll(): void; resumed(): boolean; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const { connect } = await import("node:net");
  const open = new Set<Socket>();
  let resumed = false;
  const server: Server = createServer((client) => {
    client.on("data", (chunk: Buffer) => {
      if (/^last-event-id: \d+\r$/im.test(chunk.toString("latin1"))) resumed = true;
    });
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cutAll: () => {
      for (const socket of open) socket.destroy();
    },
    resumed: () => resumed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
