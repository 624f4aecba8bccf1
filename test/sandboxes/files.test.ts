// Files in real sandboxes through the API: list, read (ranges), write, mkdir, move, delete;
// paths confined to /workspace and the home folder (traversal, symlinks that lead out, a
// symlink swapped in during a write); a 50 MB folder round-tripping through tar byte for
// byte; uploaded archives that try to escape; the change feed; bad input; a stopped sandbox.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { exec, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer, tempDir } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

describe("files", () => {
  let s: TestServer;
  let box: { id: string; name: string };
  let other: { id: string; name: string };
  const scratch = tempDir("outpost-files-test-");

  /** The API path of a file route of `box`, with a query. */
  const url = (route: string, query: Record<string, string>, sandbox = box.id) => `/api/v1/sandboxes/${sandbox}/files${route}?${new URLSearchParams(query)}`;
  const put = (route: string, query: Record<string, string>, body: RequestInit["body"], headers: Record<string, string> = {}) =>
    fetch(`${s.url}${url(route, query)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/octet-stream", ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
  const get = (route: string, query: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${s.url}${url(route, query)}`, { headers: { authorization: `Bearer ${s.token}`, ...headers } });
  const sh = async (command: string, sandbox = box.id) => (await exec(s, sandbox, ["sh", "-c", command])).stdout as string;

  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "fs" } });
    box = await runningSandbox(s, "fs");
    other = await runningSandbox(s, "fs");
    // These tests list whole folders: the repository the sandbox started with is not theirs.
    for (const id of [box.id, other.id]) await sh("rm -rf /workspace/.git", id);
  });
  after(async () => {
    await s?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("write, list, read with ranges, mkdir, move and delete", async () => {
    const written = await put("/content", { path: "docs/a.txt", parents: "true" }, "hello world");
    assert.equal(written.status, 200, await written.clone().text());
    const entry = await json(written);
    assert.deepEqual([entry.path, entry.name, entry.type, entry.size, entry.mode], ["/workspace/docs/a.txt", "a.txt", "file", 11, 0o644]);
    assert.equal(await sh("cat /workspace/docs/a.txt"), "hello world");

    const listing = await api(s, "GET", url("", { path: "docs" }));
    assert.equal(listing.status, 200);
    assert.equal(listing.body.type, "dir");
    assert.deepEqual(
      listing.body.entries.map((e: { name: string; type: string; size: number }) => [e.name, e.type, e.size]),
      [["a.txt", "file", 11]],
    );
    assert.equal(listing.body.truncated, false);
    const fileInfo = await api(s, "GET", url("", { path: "/workspace/docs/a.txt" }));
    assert.deepEqual([fileInfo.body.type, fileInfo.body.size, fileInfo.body.entries], ["file", 11, undefined]);

    // Binary content, whole and in ranges.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.equal((await put("/content", { path: "docs/bin" }, bytes)).status, 200);
    const whole = await get("/content", { path: "docs/bin" });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("content-type"), "application/octet-stream");
    assert.match(whole.headers.get("content-disposition") ?? "", /^attachment; filename="bin"/);
    assert.equal(whole.headers.get("x-content-type-options"), "nosniff");
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), bytes);
    for (const [range, from, to] of [
      ["bytes=10-19", 10, 20],
      ["bytes=250-", 250, 256],
      ["bytes=-6", 250, 256],
      ["bytes=200-999", 200, 256],
    ] as const) {
      const part = await get("/content", { path: "docs/bin" }, { range });
      assert.equal(part.status, 206, range);
      assert.equal(part.headers.get("content-range"), `bytes ${from}-${to - 1}/256`, range);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(from, to), range);
    }
    const beyond = await get("/content", { path: "docs/bin" }, { range: "bytes=300-" });
    assert.equal(beyond.status, 416);
    assert.equal((await json(beyond)).error.code, "RANGE_NOT_SATISFIABLE");
    const folderAsFile = await get("/content", { path: "docs" });
    assert.equal(folderAsFile.status, 409);
    assert.equal((await json(folderAsFile)).error.code, "NOT_A_FILE");

    // Replacing keeps the file's permissions; overwrite=false leaves it alone.
    await sh("chmod 755 /workspace/docs/a.txt");
    const replaced = await json(await put("/content", { path: "docs/a.txt" }, "#!/bin/sh\necho replaced\n"));
    assert.equal(replaced.mode, 0o755);
    assert.equal(await sh("/workspace/docs/a.txt"), "replaced\n");
    const kept = await put("/content", { path: "docs/a.txt", overwrite: "false" }, "nope");
    assert.equal(kept.status, 409);
    assert.equal((await json(kept)).error.code, "PATH_EXISTS");
    assert.equal(await sh("cat /workspace/docs/a.txt"), "#!/bin/sh\necho replaced\n");
    const noFolder = await put("/content", { path: "nowhere/x.txt" }, "x");
    assert.equal(noFolder.status, 404);
    assert.match((await json(noFolder)).error.message, /parents=true/);

    // mkdir, move, delete.
    const deep = await api(s, "POST", url("/mkdir", {}), { body: { path: "a/b/c" } });
    assert.equal(deep.status, 404, "a missing parent without parents");
    const made = await api(s, "POST", url("/mkdir", {}), { body: { path: "a/b/c", parents: true } });
    assert.equal(made.status, 201);
    assert.deepEqual([made.body.path, made.body.type], ["/workspace/a/b/c", "dir"]);
    assert.equal((await api(s, "POST", url("/mkdir", {}), { body: { path: "a/b" } })).body.error.code, "PATH_EXISTS");
    const moved = await api(s, "POST", url("/move", {}), { body: { from: "docs/a.txt", to: "a/b/c/moved.sh" } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.deepEqual([moved.body.path, moved.body.mode], ["/workspace/a/b/c/moved.sh", 0o755]);
    const taken = await api(s, "POST", url("/move", {}), { body: { from: "docs/bin", to: "a/b/c/moved.sh" } });
    assert.equal(taken.body.error.code, "PATH_EXISTS");
    assert.equal((await api(s, "POST", url("/move", {}), { body: { from: "docs/bin", to: "a/b/c/moved.sh", overwrite: true } })).status, 200);
    assert.equal(await sh("wc -c < /workspace/a/b/c/moved.sh"), "256\n");
    const notEmpty = await api(s, "DELETE", url("", { path: "a" }));
    assert.equal(notEmpty.status, 409);
    assert.equal(notEmpty.body.error.code, "DIRECTORY_NOT_EMPTY");
    assert.equal((await api(s, "DELETE", url("", { path: "a", recursive: "true" }))).status, 204);
    assert.equal((await api(s, "DELETE", url("", { path: "docs", recursive: "true" }))).status, 204);
    assert.equal(await sh("ls -A /workspace"), "");
    assert.equal((await api(s, "DELETE", url("", { path: "docs" }))).body.error.code, "PATH_NOT_FOUND");

    // The home folder is the sandbox user's own; symlinks that stay inside are followed.
    assert.equal((await put("/content", { path: "/home/outpost/.config/tool/settings.json", parents: "true" }, "{}")).status, 200);
    assert.equal(await sh('cat "$HOME/.config/tool/settings.json"'), "{}");
    await sh("ln -s /home/outpost/.config /workspace/config-link");
    assert.equal(await (await get("/content", { path: "config-link/tool/settings.json" })).text(), "{}");
    const withLink = await api(s, "GET", url("", { path: "/workspace" }));
    assert.deepEqual(withLink.body.entries, [
      {
        name: "config-link",
        type: "symlink",
        size: withLink.body.entries[0].size,
        mtime: withLink.body.entries[0].mtime,
        mode: 0o777,
        target: "/home/outpost/.config",
      },
    ]);
    await sh("rm /workspace/config-link");
  });

  test("../, absolute paths outside and symlinks that lead out are refused, and nothing outside changes", async () => {
    const otherHome = join(s.dataDir, "sandboxes", other.id, "home");
    await sh("echo secret > $HOME/mine.txt", other.id);
    await sh(
      [
        "echo original > /tmp/victim",
        "ln -s /etc /workspace/etc-link",
        "ln -s /etc/passwd /workspace/passwd-link",
        "ln -s /tmp /workspace/tmp-link",
        "ln -s /tmp/victim /workspace/victim-link",
        `ln -s ${otherHome} /workspace/other-home`,
        "ln -s ../../etc /workspace/relative-out",
      ].join(" && "),
    );
    const refused = async (what: string, response: Promise<Response | { status: number; body: any }>) => {
      const { status, body } = await jsonResponse(await response);
      assert.equal(status, 403, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "PATH_OUTSIDE_SANDBOX", what);
      assert.match(body.error.hint, /\/workspace or \/home\/outpost/, what);
    };
    for (const path of [
      "../",
      "../etc/passwd",
      "/etc/passwd",
      "/workspace/../etc",
      "/workspace/../etc/passwd",
      "/tmp",
      "/",
      "/home",
      "/proc/1/environ",
      "/run/outpost/token",
    ]) {
      await refused(`GET files ${path}`, get("", { path }));
      await refused(`GET content ${path}`, get("/content", { path }));
    }
    for (const path of ["etc-link", "etc-link/passwd", "passwd-link", "tmp-link", "victim-link", "other-home", "other-home/mine.txt", "relative-out/passwd"]) {
      await refused(`GET files ${path}`, get("", { path }));
      await refused(`GET content ${path}`, get("/content", { path }));
      await refused(`GET archive ${path}`, get("/archive", { path }));
      await refused(`GET watch ${path}`, get("/watch", { path }));
    }
    // Writes: nothing lands outside, whatever the path goes through.
    await refused("PUT /etc/x", put("/content", { path: "/etc/x" }, "x"));
    await refused("PUT /tmp/evil", put("/content", { path: "/tmp/evil" }, "x"));
    await refused("PUT through a folder symlink", put("/content", { path: "tmp-link/evil" }, "x"));
    await refused("PUT through a file symlink", put("/content", { path: "victim-link" }, "pwned"));
    await refused("PUT into another sandbox", put("/content", { path: "other-home/mine.txt" }, "pwned"));
    await refused("PUT parents through a symlink", put("/content", { path: "tmp-link/a/b/evil", parents: "true" }, "x"));
    await refused("PUT archive through a symlink", put("/archive", { path: "tmp-link/unpacked" }, null));
    await refused("mkdir", api(s, "POST", url("/mkdir", {}), { body: { path: "tmp-link/made", parents: true } }).then(jsonResponse));
    await refused("move out", api(s, "POST", url("/move", {}), { body: { from: "passwd-link", to: "tmp-link/moved" } }).then(jsonResponse));
    await refused("move in", api(s, "POST", url("/move", {}), { body: { from: "tmp-link/victim", to: "stolen" } }).then(jsonResponse));
    await refused("delete through a symlink", api(s, "DELETE", url("", { path: "tmp-link/victim" })).then(jsonResponse));
    await refused("delete /tmp/victim", api(s, "DELETE", url("", { path: "/tmp/victim" })).then(jsonResponse));
    assert.equal(await sh("cat /tmp/victim; ls /tmp | grep -c -e evil -e made -e moved -e unpacked || true"), "original\n0\n");
    assert.equal(await sh("cat $HOME/mine.txt", other.id), "secret\n");
    assert.equal(await sh("ls -A /workspace | sort | tr '\\n' ' '"), "etc-link other-home passwd-link relative-out tmp-link victim-link ");

    // Deleting a symlink removes the link, never its target.
    assert.equal((await api(s, "DELETE", url("", { path: "victim-link" }))).status, 204);
    assert.equal((await api(s, "DELETE", url("", { path: "tmp-link", recursive: "true" }))).status, 204);
    assert.equal(await sh("cat /tmp/victim; ls /workspace | grep -c link || true"), "original\n2\n");
    await sh("rm -f /workspace/*-link /workspace/other-home /workspace/relative-out /tmp/victim");
  });

  test("a symlink swapped in while a file is written is replaced, never written through", async () => {
    await sh("echo original > /tmp/victim && mkdir -p /workspace/race");
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = controller;
      },
    });
    const chunk = Buffer.alloc(64 * 1024, "a");
    push.enqueue(chunk);
    const answer = put("/content", { path: "race/target.txt" }, body as RequestInit["body"]);
    // The upload is under way once its temporary file exists next to the target.
    await until("the upload's temporary file exists", async () => (await sh("ls -A /workspace/race")).includes(".outpost-tmp"));
    // Swap both the folder and the name for symlinks that lead out.
    await sh("mv /workspace/race /workspace/race-moved && ln -s /tmp /workspace/race && ln -s /tmp/victim /workspace/race-moved/target.txt");
    push.enqueue(chunk);
    push.close();
    const res = await answer;
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(
      await sh(
        "cat /tmp/victim; test -e /tmp/target.txt && echo leaked; stat -c %F /workspace/race-moved/target.txt; wc -c < /workspace/race-moved/target.txt",
      ),
      `original\nregular file\n${2 * chunk.length}\n`,
    );
    assert.equal(await sh("ls -A /workspace/race-moved"), "target.txt\n", "no temporary file is left behind");

    // A cancelled upload commits nothing and leaves nothing behind.
    const aborted = new AbortController();
    let pushMore!: ReadableStreamDefaultController<Uint8Array>;
    const partial = new ReadableStream<Uint8Array>({
      start(controller) {
        pushMore = controller;
      },
    });
    pushMore.enqueue(chunk);
    const cancelled = fetch(`${s.url}${url("/content", { path: "race-moved/target.txt" })}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${s.token}` },
      body: partial,
      duplex: "half",
      signal: aborted.signal,
    } as RequestInit).catch((error: Error) => error);
    await until("the second upload's temporary file exists", async () => (await sh("ls -A /workspace/race-moved")).includes(".outpost-tmp"));
    aborted.abort();
    assert.ok((await cancelled) instanceof Error);
    await until("the cancelled upload's temporary file is gone", async () => (await sh("ls -A /workspace/race-moved")) === "target.txt\n");
    assert.equal(await sh("wc -c < /workspace/race-moved/target.txt"), `${2 * chunk.length}\n`, "the file is as it was");
    await sh("rm -rf /workspace/race /workspace/race-moved /tmp/victim");
  });

  test("a 50 MB folder round-trips through tar byte for byte", async () => {
    const longName = `${"long-name-".repeat(15)}end.txt`;
    await sh(
      [
        "mkdir -p /workspace/tree/a/b/c /workspace/tree/empty-dir",
        "head -c 41943040 /dev/urandom > /workspace/tree/big.bin",
        "for i in $(seq 1 100); do head -c $((100000 + i)) /dev/urandom > /workspace/tree/a/b/f$i; done",
        `printf 'long' > /workspace/tree/a/b/c/${longName}`,
        "printf 'unicode' > '/workspace/tree/naïve – ü.txt'",
        ": > /workspace/tree/empty",
        "printf '#!/bin/sh\\n' > /workspace/tree/run.sh && chmod 755 /workspace/tree/run.sh",
        "ln -s a/b /workspace/tree/link",
      ].join(" && "),
    );
    const sums = async (root: string) => (await sh(`cd ${root} && find . -type f -exec sha256sum {} +`)).trim().split("\n").sort();
    const original = await sums("/workspace/tree");
    assert.equal(original.length, 105);

    // Download: the archive streams to disk here; the system's tar reads it.
    const archive = join(scratch, "tree.tar");
    const download = await get("/archive", { path: "tree" });
    assert.equal(download.status, 200);
    assert.equal(download.headers.get("content-type"), "application/x-tar");
    await pipeline(Readable.fromWeb(download.body as never), createWriteStream(archive));
    assert.ok(statSync(archive).size > 50_000_000, `the archive holds the data (${statSync(archive).size} bytes)`);
    const unpacked = join(scratch, "unpacked");
    mkdirSync(unpacked);
    const tar = spawnSync("tar", ["-x", "-f", archive, "-C", unpacked], { encoding: "utf8" });
    assert.equal(tar.status, 0, tar.stderr);
    assert.deepEqual(localSums(unpacked), original, "GNU tar reads every file back as it was");
    assert.equal(readlinkSync(join(unpacked, "link")), "a/b");

    // Upload the same archive elsewhere: every file arrives as it was.
    const upload = await put("/archive", { path: "/home/outpost/copy" }, Readable.toWeb(createReadStream(archive)) as never, {
      "content-type": "application/x-tar",
    });
    const summary = await json(upload);
    assert.equal(upload.status, 200, JSON.stringify(summary));
    assert.deepEqual([summary.path, summary.files, summary.symlinks, summary.skippedCount], ["/home/outpost/copy", 105, 1, 0]);
    assert.ok(summary.bytes > 50_000_000);
    assert.deepEqual(await sums("/home/outpost/copy"), original);
    assert.equal(
      await sh("readlink /home/outpost/copy/link; stat -c %a /home/outpost/copy/run.sh; test -d /home/outpost/copy/empty-dir && echo dir"),
      "a/b\n755\ndir\n",
    );

    // What `tar -c` writes (GNU format, ./ names, long-name headers) unpacks too.
    const gnu = join(scratch, "gnu.tar");
    assert.equal(spawnSync("tar", ["-c", "-f", gnu, "-C", unpacked, "."]).status, 0);
    const fromGnu = await put("/archive", { path: "from-gnu" }, readFileSync(gnu), { "content-type": "application/x-tar" });
    assert.equal(fromGnu.status, 200, await fromGnu.clone().text());
    assert.deepEqual(await sums("/workspace/from-gnu"), original);
    await sh("rm -rf /workspace/tree /workspace/from-gnu /home/outpost/copy");
  });

  test("uploaded archives that reach outside are refused and write nothing outside", async () => {
    await sh("mkdir -p /workspace/inside");
    const cases: [string, Buffer][] = [
      ["an absolute name", tarOf([{ name: "/tmp/evil-abs", data: "x" }])],
      ["a .. name", tarOf([{ name: "../evil-dotdot", data: "x" }])],
      ["a nested .. name", tarOf([{ name: "ok/../../evil-nested", data: "x" }])],
      ["a symlink to /tmp", tarOf([{ name: "out", type: "2", linkname: "/tmp" }])],
      ["a relative symlink climbing out", tarOf([{ name: "out", type: "2", linkname: "../../../tmp" }])],
      ["a symlink climbing through another name", tarOf([{ name: "sub/up", type: "2", linkname: "../x/../../.." }])],
      [
        "a file through a symlink inside",
        tarOf([
          { name: "sub", type: "5" },
          { name: "hop", type: "2", linkname: "sub" },
          { name: "hop/evil", data: "x" },
        ]),
      ],
      ["a hard link to /tmp", tarOf([{ name: "hard", type: "1", linkname: "/tmp/victim" }])],
      ["a hard link with ..", tarOf([{ name: "hard", type: "1", linkname: "../../tmp/victim" }])],
    ];
    await sh("echo original > /tmp/victim");
    for (const [what, archive] of cases) {
      const res = await put("/archive", { path: "inside" }, archive);
      const body = await json(res);
      assert.equal(res.status, 403, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "PATH_OUTSIDE_SANDBOX", what);
    }
    assert.equal(await sh("cat /tmp/victim; ls /tmp /workspace | grep -c evil || true"), "original\n0\n");
    const notTar = await put("/archive", { path: "inside" }, "this is not a tar archive, nowhere near one; it is long enough to fill a header block? no");
    assert.equal(notTar.status, 400);
    assert.equal((await json(notTar)).error.code, "INVALID_ARCHIVE");
    const devices = await put(
      "/archive",
      { path: "inside" },
      tarOf([
        { name: "fifo", type: "6" },
        { name: "kept.txt", data: "kept" },
      ]),
    );
    const summary = await json(devices);
    assert.equal(devices.status, 200, JSON.stringify(summary));
    assert.deepEqual([summary.files, summary.skippedCount, summary.skipped[0].path], [1, 1, "fifo"]);
    await sh("rm -rf /workspace/inside /tmp/victim");
  });

  test("the change feed shows the folder, then files that commands create and delete", async () => {
    await sh("mkdir -p /workspace/watched && echo before > /workspace/watched/old.txt");
    const snapshotOnly = await collectSse(`${s.url}${url("/watch", { path: "watched", follow: "false" })}`, { token: s.token, until: () => false });
    assert.deepEqual(
      snapshotOnly.map((e) => [e.event, e.data.entries?.map((x: { name: string }) => x.name)]),
      [["snapshot", ["old.txt"]]],
    );
    let created = false;
    let deleted = false;
    const events = await collectSse(`${s.url}${url("/watch", { path: "watched" })}`, {
      token: s.token,
      until: (seen) => {
        const last = seen.at(-1);
        if (last?.event === "snapshot" && !created) {
          created = true;
          void sh("echo hi > /workspace/watched/new.txt");
        }
        if (last?.event === "change" && last.data.name === "new.txt" && last.data.entry?.size === 3 && !deleted) {
          deleted = true;
          void sh("rm /workspace/watched/old.txt");
        }
        return seen.some((e) => e.event === "change" && e.data.name === "old.txt" && e.data.entry === null);
      },
    });
    assert.equal(events[0]?.event, "snapshot");
    assert.equal(events[0]?.data.path, "/workspace/watched");
    const change = events.find((e) => e.event === "change" && e.data.name === "new.txt" && e.data.entry);
    assert.deepEqual([change?.data.path, change?.data.entry.type, change?.data.entry.size], ["/workspace/watched/new.txt", "file", 3]);
    assert.ok(!events.some((e) => e.event === "error"), JSON.stringify(events));

    // The feed ends, saying why, when the folder itself goes.
    const ending = await collectSse(`${s.url}${url("/watch", { path: "watched" })}`, {
      token: s.token,
      until: (seen) => {
        if (seen.length === 1) void sh("rm -rf /workspace/watched");
        return seen.some((e) => e.event === "end");
      },
    });
    assert.match(ending.at(-1)?.data.reason, /deleted|moved/);
  });

  test("bad input is a 400 and changes nothing", async () => {
    const bad = async (what: string, res: { status: number; body: { error: { code: string } } }) => {
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "VALIDATION_FAILED", what);
    };
    const base = `/api/v1/sandboxes/${box.id}/files`;
    await bad("no path", await api(s, "GET", base));
    await bad("an empty path", await api(s, "GET", `${base}?path=`));
    await bad("two paths", await api(s, "GET", `${base}?path=a&path=b`));
    await bad("a huge path", await api(s, "GET", `${base}?path=${"a".repeat(5000)}`));
    await bad("a NUL in the path", await api(s, "GET", `${base}/content?path=a%00b`));
    await bad("an unknown query field", await api(s, "GET", `${base}?path=a&recurse=1`));
    await bad("a bad flag", await api(s, "DELETE", `${base}?path=a&recursive=yes`));
    await bad("PUT with an unknown field", await jsonResponse(await put("/content", { path: "x", owner: "root" }, "x")));
    await bad("PUT with a mode that is not octal", await jsonResponse(await put("/content", { path: "x", mode: "999" }, "x")));
    await bad("PUT without a path", await jsonResponse(await put("/content", {}, "x")));
    await bad("mkdir with an unknown field", await api(s, "POST", `${base}/mkdir`, { body: { path: "x", recursive: true } }));
    await bad("mkdir with a number for a path", await api(s, "POST", `${base}/mkdir`, { body: { path: 7 } }));
    await bad("mkdir with a path list", await api(s, "POST", `${base}/mkdir`, { body: { path: ["a", "b"] } }));
    await bad("move without to", await api(s, "POST", `${base}/move`, { body: { from: "x" } }));
    await bad("move with a huge path", await api(s, "POST", `${base}/move`, { body: { from: "x", to: "y".repeat(5000) } }));
    await bad("a path with a NUL in a body", await api(s, "POST", `${base}/mkdir`, { body: { path: "a\u0000b" } }));
    assert.equal(await sh("ls -A /workspace"), "");
    const missing = await api(s, "GET", "/api/v1/sandboxes/sbx_nothere000000000/files?path=x");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "SANDBOX_NOT_FOUND");
  });

  test("a stopped sandbox answers 409 with a hint to start it", async () => {
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${other.id}/stop`)).status, 202);
    await waitForPhase(s, other.id, ["stopped"]);
    for (const res of [
      await api(s, "GET", url("", { path: "/workspace" }, other.id)),
      await api(s, "GET", url("/content", { path: "x" }, other.id)),
      await api(s, "POST", url("/mkdir", {}, other.id), { body: { path: "x" } }),
      await jsonResponse(
        await fetch(`${s.url}${url("/content", { path: "x" }, other.id)}`, { method: "PUT", headers: { authorization: `Bearer ${s.token}` }, body: "x" }),
      ),
    ]) {
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "SANDBOX_WRONG_PHASE");
      assert.match(res.body.error.message, /stopped.*start it first/);
      assert.match(res.body.error.hint, /outpost sandbox start/);
    }
  });
});

/** A fetch Response's JSON body, typed loosely as tests read it. */
const json = (res: Response): Promise<any> => res.json();

/** A fetch Response as { status, body } (JSON). */
async function jsonResponse(res: Response | { status: number; body: any }): Promise<{ status: number; body: any }> {
  if (!(res instanceof Response)) return res;
  return { status: res.status, body: await json(res) };
}

/** Polls `condition` (each poll runs a command in the sandbox) until it holds, for at most 20 s. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

/** sha256sum's lines ("<hex>  ./<path>") for every file under `root`, sorted. */
function localSums(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) lines.push(`${createHash("sha256").update(readFileSync(path)).digest("hex")}  ./${relative(root, path)}`);
    }
  };
  walk(root);
  return lines.sort();
}

/**
 * A tar archive with exactly these entries, written here byte by byte (ustar headers) so
 * the test can say things a well-behaved tar would refuse to write.
 */
function tarOf(entries: { name: string; type?: string; data?: string; linkname?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = Buffer.from(entry.data ?? "");
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write("00000000000\0", 136);
    header.write(entry.type ?? "0", 156);
    header.write(entry.linkname ?? "", 157, 100);
    header.write("ustar\u000000", 257);
    header.fill(" ", 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
