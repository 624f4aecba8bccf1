// `outpost project update --egress/--allow/--deny/--remove-rule/--token-budget`, `outpost
// secret`, `outpost egress` and `outpost usage` as a user runs them: the built binary against
// a real `outpost serve`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import {
  apiJson,
  type CliResult,
  childEnv,
  exitOf,
  OUTPOST_BIN,
  type OutpostServer,
  OutputWatcher,
  REPO_ROOT,
  runCli,
  STACK_FRAME,
  spawnOutpost,
  startOutpost,
  stopProcess,
} from "./harness.ts";

interface Rule {
  host: string;
  port?: number;
}

interface Project {
  name: string;
  env: { name: string; value?: string }[];
  egress: { level: string; allow: Rule[]; deny: Rule[] };
  tokenBudget: number | null;
}

let server: OutpostServer;
const outpost = (...args: string[]) => runCli(args, server.cliEnv);

/** `outpost ...args` with `input` on its stdin (how a value stays out of the shell's history). */
async function outpostWithInput(input: string, ...args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [OUTPOST_BIN, ...args], { cwd: REPO_ROOT, env: childEnv(server.cliEnv), stdio: ["pipe", "pipe", "pipe"] });
  const stdout = new OutputWatcher(child.stdout);
  const stderr = new OutputWatcher(child.stderr);
  child.stdin.end(input);
  const { code, signal } = await exitOf(child);
  return { code, signal, stdout: await stdout.drained(), stderr: await stderr.drained() };
}

const egressOf = async (project: string) => (await apiJson<Project>(server, "GET", `/api/v1/projects/${project}`)).body.egress;

before(async () => {
  server = await startOutpost();
  assert.equal((await outpost("project", "create", "web")).code, 0);
});

after(async () => {
  await server?.stop();
});

describe("outpost project update: egress rules", () => {
  test("--egress sets the level and --allow adds a rule", async () => {
    const result = await outpost("project", "update", "web", "--egress", "custom", "--allow", "api.example.com");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^egress:\s+custom; allow api\.example\.com$/m);
    assert.deepEqual(await egressOf("web"), { level: "custom", allow: [{ host: "api.example.com" }], deny: [] });
  });

  test("a second --allow keeps the first; one already there is not added twice", async () => {
    const result = await outpost("project", "update", "web", "--allow", "host.outpost.internal:8080", "--allow", "API.example.com");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^egress:\s+custom; allow api\.example\.com, host\.outpost\.internal:8080$/m);
    assert.deepEqual((await egressOf("web")).allow, [{ host: "api.example.com" }, { host: "host.outpost.internal", port: 8080 }]);
  });

  test("--deny adds to the deny list and leaves the allow list alone", async () => {
    const result = await outpost("project", "update", "web", "--deny", "evil.com");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^egress:\s+custom; allow api\.example\.com, host\.outpost\.internal:8080; deny evil\.com$/m);
    const shown = await outpost("project", "get", "web");
    assert.match(shown.stdout, /^egress:\s+custom; allow api\.example\.com, host\.outpost\.internal:8080; deny evil\.com$/m);
  });

  test("--remove-rule takes rules out of both lists", async () => {
    const result = await outpost("project", "update", "web", "--remove-rule", "api.example.com", "--remove-rule", "evil.com");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^egress:\s+custom; allow host\.outpost\.internal:8080$/m);
    assert.deepEqual(await egressOf("web"), { level: "custom", allow: [{ host: "host.outpost.internal", port: 8080 }], deny: [] });
  });

  test("--remove-rule naming no rule of the project is refused and changes nothing", async () => {
    const result = await outpost("project", "update", "web", "--egress", "open", "--remove-rule", "nowhere.example.com");
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, /--remove-rule nowhere\.example\.com: project web has no such rule \(allow: host\.outpost\.internal:8080; deny: -\)/);
    assert.equal((await egressOf("web")).level, "custom");
  });

  test("project create takes --egress, --allow, --deny and --token-budget", async () => {
    const result = await outpost(
      "project",
      "create",
      "api",
      "--egress",
      "open",
      "--allow",
      "10.1.2.3:5432",
      "--deny",
      "*.ads.example",
      "--token-budget",
      "5000",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^egress:\s+open; allow 10\.1\.2\.3:5432; deny \*\.ads\.example$/m);
    assert.match(result.stdout, /^token budget:\s+5000 tokens a month$/m);
    const stored = (await apiJson<Project>(server, "GET", "/api/v1/projects/api")).body;
    assert.deepEqual(stored.egress, { level: "open", allow: [{ host: "10.1.2.3", port: 5432 }], deny: [{ host: "*.ads.example" }] });
    assert.equal(stored.tokenBudget, 5000);
  });
});

