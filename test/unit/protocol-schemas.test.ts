// The supervisor protocol's schemas: requests the daemon must refuse (with the field named),
// and answers the control plane must refuse or bound, since the supervisor runs inside the
// sandbox and whatever it sends is untrusted.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asErrorBody, asExecEvent, asHealth, asLogLine, asProcess, asProcessList } from "../../src/supervisor/client-validate.ts";
import { parseExecRequest, parseSignalRequest, parseStartProcessRequest } from "../../src/supervisor/daemon/validate.ts";
import {
  MAX_ARG_CHARS,
  MAX_ARGV_ENTRIES,
  MAX_COMMAND_CHARS,
  MAX_CWD_CHARS,
  MAX_DURATION_MS,
  MAX_ENV_NAME_CHARS,
  MAX_ENV_VALUE_CHARS,
  MAX_ENV_VARS,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_OUTPUT_DATA_CHARS,
  MAX_PID,
  MAX_PROCESS_LIST_ITEMS,
  MAX_STDIN_CHARS,
} from "../../src/supervisor/protocol-schemas.ts";

/** The INVALID_REQUEST message a request gets, or "accepted". */
function refusal(parse: (body: unknown) => unknown, body: unknown): string {
  try {
    parse(body);
    return "accepted";
  } catch (error) {
    assert.equal((error as { code?: string }).code, "INVALID_REQUEST");
    return (error as Error).message;
  }
}
const execRefusal = (body: unknown) => refusal(parseExecRequest, body);

