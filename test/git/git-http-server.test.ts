// The test git remote (test/helpers/git-http-server.ts), driven by the host's own git:
// clone with the token, refusal without it, pushes (a big one, streamed in chunks) landing
// with the pusher's identity, submodules, and the CGI header parser.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type GitHttpServer, parseCgiHead, startGitHttpServer } from "../helpers/git-http-server.ts";

const run = promisify(execFile);

const TOKEN = "tok-7f3a9c";
const IDENTITY = {
  GIT_AUTHOR_NAME: "Outpost Agent",
  GIT_AUTHOR_EMAIL: "agent@outpost.local",
  GIT_COMMITTER_NAME: "Outpost Agent",
  GIT_COMMITTER_EMAIL: "agent@outpost.local",
};

let server: GitHttpServer;
let work: string;

/** Host git with no user/system config, no prompts, no proxy of the machine's. */
async function git(args: string[], options: { cwd?: string; auth?: string | null } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const auth = options.auth === undefined ? server.authHeader : options.auth;
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: work,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
    ...IDENTITY,
  };
  const config = auth === null ? [] : ["-c", `http.extraHeader=Authorization: ${auth}`];
  try {
    const { stdout, stderr } = await run("git", [...config, ...args], { cwd: options.cwd ?? work, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function gitOk(args: string[], options: { cwd?: string; auth?: string | null } = {}): Promise<string> {
  const result = await git(args, options);
  assert.equal(result.code, 0, `git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

before(async () => {
  server = await startGitHttpServer({ token: TOKEN });
  work = mkdtempSync(join(tmpdir(), "outpost-git-http-test-"));
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("test git remote over smart HTTP", () => {
  test("clones with the token: files, branch and the URLs it hands out", async () => {
    const sha = await server.createRepo("app", { "README.md": "# app\n", "src/index.js": "console.log(1);\n" });
    assert.equal(server.url("app"), `http://host.outpost.internal:${server.port}/app.git`);
    const before = server.requests.length;
    await gitOk(["clone", "--quiet", server.localUrl("app"), "app"]);
    assert.equal(readFileSync(join(work, "app", "src/index.js"), "utf8"), "console.log(1);\n");
    assert.equal((await gitOk(["rev-parse", "HEAD"], { cwd: join(work, "app") })).trim(), sha);
    assert.equal((await gitOk(["branch", "--show-current"], { cwd: join(work, "app") })).trim(), "main");
    const made = server.requests.slice(before);
    assert.ok(made.length >= 2, JSON.stringify(made));
    assert.ok(
      made.every((r) => r.authorized && r.status === 200),
      JSON.stringify(made),
    );
    assert.deepEqual(made[0], {
      method: "GET",
      path: "/app.git/info/refs",
      query: "service=git-upload-pack",
      hadAuthorization: true,
      authorized: true,
      chunked: false,
      bodyBytes: 0,
      status: 200,
    });
    assert.ok(made.some((r) => r.method === "POST" && r.path === "/app.git/git-upload-pack"));
  });

  test("without the token (or with a wrong one) git gets 401 and nothing", async () => {
    await server.createRepo("private", { "secret.txt": "s\n" });
    const before = server.requests.length;
    const anonymous = await git(["clone", server.localUrl("private"), "anon"], { auth: null });
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /Authentication failed|could not read Username|401/);
    const wrong = await git(["clone", server.localUrl("private"), "wrong"], { auth: `Basic ${Buffer.from("x-access-token:nope").toString("base64")}` });
    assert.notEqual(wrong.code, 0);
    const made = server.requests.slice(before);
    assert.ok(made.length >= 2);
    assert.ok(
      made.every((r) => !r.authorized && r.status === 401),
      JSON.stringify(made),
    );
    assert.equal(made[0]?.hadAuthorization, false);
    assert.ok(made.some((r) => r.hadAuthorization));

    const response = await fetch(`${server.localUrl("private")}/info/refs?service=git-upload-pack`);
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Basic /);
    const withToken = await fetch(`${server.localUrl("private")}/info/refs?service=git-upload-pack`, { headers: { authorization: server.authHeader } });
    assert.equal(withToken.status, 200);
    assert.equal(withToken.headers.get("content-type"), "application/x-git-upload-pack-advertisement");
    await withToken.arrayBuffer();
  });

  test("a push lands on the remote with the pusher's identity and message", async () => {
    await server.createRepo("pushed", { "a.txt": "a\n" }, { branch: "trunk" });
    const clone = join(work, "pushed");
    await gitOk(["clone", "--quiet", server.localUrl("pushed"), clone]);
    writeFileSync(join(clone, "a.txt"), "changed\n");
    await gitOk(["commit", "--quiet", "-am", "Change a\n\nCo-authored-by: Ada <ada@example.com>"], { cwd: clone });
    const local = (await gitOk(["rev-parse", "HEAD"], { cwd: clone })).trim();
    const before = server.requests.length;
    await gitOk(["push", "--quiet", "origin", "trunk"], { cwd: clone });
    assert.ok(server.requests.slice(before).some((r) => r.method === "POST" && r.path === "/pushed.git/git-receive-pack" && r.authorized && r.status === 200));

    const [head, first] = await server.log("pushed", "trunk");
    assert.equal(head?.sha, local);
    assert.deepEqual(head?.author, { name: "Outpost Agent", email: "agent@outpost.local" });
    assert.deepEqual(head?.committer, { name: "Outpost Agent", email: "agent@outpost.local" });
    assert.equal(head?.message, "Change a\n\nCo-authored-by: Ada <ada@example.com>");
    assert.equal(first?.message, "Initial commit");

    // A push without the token is refused and changes nothing.
    writeFileSync(join(clone, "a.txt"), "again\n");
    await gitOk(["commit", "--quiet", "-am", "Again"], { cwd: clone });
    const refused = await git(["push", "origin", "trunk"], { cwd: clone, auth: null });
    assert.notEqual(refused.code, 0);
    assert.equal((await server.log("pushed", "trunk"))[0]?.sha, local);
  });

  test("a push bigger than git's post buffer streams through (chunked request body)", async () => {
    await server.createRepo("big", { "README.md": "big\n" });
    const clone = join(work, "big");
    await gitOk(["clone", "--quiet", server.localUrl("big"), clone]);
    // Random bytes do not compress: the pack is ~6 MB, well over the 1 MiB http.postBuffer.
    const blob = randomBytes(6 * 1024 * 1024);
    writeFileSync(join(clone, "blob.bin"), blob);
    await gitOk(["add", "blob.bin"], { cwd: clone });
    await gitOk(["commit", "--quiet", "-m", "Big blob"], { cwd: clone });
    const before = server.requests.length;
    await gitOk(["push", "--quiet", "origin", "main"], { cwd: clone });
    // git probes with a 4-byte flush first, then sends the pack chunked.
    const posts = server.requests.slice(before).filter((r) => r.method === "POST" && r.path === "/big.git/git-receive-pack");
    assert.ok(
      posts.some((r) => r.chunked && r.bodyBytes > blob.length && r.status === 200),
      JSON.stringify(posts),
    );
    const remote = await run("git", ["--git-dir", server.gitDir("big"), "cat-file", "blob", "main:blob.bin"], {
      encoding: "buffer",
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.ok(Buffer.compare(remote.stdout, blob) === 0, "the remote holds the same bytes");
  });

  test("submodules: a relative URL clones recursively from the same server", async () => {
    const libSha = await server.createRepo("lib", { "lib.txt": "library\n" });
    await server.createRepo("outer", { "main.txt": "outer\n" }, { submodule: { path: "vendor/lib", repo: "lib" } });
    await gitOk(["clone", "--quiet", "--recurse-submodules", server.localUrl("outer"), "outer"]);
    assert.equal(readFileSync(join(work, "outer", "vendor/lib/lib.txt"), "utf8"), "library\n");
    assert.equal((await gitOk(["rev-parse", "HEAD"], { cwd: join(work, "outer", "vendor/lib") })).trim(), libSha);
    assert.match(readFileSync(join(work, "outer", ".gitmodules"), "utf8"), /url = \.\.\/lib\.git/);

    // GitHub-shaped owner/name paths, with a submodule from another owner.
    await server.createRepo("acme/shop", { "shop.txt": "shop\n" }, { submodule: { path: "lib", repo: "lib" } });
    assert.equal(server.url("acme/shop"), `http://host.outpost.internal:${server.port}/acme/shop.git`);
    await gitOk(["clone", "--quiet", "--recurse-submodules", server.localUrl("acme/shop"), "shop"]);
    assert.equal(readFileSync(join(work, "shop", "lib/lib.txt"), "utf8"), "library\n");
    assert.throws(() => server.url("../etc"), /bad repository name/);
  });

  test("protocol v2 fetch works (git-protocol header passed to http-backend)", async () => {
    await server.createRepo("v2", { "x.txt": "x\n" });
    const out = await gitOk(["-c", "protocol.version=2", "ls-remote", server.localUrl("v2")]);
    assert.match(out, /refs\/heads\/main/);
    const response = await fetch(`${server.localUrl("v2")}/info/refs?service=git-upload-pack`, {
      headers: { authorization: server.authHeader, "git-protocol": "version=2" },
    });
    assert.match(Buffer.from(await response.arrayBuffer()).toString("latin1"), /version 2/);
  });

  test("a malformed path answers 400 and the server keeps serving", async () => {
    const bad = await fetch(`http://127.0.0.1:${server.port}/%E0%A4%A.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: server.authHeader },
    });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    const missing = await fetch(`${server.localUrl("nothing-here")}/info/refs?service=git-upload-pack`, { headers: { authorization: server.authHeader } });
    assert.equal(missing.status, 404, "http-backend's own Status: header is passed on");
    await missing.arrayBuffer();
  });
});

describe("CGI header block", () => {
  test("status, headers and the body's start; CRLF or LF", () => {
    const crlf = Buffer.from("Status: 404 Not Found\r\nContent-Type: text/plain\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\n\r\nmissing");
    const parsed = parseCgiHead(crlf);
    assert.deepEqual(parsed && { ...parsed, body: crlf.subarray(parsed.bodyStart).toString() }, {
      status: 404,
      headers: [
        ["Content-Type", "text/plain"],
        ["Expires", "Fri, 01 Jan 1980 00:00:00 GMT"],
      ],
      bodyStart: crlf.indexOf("missing"),
      body: "missing",
    });
    const lf = Buffer.from("Content-Type: application/x-git-upload-pack-result\n\n\x00\x01");
    assert.deepEqual(parseCgiHead(lf), { status: 200, headers: [["Content-Type", "application/x-git-upload-pack-result"]], bodyStart: lf.length - 2 });
  });

  test("an incomplete head waits; a malformed one throws", () => {
    assert.equal(parseCgiHead(Buffer.from("Status: 200 OK\r\nContent-Type: x")), null);
    assert.throws(() => parseCgiHead(Buffer.from("no colon here\r\n\r\n")), /malformed CGI header/);
    assert.throws(() => parseCgiHead(Buffer.from("Status: abc\r\n\r\n")), /malformed CGI Status/);
  });
});
