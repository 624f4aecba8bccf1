// `outpost environment …`, `outpost project … --environment` and `outpost exec|shell --root`
// as a user runs them: the built binary (`npm run build` first) against a real `outpost
// serve`. Builds here are of `image: host` (nothing to make: instant and cached) or of an
// OCI layout that is not there (fails at once): no Debian root is built in these tests.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { deleteEverySandbox, runningSandbox } from "../helpers/sandboxes.ts";
import { apiJson, type OutpostServer, runCli, startOutpost, tempDir } from "./harness.ts";

let server: OutpostServer;
let files: string;
const outpost = (...args: string[]) => runCli(args, server.cliEnv, 60_000);
const ok = async (...args: string[]) => {
  const result = await outpost(...args);
  assert.equal(result.code, 0, `outpost ${args.join(" ")}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  return result.stdout;
};
/** A command that must fail with an API error: exit code 1, the code and its hint on stderr. */
const refused = async (code: string, hint: RegExp, ...args: string[]) => {
  const result = await outpost(...args);
  assert.equal(result.code, 1, `outpost ${args.join(" ")}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`\\(${code}\\b`), result.stderr);
  assert.match(result.stderr, hint, result.stderr);
  return result.stderr;
};
const stored = async (name: string) => (await apiJson<any>(server, "GET", `/api/v1/environments/${name}`)).body;

const SETUP = "#!/bin/sh\necho setting up for $MODE\ntouch /opt/marker\n";
const MAINTENANCE = "npm ci\n";

before(async () => {
  server = await startOutpost();
  files = tempDir("outpost-env-files-");
  writeFileSync(join(files, "setup.sh"), SETUP);
  writeFileSync(join(files, "maintenance.sh"), MAINTENANCE);
});

after(async () => {
  if (files) rmSync(files, { recursive: true, force: true });
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
});