describe("bad rules fail in the CLI, before any request", () => {
  // A stand-in for the server that counts requests: the CLI must not send one.
  let counter: Server;
  let counterUrl: string;
  let requests = 0;

  before(async () => {
    counter = createServer((_request, response) => {
      requests += 1;
      response.writeHead(500).end();
    });
    await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", resolve));
    const address = counter.address();
    assert.ok(address && typeof address === "object");
    counterUrl = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    counter.closeAllConnections();
    await new Promise<void>((resolve) => counter.close(() => resolve()));
  });

  const cases: [string, string[], RegExp][] = [
    ["a URL instead of a host", ["project", "update", "web", "--allow", "http://x"], /--allow 'http:\/\/x': the port must be a number from 1 to 65535/],
    ["the host machine without a port", ["project", "update", "web", "--allow", "host.outpost.internal"], /host\.outpost\.internal needs a port/],
    ["a wildcard IP address", ["project", "update", "web", "--deny", "*.10.0.0.1"], /--deny '\*\.10\.0\.0\.1': /],
    ["a malformed --remove-rule", ["project", "update", "web", "--remove-rule", "exa mple.com"], /--remove-rule 'exa mple\.com': must be a lowercase hostname/],
    ["a bad rule on create", ["project", "create", "nope", "--allow", "host.outpost.internal"], /needs a port/],
    ["an unknown level", ["project", "update", "web", "--egress", "some"], /--egress must be one of none, registries, custom, open, got 'some'/],
    ["a token budget that is not a number", ["project", "update", "web", "--token-budget", "lots"], /--token-budget takes a whole number of tokens or 'none'/],
    [
      "an inject rule without a header",
      ["secret", "set", "web", "KEY", "v", "--kind", "credential", "--inject", "api.example.com"],
      /--inject 'api\.example\.com': /,
    ],
    ["--inject on a secret", ["secret", "set", "web", "KEY", "v", "--inject", "api.example.com:x-api-key"], /--inject goes with --kind credential/],
    ["an unknown kind", ["secret", "set", "web", "KEY", "v", "--kind", "password"], /--kind must be one of env, secret, credential/],
    ["a bad variable name", ["secret", "set", "web", "MY-KEY", "v"], /the name 'MY-KEY' must match/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what}: exit 2 with the problem, no request sent`, async () => {
      const result = await runCli([...args, "--url", counterUrl, "--token", "x"], {});
      assert.equal(result.code, 2, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
      assert.equal(requests, 0, "no request reached the server");
    });
  }
});

describe("outpost secret", () => {
  const value = "s3cret-from-stdin-4af1";

  test("set reads the value from stdin and prints the name and kind, never the value", async () => {
    const result = await outpostWithInput(`${value}\n`, "secret", "set", "web", "DB_PASSWORD");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^name:\s+DB_PASSWORD$/m);
    assert.match(result.stdout, /^kind:\s+secret$/m);
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, new RegExp(value));
  });

  test("list shows the name and kind and no value, as a table and as JSON", async () => {
    const result = await outpost("secret", "list", "web");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^NAME\s+KIND\s+INJECT\s+UPDATED$/m);
    assert.match(result.stdout, /^DB_PASSWORD\s+secret\s+-\s+\d{4}-/m);
    assert.doesNotMatch(result.stdout, new RegExp(value));

    const json = await outpost("secret", "list", "web", "--json");
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { items: { name: string; kind: string }[] }).items.map((v) => [v.name, v.kind]),
      [["DB_PASSWORD", "secret"]],
    );
    assert.doesNotMatch(json.stdout, new RegExp(value));
  });

  test("exactly one trailing newline is taken off the value read from stdin", async () => {
    const result = await outpostWithInput("two lines\nend\n\n", "secret", "set", "web", "GREETING", "--kind", "env");
    assert.equal(result.code, 0, result.stderr);
    // Plain env variables can be revealed, which shows what was stored.
    const revealed = await apiJson<Project>(server, "GET", "/api/v1/projects/web?reveal=true");
    assert.deepEqual(
      revealed.body.env.find((e) => e.name === "GREETING"),
      { name: "GREETING", value: "two lines\nend\n" },
    );
  });

  test("an empty value on stdin is refused and nothing is set", async () => {
    const result = await outpostWithInput("\n", "secret", "set", "web", "EMPTY_ONE");
    assert.equal(result.code, 2, result.stdout);
    assert.match(result.stderr, /the value of EMPTY_ONE is empty/);
    assert.doesNotMatch((await outpost("secret", "list", "web")).stdout, /EMPTY_ONE/);
  });

  test("a credential with --inject shows its placeholder and where it goes", async () => {
    const token = "tok-credential-9c2e";
    const result = await outpostWithInput(
      token,
      "secret",
      "set",
      "web",
      "EXAMPLE_TOKEN",
      "--kind",
      "credential",
      "--inject",
      "api.example.com:authorization:bearer",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^kind:\s+credential$/m);
    assert.match(result.stdout, /^placeholder:\s+\S*outpost-placeholder-[0-9a-f]{32}$/m);
    assert.match(result.stdout, /^inject:\s+api\.example\.com:authorization:bearer$/m);
    assert.doesNotMatch(result.stdout, new RegExp(token));

    const list = await outpost("secret", "list", "web");
    assert.match(list.stdout, /^EXAMPLE_TOKEN\s+credential\s+api\.example\.com:authorization:bearer\s+\d{4}-/m);
    assert.doesNotMatch(list.stdout, new RegExp(token));
  });

  test("unset removes the variable from the list", async () => {
    const result = await outpost("secret", "unset", "web", "DB_PASSWORD");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /unset DB_PASSWORD in project web/);
    const list = await outpost("secret", "list", "web");
    assert.doesNotMatch(list.stdout, /DB_PASSWORD/);
    assert.match(list.stdout, /^EXAMPLE_TOKEN\s/m);
  });

  test("unset of a name the project does not have exits 1 with the server's hint", async () => {
    const result = await outpost("secret", "unset", "web", "NEVER_SET");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /VARIABLE_NOT_FOUND/);
    assert.match(result.stderr, /hint: Use a name that `outpost secret list <project>` shows\./);
  });
});

describe("outpost egress", () => {
  test("a project without traffic: an empty table, and --json an empty page", async () => {
    const result = await outpost("egress", "web");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "(none)\n");

    const json = await outpost("egress", "web", "--json");
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { items: unknown[] }).items, []);
  });

  test("--follow prints the header, waits for records, and ends cleanly on Ctrl-C", async () => {
    const child = spawnOutpost(["egress", "web", "--follow"], childEnv(server.cliEnv));
    const stdout = new OutputWatcher(child.stdout);
    const stderr = new OutputWatcher(child.stderr);
    await stdout.waitFor(/^TIME\s+SANDBOX\s+DECISION\s+HOST:PORT\s+RULE\s+BYTES↑\s+BYTES↓\s+REASON\n/, { exited: exitOf(child), what: "the header" });
    const { code } = await stopProcess(child, "SIGINT");
    assert.equal(code, 0, await stderr.drained());
    assert.equal((await stdout.drained()).split("\n").filter(Boolean).length, 1, "no records, only the header");
  });

  test("a project that does not exist exits 1 naming it", async () => {
    const result = await outpost("egress", "missing", "--follow");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /No project 'missing'/);
  });
});

describe("outpost usage", () => {
  test("shows no tokens used and the budget set with --token-budget", async () => {
    const updated = await outpost("project", "update", "web", "--token-budget", "1000");
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /^token budget:\s+1000 tokens a month$/m);

    const result = await outpost("usage", "web");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^month:\s+\d{4}-\d{2} \(UTC\)$/m);
    assert.match(result.stdout, /^total:\s+0 tokens$/m);
    assert.match(result.stdout, /^budget:\s+1000 tokens a month$/m);
    assert.match(result.stdout, /^remaining:\s+1000 tokens$/m);

    const json = JSON.parse((await outpost("usage", "web", "--json")).stdout) as { totals: unknown[]; totalTokens: number; tokenBudget: number | null };
    assert.deepEqual([json.totals, json.totalTokens, json.tokenBudget], [[], 0, 1000]);
  });

  test("--token-budget none takes the budget away", async () => {
    const updated = await outpost("project", "update", "web", "--token-budget", "none");
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /^token budget:\s+none$/m);
    const result = await outpost("usage", "web");
    assert.match(result.stdout, /^budget:\s+none$/m);
  });
});
