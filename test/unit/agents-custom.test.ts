// The custom agent: any command, its stdout lines as messages, its exit code as the outcome.
// The parser is fed what a real shell printed, so the test covers what users will see.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import type { AgentLaunchInput, AgentOutput } from "../../src/domain/agents/adapter.ts";
import { customAdapter } from "../../src/domain/agents/custom.ts";

const input: AgentLaunchInput = {
  prompt: "first line\nsecond line",
  sessionId: null,
  model: null,
  permissionMode: "bypass",
  maxTurns: null,
  paths: { installDir: "", executable: "", node: "/opt/outpost/bin/node", workspace: "/workspace", home: "/home/outpost" },
  command: 'echo "got: $OUTPOST_PROMPT"; echo; wc -l; exit 3',
};

/** Runs the launch the way the run service does (env added, stdin lines, closed) and parses stdout. */
function run(launch: ReturnType<typeof customAdapter.launch>): AgentOutput[] {
  const [program, ...args] = launch.command;
  const result = spawnSync(program!, args, { env: { ...process.env, ...launch.env }, input: launch.stdin.map((l) => `${l}\n`).join(""), encoding: "utf8" });
  const parser = customAdapter.parser();
  const lines = result.stdout.split("\n");
  return [...lines.flatMap((line) => parser.line(line)), ...parser.end({ exitCode: result.status, signal: result.signal })];
}

test("the command gets the prompt in OUTPOST_PROMPT and on stdin; each non-empty line is a message", () => {
  const launch = customAdapter.launch(input);
  assert.deepEqual(launch.command, ["/bin/sh", "-c", input.command]);
  assert.equal(launch.closeStdin, true);
  assert.deepEqual(run(launch), [
    { kind: "event", event: { type: "message", text: "got: first line" } },
    { kind: "event", event: { type: "message", text: "second line" } },
    { kind: "event", event: { type: "message", text: "2" } },
    { kind: "turn_end", outcome: "failed", reason: "exited with code 3" },
  ]);
});

test("exit code 0 ends the turn succeeded", () => {
  assert.deepEqual(run(customAdapter.launch({ ...input, command: "printf 'done\\r\\n'" })), [
    { kind: "event", event: { type: "message", text: "done" } },
    { kind: "turn_end", outcome: "succeeded" },
  ]);
});

test("a command killed by a signal says so", () => {
  assert.deepEqual(customAdapter.parser().end({ exitCode: null, signal: "SIGTERM" }), [
    { kind: "turn_end", outcome: "failed", reason: "was killed by SIGTERM" },
  ]);
});

test("without a command there is nothing to launch", () => {
  assert.throws(() => customAdapter.launch({ ...input, command: undefined }), /needs a command/);
});