describe("outpost environment", () => {
  test("create reads the scripts from files; get and list show what was stored", async () => {
    const created = await ok(
      "environment",
      "create",
      "tools",
      "--image",
      "host",
      "--setup-file",
      join(files, "setup.sh"),
      "--maintenance-file",
      join(files, "maintenance.sh"),
      "--setup-env",
      "MODE=ci",
      "--setup-allow",
      "pypi.org",
      "--pool-size",
      "1",
    );
    assert.match(created, /^name:\s+tools$/m);
    assert.match(created, /^image:\s+host$/m);
    assert.match(created, /^cache:\s+none \(nothing to build: the host's \/usr\)$/m);
    assert.match(created, /^setup env:\s+MODE=ci$/m);
    assert.match(created, /^setup egress:\s+registries; allow pypi\.org$/m);
    assert.match(created, /^last build:\s+never built$/m);
    assert.match(created, /^setup script:\n {2}\| #!\/bin\/sh\n {2}\| echo setting up for \$MODE\n {2}\| touch \/opt\/marker\n/m);

    const environment = await stored("tools");
    assert.equal(environment.setup, SETUP, "the file's text, byte for byte");
    assert.equal(environment.maintenance, MAINTENANCE);
    assert.deepEqual(environment.setupEnv, { MODE: "ci" });
    assert.deepEqual(environment.setupEgress.allow, [{ host: "pypi.org" }]);
    assert.equal(environment.poolSize, 1);

    const got = await ok("environment", "get", "tools");
    assert.match(got, /^pool size:\s+1$/m);
    assert.match(got, /^maintenance script:\n {2}\| npm ci$/m);
    assert.equal(JSON.parse(await ok("environment", "get", "tools", "--json")).id, environment.id);

    const listed = await ok("environment", "list");
    assert.match(listed, /^NAME\s+IMAGE\s+CACHE\s+POOL\s+PROJECTS\s+LAST BUILD$/m);
    assert.match(listed, /^tools\s+host\s+none\s+1\s+-\s+never built$/m);
  });

  test("a script file that is not there is refused before any request, naming the flag and the file", async () => {
    const missing = join(files, "nope.sh");
    const result = await outpost("environment", "create", "ghost", "--setup-file", missing);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`cannot read --setup-file ${missing}: no such file`));
    const folder = await outpost("environment", "update", "tools", "--maintenance-file", files);
    assert.equal(folder.code, 2, folder.stderr);
    assert.match(folder.stderr, /cannot read --maintenance-file .*: it is a folder/);
    assert.equal((await apiJson(server, "GET", "/api/v1/environments/ghost")).status, 404, "nothing was made");
  });

  test("a name that is not a DNS label, or 'none', is refused with the API's reason", async () => {
    const bad = await refused("VALIDATION_FAILED", /hint:/, "environment", "create", "Bad_Name");
    assert.match(bad, /environment name/);
    const none = await refused("VALIDATION_FAILED", /hint:/, "environment", "create", "none");
    assert.match(none, /'none' is taken/);
  });

  test("update changes only what its flags name; the setup env is edited, not replaced", async () => {
    writeFileSync(join(files, "setup2.sh"), "echo two\n");
    const updated = await ok(
      "environment",
      "update",
      "tools",
      "--setup-env",
      "EXTRA=1",
      "--pool-size",
      "0",
      "--no-maintenance",
      "--setup-file",
      join(files, "setup2.sh"),
    );
    assert.match(updated, /^setup env:\s+MODE=ci, EXTRA=1$/m);
    assert.match(updated, /^maintenance script: \(none\)$/m);
    const environment = await stored("tools");
    assert.equal(environment.setup, "echo two\n");
    assert.equal(environment.maintenance, null);
    assert.equal(environment.poolSize, 0);
    assert.equal(environment.image, "host", "untouched");
    assert.deepEqual(environment.setupEgress.allow, [{ host: "pypi.org" }], "untouched");

    await ok("environment", "update", "tools", "--unset-setup-env", "MODE", "--setup-allow", "files.pythonhosted.org", "--setup-egress", "custom");
    const after = await stored("tools");
    assert.deepEqual(after.setupEnv, { EXTRA: "1" });
    assert.equal(after.setupEgress.level, "custom");
    assert.deepEqual(after.setupEgress.allow, [{ host: "pypi.org" }, { host: "files.pythonhosted.org" }]);

    const nothing = await outpost("environment", "update", "tools");
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to update/);
  });

  test("logs before any build says how to build; build --wait ends ready and logs shows it", async () => {
    await refused("ENVIRONMENT_NOT_FOUND", /hint: outpost environment build tools/, "environment", "logs", "tools");

    const waited = await outpost("environment", "build", "tools", "--wait");
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stderr, /^build bld_\w+: ready \(cached: nothing to run\)$/m);
    const build = JSON.parse(await ok("environment", "logs", "tools", "--json"));
    assert.equal(build.state, "ready");
    assert.equal(build.cached, true);
    assert.equal(typeof build.log, "string");
    const logs = await outpost("environment", "logs", "tools");
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stderr, new RegExp(`^build ${build.id}: ready`, "m"));
    assert.match(await ok("environment", "get", "tools"), new RegExp(`^last build:\\s+ready \\(cached\\) \\S+ \\(${build.id}\\)$`, "m"));

    const started = await ok("environment", "build", "tools");
    assert.match(started, /^build bld_\w+ started; follow it with: outpost environment logs tools --follow$/m);
  });

  test("build --wait of a build that fails prints its log and exits 1", async () => {
    await ok("environment", "create", "broken", "--image", "oci-layout:/nonexistent/layout");
    const failed = await outpost("environment", "build", "broken", "--wait");
    assert.equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
    assert.match(failed.stdout, /build failed: /, "the log");
    assert.match(failed.stderr, /^build bld_\w+: failed: /m);
    assert.equal(JSON.parse(await ok("environment", "logs", "broken", "--json")).state, "failed");
    await ok("environment", "delete", "broken");
  });

  test("a project uses one by name; delete is refused while it does; --environment none clears it", async () => {
    const created = await ok("project", "create", "shop", "--environment", "tools");
    assert.match(created, /^environment:\s+tools$/m);
    await ok("project", "create", "blog");
    assert.match(await ok("project", "update", "blog", "--environment", "tools"), /^environment:\s+tools$/m);
    assert.match(await ok("environment", "get", "tools"), /^projects:\s+(shop, blog|blog, shop)$/m);

    const inUse = await refused("ENVIRONMENT_IN_USE", /hint: Move the projects that use it to another environment first/, "environment", "delete", "tools");
    assert.match(inUse, /used by (shop, blog|blog, shop)/);
    assert.equal((await apiJson(server, "GET", "/api/v1/environments/tools")).status, 200, "still there");

    await refused(
      "ENVIRONMENT_NOT_FOUND",
      /hint: List the environments with `outpost environment list`/,
      "project",
      "update",
      "blog",
      "--environment",
      "nosuch",
    );
    for (const project of ["shop", "blog"]) {
      assert.match(await ok("project", "update", project, "--environment", "none"), /^environment:\s+none \(the host's \/usr\)$/m);
      assert.equal((await apiJson<any>(server, "GET", `/api/v1/projects/${project}`)).body.environment, null);
    }
    assert.match(await ok("project", "get", "shop"), /^environment:\s+none \(the host's \/usr\)$/m);

    assert.match(await ok("environment", "delete", "tools"), /^deleted environment tools$/m);
    assert.equal((await apiJson(server, "GET", "/api/v1/environments/tools")).status, 404);
    assert.equal((await ok("environment", "list")).trim(), "(none)");
  });
});

describe("outpost exec|shell --root", () => {
  test("on a sandbox with the host's /usr, root is refused readably; without --root the command runs", async () => {
    await ok("project", "create", "hosted");
    const sandbox = await runningSandbox(server, "hosted", 120_000);
    const plain = await outpost("exec", sandbox.name, "--", "id", "-u");
    assert.equal(plain.code, 0, plain.stderr);
    assert.notEqual(plain.stdout.trim(), "0");

    const root = await refused("ROOT_UNAVAILABLE", /hint: Root is only inside sandboxes with an image/, "exec", sandbox.name, "--root", "--", "id", "-u");
    assert.match(root, /^outpost: .*host's \/usr/m);
    assert.doesNotMatch(root, /\n\s+at /, "no stack trace");
    await refused("ROOT_UNAVAILABLE", /hint: Root is only inside sandboxes with an image/, "shell", sandbox.name, "--root");
  });
});