/** An object nested `depth` levels deep, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = "x";
  for (let i = 0; i < depth; i++) value = { a: value, b: [value] };
  return value;
}

describe("requests: bounds, each refusal naming the field", () => {
  test("values at the bounds are accepted", () => {
    const env = Object.fromEntries(Array.from({ length: MAX_ENV_VARS }, (_, i) => [`V${i}`, "x"]));
    const ok = [
      { command: "x".repeat(MAX_COMMAND_CHARS) },
      { command: Array(MAX_ARGV_ENTRIES).fill("a") },
      { command: ["echo", "x".repeat(MAX_ARG_CHARS)] },
      { command: "ls", cwd: "/".repeat(MAX_CWD_CHARS), env, timeoutMs: 2 ** 31 - 1 },
      { command: "ls", env: { ["N".repeat(MAX_ENV_NAME_CHARS)]: "v".repeat(MAX_ENV_VALUE_CHARS) } },
      { command: "ls", stdin: "s".repeat(MAX_STDIN_CHARS), timeoutMs: 1 },
    ];
    for (const body of ok) assert.equal(execRefusal(body), "accepted");
  });

  test("one past each bound is refused, naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [{ command: "x".repeat(MAX_COMMAND_CHARS + 1) }, /^'command' must be at most 262144 characters long\.$/],
      [{ command: Array(MAX_ARGV_ENTRIES + 1).fill("a") }, /^'command' may have at most 4096 entries\.$/],
      [{ command: ["echo", "x".repeat(MAX_ARG_CHARS + 1)] }, /^'command\[1\]' must be at most 131072 characters long\.$/],
      [{ command: "ls", cwd: "/".repeat(MAX_CWD_CHARS + 1) }, /^'cwd' must be 1 to 4096 characters long\.$/],
      [
        { command: "ls", env: Object.fromEntries(Array.from({ length: MAX_ENV_VARS + 1 }, (_, i) => [`V${i}`, "x"])) },
        /^'env' may have at most 1000 variables\.$/,
      ],
      [{ command: "ls", env: { ["N".repeat(MAX_ENV_NAME_CHARS + 1)]: "v" } }, /^'env' has an invalid variable name "N{63}…": names are 1 to 1024/],
      [{ command: "ls", env: { A: "v".repeat(MAX_ENV_VALUE_CHARS + 1) } }, /^'env\.A' must be at most 262144 characters long\.$/],
      [{ command: "ls", stdin: "s".repeat(MAX_STDIN_CHARS + 1) }, /^'stdin' must be at most 1048576 characters long\.$/],
      [{ command: "ls", timeoutMs: 0 }, /^'timeoutMs' must be an integer from 1 to 2147483647\.$/],
      [{ command: "ls", timeoutMs: 2 ** 31 }, /^'timeoutMs'/],
      [{ command: "ls", timeoutMs: 1e20 }, /^'timeoutMs'/],
      [{ command: "ls", timeoutMs: "5" }, /^'timeoutMs'/],
    ];
    for (const [body, message] of cases) assert.match(execRefusal(body), message);
    assert.match(refusal(parseStartProcessRequest, { command: "ls", name: "n".repeat(101) }), /^'name' must be 1 to 100 characters long\.$/);
  });

  test("the rules of before stay: NUL, empty commands, env names, signals", () => {
    const cases: [unknown, RegExp][] = [
      [{ command: "ls\0" }, /^'command' must not contain NUL/],
      [{ command: ["ls", "a\0"] }, /^'command\[1\]' must not contain NUL/],
      [{ command: "ls", cwd: "/a\0" }, /^'cwd' must not contain NUL/],
      [{ command: "ls", env: { A: "\0" } }, /^'env\.A' must not contain NUL/],
      [{ command: "ls", env: { "A\0": "x" } }, /invalid variable name/],
      [{ command: "ls", env: { "": "x" } }, /invalid variable name ""/],
      [{ command: " \n" }, /^'command' must not be empty\.$/],
      [{ command: ["", "x"] }, /^'command\[0\]' \(the program\) must not be empty\.$/],
      [{ command: ["ls", 1] }, /^'command\[1\]' must be a string\.$/],
      [{ command: { 0: "ls" } }, /^'command' must be a string \(run by sh -c\) or an array of strings \(argv\)\.$/],
    ];
    for (const [body, message] of cases) assert.match(execRefusal(body), message, JSON.stringify(body));
    assert.equal(refusal(parseSignalRequest, { signal: "SIGTERM" }), "accepted");
    for (const signal of ["SIGSTOP", "sigterm", 15, null]) assert.match(refusal(parseSignalRequest, { signal }), /^'signal' must be one of SIGTERM, /);
  });

  test("unknown fields are refused, naming them and what is allowed", () => {
    assert.equal(execRefusal({ command: "ls", timeout: 5 }), "Unknown field 'timeout' (allowed: command, cwd, env, timeoutMs, stdin, user).");
    assert.equal(
      refusal(parseStartProcessRequest, { command: "ls", timeoutMs: 5 }),
      "Unknown field 'timeoutMs' (allowed: command, cwd, env, name, user, stdin, journal).",
    );
    assert.equal(refusal(parseSignalRequest, { signal: "SIGTERM", pid: 1, force: true }), "Unknown fields 'pid', 'force' (allowed: signal).");
    // A flood of them, or a huge one, still makes a short message.
    const flood = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`.repeat(1000), 1]));
    const message = execRefusal({ command: "ls", ...flood });
    assert.match(message, /^Unknown fields 'f0[f0]+…', 'f1[f1]+…', 'f2[f2]+…' and 497 more \(allowed: /);
    assert.ok(message.length < 400, message);
  });

  test("hostile shapes: __proto__ keys, deep nesting, not an object", () => {
    // JSON.parse makes "__proto__" an own key; a plain object would lose it silently.
    assert.match(execRefusal(JSON.parse('{"command":"ls","env":{"__proto__":"x"}}')), /^'env' cannot carry a variable named "__proto__"\.$/);
    assert.equal(
      execRefusal(JSON.parse('{"command":"ls","__proto__":{"timeoutMs":1}}')),
      "Unknown field '__proto__' (allowed: command, cwd, env, timeoutMs, stdin, user).",
    );
    assert.match(execRefusal({ command: nested(100_000) }), /^'command' must be a string/);
    assert.match(execRefusal({ command: "ls", env: { A: nested(100_000) } }), /^'env\.A' must be a string\.$/);
    for (const body of [null, [], "ls", 42, undefined]) assert.equal(execRefusal(body), "The body must be a JSON object.");
  });

  test("an accepted request has only the fields that were sent", () => {
    assert.deepEqual(parseExecRequest({ command: ["ls"] }), { command: ["ls"] });
    assert.deepEqual(Object.keys(parseStartProcessRequest({ command: "ls", name: "web" })), ["command", "name"]);
  });
});

// ---- answers

const iso = "2024-05-01T10:00:00.000Z";
const proc = {
  id: "prc_k3j9x0q2m1ab",
  name: "dev",
  command: "npm run dev",
  cwd: "/workspace",
  pid: 42,
  status: "exited",
  exitCode: 0,
  signal: null,
  startedAt: iso,
  endedAt: iso,
};
const health = { protocol: 1, supervisorVersion: "0.1.0", pid: 7, uptimeMs: 12 };
const exit = { type: "exit", exitCode: null, signal: "SIGKILL", timedOut: true, durationMs: 12.5 };
const record = { seq: 1, stream: "stdout", data: "aGkK", ts: iso };

describe("answers: good ones pass, unknown fields are dropped", () => {
  test("each kind of answer passes as it is", () => {
    assert.deepEqual(asHealth(health), health);
    assert.deepEqual(asProcess(proc), proc);
    const { name: _, ...unnamed } = proc;
    const running = { ...unnamed, command: ["npm", "run", "dev"], status: "running", exitCode: null, endedAt: null };
    assert.deepEqual(asProcess(running), running);
    assert.deepEqual(asProcessList({ items: [proc, proc] }), { items: [proc, proc] });
    for (const event of [{ type: "started", pid: 1 }, { type: "stdout", data: "" }, { type: "stderr", data: "AAECAw==" }, exit])
      assert.deepEqual(asExecEvent(event), event);
    for (const line of [record, { type: "end" }, { type: "exit", exitCode: 3, signal: null, endedAt: iso }]) assert.deepEqual(asLogLine(line), line);
    assert.deepEqual(asErrorBody({ error: { code: "PROCESS_NOT_FOUND", message: "No process prc_x.\nTry again\t(later)." } }), {
      code: "PROCESS_NOT_FOUND",
      message: "No process prc_x.\nTry again\t(later).",
    });
  });

  test("unknown fields are stripped, and the result is a fresh object", () => {
    const sent = { ...proc, color: "red", nested: nested(100_000) };
    const parsed = asProcess(sent);
    assert.deepEqual(parsed, proc);
    assert.notEqual(parsed, sent);
    assert.deepEqual(asHealth({ ...health, extra: "x".repeat(1e6) }), health);
    assert.deepEqual(asExecEvent({ type: "stdout", data: "aGk=", stream: 9 }), { type: "stdout", data: "aGk=" });
    assert.deepEqual(asLogLine({ ...record, extra: 1 }), record);
    assert.deepEqual(asLogLine({ type: "end", extra: 1 }), { type: "end" });
    assert.deepEqual(asErrorBody({ error: { code: "X", message: "m", stack: "at …" }, debug: true }), { code: "X", message: "m" });
  });

  test("a __proto__ key from JSON is dropped, and pollutes nothing", () => {
    const parsed = asProcess(JSON.parse(JSON.stringify(proc).replace("{", '{"__proto__":{"polluted":true},')));
    assert.ok(parsed);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    assert.equal((parsed as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test("a log line with an unknown type is refused, not taken for a record", () => {
    assert.equal(asLogLine({ ...record, type: "progress" }), null);
    assert.equal(asLogLine({ ...record, type: "exit" }), null);
    assert.equal(asExecEvent({ type: "progress", data: "aGk=" }), null);
  });
});

describe("answers: hostile values are refused", () => {
  const refused = (check: (value: unknown) => unknown, base: object, changes: Record<string, unknown>[]) => {
    for (const change of changes) {
      // Labelled by hand: some values are too big or too deep for JSON.stringify.
      const label = Object.entries(change).map(
        ([key, value]) => `${key}: ${typeof value === "object" && value !== null ? "an object" : String(value).slice(0, 60)}`,
      );
      assert.equal(check({ ...base, ...change }), null, label.join());
    }
  };

  test("health: protocol, version, pid and uptime are bounded", () => {
    refused(asHealth, health, [
      { protocol: 0 },
      { protocol: 1001 },
      { protocol: 1.5 },
      { protocol: "1" },
      { supervisorVersion: "v".repeat(65) },
      { supervisorVersion: "" },
      { supervisorVersion: "1.0 (evil)" },
      { supervisorVersion: "1.0\u001b[31m" },
      { pid: 0 },
      { pid: -1 },
      { pid: MAX_PID + 1 },
      { uptimeMs: -1 },
      { uptimeMs: MAX_DURATION_MS + 1 },
      { uptimeMs: Number.NaN },
      { pid: undefined },
    ]);
    assert.ok(asHealth({ ...health, pid: MAX_PID, uptimeMs: 0, supervisorVersion: "v".repeat(64) }));
  });

  test("process: ids, numbers, signals and dates are checked", () => {
    refused(asProcess, proc, [
      { id: "prc_K3J9X0Q2M1AB" },
      { id: "prc_k3j9x0q2m1ab/../x" },
      { id: 5 },
      { name: "" },
      { name: "n".repeat(101) },
      { command: "" },
      { command: [] },
      { command: "x".repeat(MAX_COMMAND_CHARS + 1) },
      { command: Array(MAX_ARGV_ENTRIES + 1).fill("a") },
      { command: nested(100_000) },
      { cwd: "/".repeat(MAX_CWD_CHARS + 1) },
      { cwd: "" },
      { pid: -1 },
      { pid: 1e20 },
      { status: "zombie" },
      { exitCode: 1e20 },
      { exitCode: 256 },
      { exitCode: -1 },
      { exitCode: 0.5 },
      { signal: "KILL" },
      { signal: "sigkill" },
      { signal: "SIGABCDEFGHIJKLM" },
      { signal: "SIGKILL\n" },
      { startedAt: "yesterday" },
      { startedAt: "2024-05-01" },
      { startedAt: "2024-02-30T10:00:00.000Z" },
      { startedAt: "2024-05-01T10:00:00.000+02:00" },
      { startedAt: `2024-05-01T10:00:00.${"0".repeat(20)}Z` },
      { startedAt: 1714557600000 },
      { endedAt: "now" },
    ]);
    assert.ok(asProcess({ ...proc, signal: "SIGRTMIN+3", exitCode: 255 }));
  });

  test("process list: at most MAX_PROCESS_LIST_ITEMS, each item checked", () => {
    assert.equal(asProcessList({ items: Array(MAX_PROCESS_LIST_ITEMS + 1).fill(proc) }), null);
    assert.equal(asProcessList({ items: [proc, { ...proc, pid: 0 }] }), null);
    assert.equal(asProcessList({ items: "none" }), null);
    assert.equal(asProcessList([proc]), null);
    assert.equal(asProcessList({ items: Array(MAX_PROCESS_LIST_ITEMS).fill(proc) })?.items.length, MAX_PROCESS_LIST_ITEMS);
  });

  test("exec events: pids, base64 data, exit numbers", () => {
    refused(asExecEvent, { type: "started" }, [{ pid: 0 }, { pid: MAX_PID + 1 }, { pid: "1" }]);
    refused(asExecEvent, { type: "stdout" }, [
      { data: "aGk" },
      { data: "aG k" },
      { data: "aGk=\n" },
      { data: "a-_k" },
      { data: "aGk==aGk" },
      { data: "éééé" },
      { data: "A".repeat(MAX_OUTPUT_DATA_CHARS + 4) },
      { data: null },
    ]);
    assert.ok(asExecEvent({ type: "stdout", data: "A".repeat(MAX_OUTPUT_DATA_CHARS) }));
    refused(asExecEvent, exit, [
      { exitCode: 1e20 },
      { exitCode: 256 },
      { signal: "kill" },
      { timedOut: "false" },
      { timedOut: undefined },
      { durationMs: Number.NaN },
      { durationMs: Number.POSITIVE_INFINITY },
      { durationMs: -1 },
      { durationMs: MAX_DURATION_MS + 1 },
      { durationMs: "12" },
    ]);
  });

  test("log lines: seq, stream, data and dates are checked", () => {
    refused(asLogLine, record, [
      { seq: 0 },
      { seq: 2 ** 53 },
      { seq: 1.5 },
      { stream: "stdin" },
      { data: "%%%%" },
      { ts: "yesterday" },
      { ts: "2024-05-01T10:00:00.000Z ".repeat(2) },
    ]);
    refused(asLogLine, { type: "exit", exitCode: 0, signal: null, endedAt: iso }, [{ exitCode: 1e20 }, { endedAt: "later" }, { signal: "SIGKILL; rm -rf /" }]);
  });
});

describe("error bodies are bounded, not refused", () => {
  test("a 10 MB message is cut to MAX_ERROR_MESSAGE_CHARS with a trailing …", () => {
    const error = asErrorBody({ error: { code: "INTERNAL", message: "x".repeat(10 * 1024 * 1024) } });
    assert.equal(error?.message.length, MAX_ERROR_MESSAGE_CHARS);
    assert.ok(error?.message.endsWith("x…"));
    const exact = "y".repeat(MAX_ERROR_MESSAGE_CHARS);
    assert.equal(asErrorBody({ error: { code: "INTERNAL", message: exact } })?.message, exact);
  });

  test("control characters but \\n and \\t are replaced, and so are bidi overrides and lone surrogates", () => {
    const message = "a\u0000b\u001b[2Jc\rd\u007fe\u0085f\u202eg\ud800h\n\ti😀";
    assert.equal(asErrorBody({ error: { code: "X", message } })?.message, "a\ufffdb\ufffd[2Jc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\n\ti😀");
    // The cut does not leave half a surrogate pair behind.
    const cut = asErrorBody({ error: { code: "X", message: `${"x".repeat(MAX_ERROR_MESSAGE_CHARS - 2)}😀😀` } })?.message;
    assert.equal(cut, `${"x".repeat(MAX_ERROR_MESSAGE_CHARS - 2)}\ufffd…`);
  });

  test("a code that is not UPPER_SNAKE (≤ 64), or a body of another shape, is refused", () => {
    for (const code of ["not_found", "", "_X", "1X", `X${"Y".repeat(64)}`, "X Y", 404, null]) {
      assert.equal(asErrorBody({ error: { code, message: "m" } }), null, String(code));
    }
    for (const body of [null, "error", { error: "X" }, { error: { code: "X" } }, { error: { code: "X", message: 5 } }, { code: "X", message: "m" }]) {
      assert.equal(asErrorBody(body), null, JSON.stringify(body));
    }
    assert.deepEqual(asErrorBody({ error: { code: `X${"Y".repeat(63)}`, message: "" } }), { code: `X${"Y".repeat(63)}`, message: "" });
  });
});
