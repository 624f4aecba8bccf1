// `outpost user …` and `outpost project member …` as an admin and a project owner run them:
// the built binary against a real `outpost serve`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiJson, type OutpostServer, runCli, STACK_FRAME, startOutpost } from "./harness.ts";

let server: OutpostServer;
const outpost = (...args: string[]) => runCli(args, server.cliEnv);
/** The same command as another user (their token instead of the admin's). */
const outpostAs = (token: string, ...args: string[]) => runCli(args, { ...server.cliEnv, OUTPOST_TOKEN: token });

before(async () => {
  server = await startOutpost();
});
after(async () => {
  await server?.stop();
});

describe("outpost user and outpost project member", () => {
  let bob: { id: string; name: string };
  let bobToken: string;

  test("user create prints the new user's id and what to do next; --json is the API's answer", async () => {
    const created = await outpost("user", "create", "bob");
    assert.equal(created.code, 0, created.stderr);
    const id = /^id:\s+(usr_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    assert.match(created.stdout, /^name:\s+bob$/m);
    assert.match(created.stdout, /outpost user token bob/);
    const listed = await outpost("user", "list", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const fromApi = await apiJson<{ items: { id: string; name: string }[] }>(server, "GET", "/api/v1/users");
    assert.deepEqual(JSON.parse(listed.stdout).items, fromApi.body.items);
    bob = fromApi.body.items.find((u) => u.name === "bob")!;
    assert.equal(bob.id, id);

    const again = await outpost("user", "create", "bob");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /USER_NAME_TAKEN/);
    assert.doesNotMatch(again.stderr, STACK_FRAME);
  });

  test("user token prints only the token, which works at once", async () => {
    const minted = await outpost("user", "token", "bob", "--name", "laptop");
    assert.equal(minted.code, 0, minted.stderr);
    bobToken = minted.stdout.trim();
    assert.match(bobToken, /^opt_\S+$/);
    assert.match(minted.stderr, /shown only now/);
    const mine = await outpostAs(bobToken, "project", "list", "--json");
    assert.equal(mine.code, 0, mine.stderr);
    assert.deepEqual(JSON.parse(mine.stdout).items, []);
  });

  test("a user who is not an admin cannot make users", async () => {
    const refused = await outpostAs(bobToken, "user", "create", "mallory");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /FORBIDDEN/);
    assert.match(refused.stderr, /hint: Ask an admin/);
  });

  test("project member add gives a role; a viewer reads but is refused writes with the role to ask for", async () => {
    assert.equal((await outpost("project", "create", "shop")).code, 0);
    const added = await outpost("project", "member", "add", "shop", bob.id, "--role", "viewer");
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout.trim(), `bob (${bob.id}) is viewer of shop`);

    const listed = await outpost("project", "member", "list", "shop");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^admin\s+usr_\S+\s+owner\s/m);
    assert.match(listed.stdout, new RegExp(`^bob\\s+${bob.id}\\s+viewer\\s`, "m"));

    const read = await outpostAs(bobToken, "project", "get", "shop");
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /^name:\s+shop$/m);
    const write = await outpostAs(bobToken, "project", "update", "shop", "--env", "X=1");
    assert.equal(write.code, 1);
    assert.match(write.stderr, /FORBIDDEN/);
    assert.match(write.stderr, new RegExp(`hint: .*outpost project member add prj_\\S+ ${bob.id} --role editor`));
  });

  test("project member remove takes the project out of the user's sight", async () => {
    const removed = await outpost("project", "member", "remove", "shop", bob.id);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await outpostAs(bobToken, "project", "get", "shop");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /PROJECT_NOT_FOUND/);
  });

  test("bad usage exits 2 with the help", async () => {
    for (const args of [
      ["project", "member", "add", "shop"],
      ["project", "member", "add", "shop", "usr_aaaaaaaaaaaa", "--role", "boss"],
      ["project", "create", "x", "--role", "owner"],
      ["user", "token"],
      ["user", "create", "x", "--name", "y"],
    ]) {
      const result = await outpost(...args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /Usage|outpost project member|outpost user/);
    }
  });
});
