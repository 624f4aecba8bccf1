// `outpost project ...` as a user runs it: the built binary against a real `outpost serve`.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { apiJson, freePort, type OutpostServer, runCli, STACK_FRAME, startOutpost, tempDir } from "./harness.ts";

interface Project {
  id: string;
  name: string;
  repoUrl: string | null;
  env: { name: string; value?: string }[];
  egress: { level: string; allow: { host: string; port?: number }[]; deny: { host: string; port?: number }[] };
}

let server: OutpostServer;
/** `outpost ...args` finding the server through OUTPOST_DATA_DIR, as after `npm start`. */
const outpost = (...args: string[]) => runCli(args, server.cliEnv);

before(async () => {
  server = await startOutpost();
});

after(async () => {
  await server?.stop();
});

describe("outpost project", () => {
  test("project create prints a human summary and exits 0", async () => {
    const result = await outpost(
      "project",
      "create",
      "alpha",
      "--repo",
      "https://github.com/example/alpha",
      "--env",
      "API_KEY=s3cret-alpha",
      "--env",
      "MODE=dev",
      "--allow",
      "api.github.com",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^name:\s+alpha$/m);
    assert.match(result.stdout, /^id:\s+prj_\S+$/m);
    assert.match(result.stdout, /^repo:\s+https:\/\/github\.com\/example\/alpha$/m);
    assert.match(result.stdout, /^egress:\s+registries; allow api\.github\.com$/m);
    assert.match(result.stdout, /^env:\s+API_KEY, MODE$/m);
    assert.doesNotMatch(result.stdout, /s3cret-alpha/, "a new project's env values are not echoed");
  });

  test("project create --json prints exactly what the API returns for the project", async () => {
    const result = await outpost("project", "create", "beta", "--branch", "main", "--json");
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as Project;
    const fromApi = await apiJson<Project>(server, "GET", "/api/v1/projects/beta");
    assert.equal(fromApi.status, 200);
    assert.deepEqual(printed, fromApi.body);
    assert.equal(printed.name, "beta");
  });

  test("project list shows a table with the names of all projects", async () => {
    const result = await outpost("project", "list");
    assert.equal(result.code, 0, result.stderr);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^NAME\s+ID\s+REPO\s+CREATED$/);
    assert.deepEqual(rows.map((row) => row.split(/\s+/)[0]).sort(), ["alpha", "beta"]);
    assert.match(result.stdout, /^alpha\s+prj_\S+\s+https:\/\/github\.com\/example\/alpha\s+\d{4}-/m);
  });

  test("project list --json prints the API's list of projects", async () => {
    const result = await outpost("project", "list", "--json");
    assert.equal(result.code, 0, result.stderr);
    const fromApi = await apiJson<{ items: Project[]; nextCursor: string | null }>(server, "GET", "/api/v1/projects");
    assert.deepEqual(JSON.parse(result.stdout), fromApi.body);
  });

  test("project get finds a project by name and by id", async () => {
    const byName = await outpost("project", "get", "alpha");
    assert.equal(byName.code, 0, byName.stderr);
    const id = /^id:\s+(prj_\S+)$/m.exec(byName.stdout)?.[1];
    assert.ok(id, byName.stdout);
    const byId = await outpost("project", "get", id);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal(byId.stdout, byName.stdout);
    assert.match(byId.stdout, /^name:\s+alpha$/m);
  });

  test("project get shows env names only; --reveal shows the values", async () => {
    const plain = await outpost("project", "get", "alpha");
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^env:\s+API_KEY, MODE$/m);
    assert.doesNotMatch(plain.stdout, /s3cret-alpha|dev/);

    const revealed = await outpost("project", "get", "alpha", "--reveal");
    assert.equal(revealed.code, 0, revealed.stderr);
    assert.match(revealed.stdout, /^env:\s+API_KEY=s3cret-alpha, MODE=dev$/m);

    const plainJson = JSON.parse((await outpost("project", "get", "alpha", "--json")).stdout) as Project;
    assert.deepEqual(plainJson.env, [{ name: "API_KEY" }, { name: "MODE" }]);
  });

  test("project update sets and unsets env variables", async () => {
    const updated = await outpost("project", "update", "alpha", "--env", "MODE=prod", "--env", "REGION=eu", "--unset-env", "API_KEY");
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /^env:\s+MODE, REGION$/m);

    const fromApi = await apiJson<Project>(server, "GET", "/api/v1/projects/alpha?reveal=true");
    assert.deepEqual(
      [...fromApi.body.env].sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: "MODE", value: "prod" },
        { name: "REGION", value: "eu" },
      ],
    );
  });

  test("project update with nothing to change is bad usage (exit 2)", async () => {
    const result = await outpost("project", "update", "alpha");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nothing to update/);
  });

  test("project delete removes the project; getting it afterwards fails with exit 1 naming it", async () => {
    assert.equal((await outpost("project", "create", "gamma")).code, 0);
    const deleted = await outpost("project", "delete", "gamma");
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /deleted project gamma/);

    const result = await outpost("project", "get", "gamma");
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /No project 'gamma'/);
    assert.match(result.stderr, /PROJECT_NOT_FOUND/);
    assert.match(result.stderr, /\n {2}hint: Use an id or name that `outpost project list` shows\.\n$/, "the server's hint, on its own line");
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.equal((await apiJson(server, "GET", "/api/v1/projects/gamma")).status, 404);
  });
});

