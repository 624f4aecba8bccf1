// `outpost cp` as a user runs it, against a real server and a real sandbox: files and
// folders both ways, into existing folders, stdin and stdout, and the errors people meet.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { apiJson, childEnv, exitOf, OUTPOST_BIN, type OutpostServer, REPO_ROOT, runCli, STACK_FRAME, startOutpost, tempDir } from "./harness.ts";

describe("outpost cp", () => {
  let server: OutpostServer;
  let box: string;
  const local = tempDir("outpost-cp-test-");
  const cli = (...args: string[]) => runCli(args, server.cliEnv, 90_000);
  const inBox = async (command: string) => {
    const res = await cli("exec", box, "--", "sh", "-c", command);
    assert.equal(res.code, 0, res.stderr);
    return res.stdout;
  };

  before(async () => {
    server = await startOutpost();
    assert.equal((await cli("project", "create", "cpp")).code, 0);
    const created = await cli("sandbox", "create", "cpp");
    assert.equal(created.code, 0, created.stderr);
    box = /(cpp-[a-z0-9]{6}) is running/.exec(created.stderr)?.[1] as string;
    assert.ok(box, created.stderr);
  });
  after(async () => {
    if (server) {
      const list = await apiJson<{ items: { id: string }[] }>(server, "GET", "/api/v1/sandboxes");
      for (const sandbox of list.body?.items ?? []) await cli("sandbox", "delete", sandbox.id);
      await server.stop();
    }
    rmSync(local, { recursive: true, force: true });
  });

  test("a file goes both ways, into folders, keeping its permissions; - is stdout and stdin", async () => {
    writeFileSync(join(local, "a.txt"), "hello from here\n");
    writeFileSync(join(local, "run.sh"), "#!/bin/sh\necho ran\n");
    chmodSync(join(local, "run.sh"), 0o755);
    await inBox("mkdir -p /workspace/notes");

    const into = await cli("cp", join(local, "a.txt"), `${box}:notes`);
    assert.equal(into.code, 0, into.stderr);
    assert.match(into.stderr, new RegExp(`copied .*a\\.txt to ${box}:/workspace/notes/a\\.txt \\(16 bytes\\)`));
    assert.equal(await inBox("cat /workspace/notes/a.txt"), "hello from here\n");
    assert.equal((await cli("cp", join(local, "run.sh"), `${box}:/home/outpost/run.sh`)).code, 0);
    assert.equal(await inBox("/home/outpost/run.sh"), "ran\n", "the executable bit came along");

    assert.equal((await cli("cp", `${box}:notes/a.txt`, join(local, "back.txt"))).code, 0);
    assert.equal(readFileSync(join(local, "back.txt"), "utf8"), "hello from here\n");
    mkdirSync(join(local, "folder"));
    assert.equal((await cli("cp", `${box}:/home/outpost/run.sh`, join(local, "folder"))).code, 0);
    assert.equal(readFileSync(join(local, "folder", "run.sh"), "utf8"), "#!/bin/sh\necho ran\n");
    assert.equal(statSync(join(local, "folder", "run.sh")).mode & 0o777, 0o755);

    const out = await cli("cp", `${box}:notes/a.txt`, "-");
    assert.deepEqual([out.code, out.stdout], [0, "hello from here\n"]);

    const child = spawn(process.execPath, [OUTPOST_BIN, "cp", "-", `${box}:notes/from-stdin.txt`], {
      cwd: REPO_ROOT,
      env: childEnv(server.cliEnv),
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.end("piped in\n");
    assert.equal((await exitOf(child)).code, 0);
    assert.equal(await inBox("cat /workspace/notes/from-stdin.txt"), "piped in\n");
  });

  test("a folder goes both ways through tar, byte for byte, symlinks included", async () => {
    const tree = join(local, "tree");
    mkdirSync(join(tree, "src", "deep"), { recursive: true });
    writeFileSync(join(tree, "src", "main.ts"), "export const x = 1;\n");
    writeFileSync(join(tree, "src", "deep", "data.bin"), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256)));
    writeFileSync(join(tree, `${"n".repeat(120)}.txt`), "a long name");
    symlinkSync("src/main.ts", join(tree, "entry"));

    const up = await cli("cp", tree, `${box}:project`);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, new RegExp(`to ${box}:/workspace/project \\(3 files`));
    const sums = (await inBox("cd /workspace/project && find . -type f -exec sha256sum {} +")).trim().split("\n").sort();
    assert.deepEqual(sums, localSums(tree));
    assert.equal(await inBox("readlink /workspace/project/entry"), "src/main.ts\n");

    // Into an existing folder, the copy takes the source's name.
    assert.equal((await cli("cp", tree, `${box}:project`)).code, 0);
    assert.equal(await inBox("test -f /workspace/project/tree/src/main.ts && echo there"), "there\n");

    const back = join(local, "back");
    const down = await cli("cp", `${box}:project`, back);
    assert.equal(down.code, 0, down.stderr);
    rmSync(join(back, "tree"), { recursive: true });
    assert.deepEqual(localSums(back), localSums(tree));
    assert.equal(readlinkSync(join(back, "entry")), "src/main.ts");

    const tarred = await cli("cp", `${box}:project/src`, "-");
    assert.equal(tarred.code, 0, tarred.stderr);
    assert.match(tarred.stdout, /main\.ts/, "a folder to stdout is a tar archive");
  });

  test("mistakes say what is wrong, without a stack trace", async () => {
    for (const args of [
      ["cp", join(local, "a.txt"), join(local, "b.txt")],
      ["cp", `${box}:a`, `${box}:b`],
      ["cp", `${box}:a`],
      ["cp", join(local, "missing"), `${box}:x`],
    ]) {
      const res = await cli(...args);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, STACK_FRAME);
    }
    const outside = await cli("cp", `${box}:/etc/passwd`, join(local, "passwd"));
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /PATH_OUTSIDE_SANDBOX/);
    assert.match(outside.stderr, /hint: .*\/workspace or \/home\/outpost/);
    assert.doesNotMatch(outside.stderr, STACK_FRAME);
    const missing = await cli("cp", `${box}:nothing-here`, join(local, "x"));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /PATH_NOT_FOUND/);
    const climbing = await cli("cp", join(local, "a.txt"), `${box}:../../etc/x`);
    assert.equal(climbing.code, 1);
    assert.match(climbing.stderr, /PATH_OUTSIDE_SANDBOX/);
  });
});

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