describe("bad usage", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["an unknown flag", ["project", "list", "--frobnicate"], /Unknown option '--frobnicate'/],
    ["project create without a name", ["project", "create"], /needs a name/],
    ["--env without a value", ["project", "create", "delta", "--env", "NOVALUE"], /--env takes KEY=VALUE, got 'NOVALUE'/],
    ["an unknown project verb", ["project", "rename", "alpha"], /unknown verb 'project rename'/],
    ["no command at all", [], /Usage: outpost/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} exits 2 with a usage message`, async () => {
      const result = await outpost(...args);
      assert.equal(result.code, 2, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
      assert.match(`${result.stderr}${result.stdout}`, message);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
    });
  }

  test("the refused --env NOVALUE did not create a project", async () => {
    assert.equal((await apiJson(server, "GET", "/api/v1/projects/delta")).status, 404);
  });
});

describe("errors from the server or the network exit 1 with a message", () => {
  test("an invalid project name exits 1 with the server's validation message", async () => {
    const result = await outpost("project", "create", "Bad_Name");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^outpost: .*project name may contain only lowercase letters.* \(VALIDATION_FAILED, request req_\w+\)\n {2}hint: \S.*\n$/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("creating a project whose name is taken exits 1 and says so", async () => {
    const result = await outpost("project", "create", "alpha");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /PROJECT_NAME_TAKEN/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("a wrong token exits 1 and says the token is not valid", async () => {
    const result = await outpost("project", "list", "--token", "nope");
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /token/i);
    assert.match(result.stderr, /UNAUTHENTICATED/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("a server that is not running exits 1 and says it cannot reach Outpost", async () => {
    const closedPort = await freePort();
    const result = await outpost("project", "list", "--url", `http://127.0.0.1:${closedPort}`);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, new RegExp(`cannot reach Outpost at http://127\\.0\\.0\\.1:${closedPort}`));
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });
});

describe("a URL where something other than Outpost answers", () => {
  // E.g. another app on port 7300, a proxy's page, or a mistyped --url: 200 with HTML.
  let other: Server;
  let otherUrl: string;

  before(async () => {
    other = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<!doctype html><html><body>Some other app</body></html>");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const address = other.address();
    assert.ok(address && typeof address === "object");
    otherUrl = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    other.closeAllConnections();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });

  test("project list against a server that is not Outpost exits 1 with a message, no stack trace", async () => {
    const result = await runCli(["project", "list", "--url", otherUrl, "--token", "x"], {});
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^outpost: /);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("events against a server that is not Outpost exits 1 instead of printing nothing", async () => {
    const result = await runCli(["events", "--url", otherUrl, "--token", "x"], {});
    assert.equal(result.code, 1, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.match(result.stderr, /^outpost: /);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });
});

describe("where the CLI finds the server", () => {
  test("--url and --token work without a data dir", async () => {
    const empty = tempDir();
    try {
      const result = await runCli(["project", "list", "--url", server.url, "--token", server.token], { OUTPOST_DATA_DIR: empty });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^alpha\s/m);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("OUTPOST_URL and OUTPOST_TOKEN work without a data dir", async () => {
    const empty = tempDir();
    try {
      const result = await runCli(["project", "get", "beta"], { OUTPOST_DATA_DIR: empty, OUTPOST_URL: server.url, OUTPOST_TOKEN: server.token });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^name:\s+beta$/m);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  // src/cli/args.ts says global flags may go "anywhere on the line", and the help lists them
  // as global options, but src/cli/main.ts takes the first word as the command name.
  test("global options may come before the command (outpost --json project list)", async () => {
    const result = await outpost("--json", "project", "list");
    assert.equal(result.code, 0, result.stderr);
    const fromApi = await apiJson(server, "GET", "/api/v1/projects");
    assert.deepEqual(JSON.parse(result.stdout), fromApi.body);

    const withUrl = await runCli(["--url", server.url, "--token", server.token, "project", "get", "alpha"], {});
    assert.equal(withUrl.code, 0, withUrl.stderr);
    assert.match(withUrl.stdout, /^name:\s+alpha$/m);
  });
});
