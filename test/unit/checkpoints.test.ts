// The pure parts of checkpoints (src/domain/git/checkpoints.ts): ref names, the commit's
// shape and message, reading a checkpoint commit and a bundle header back, and how HEAD is
// put back.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  branchFromSymbolicRef,
  checkpointCommitArgs,
  checkpointMessage,
  checkpointRef,
  indexCommitArgs,
  isPlausibleBranch,
  parseBundleHeader,
  parseCheckpointCommit,
  restoreHeadCommands,
} from "../../src/domain/git/checkpoints.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const T = "d".repeat(40);

describe("checkpoint refs and commits", () => {
  test("refs live under refs/outpost/checkpoints and take only checkpoint ids", () => {
    assert.equal(checkpointRef("chk_abcdef123456"), "refs/outpost/checkpoints/chk_abcdef123456");
    assert.throws(() => checkpointRef("../heads/main"));
    assert.throws(() => checkpointRef("chk_ABC; rm"));
  });

  test("the checkpoint commit has HEAD and the index commit as parents, when there is a HEAD", () => {
    assert.deepEqual(checkpointCommitArgs(T, A, B, "m"), ["commit-tree", T, "-p", A, "-p", B, "-m", "m"]);
    assert.deepEqual(checkpointCommitArgs(T, null, B, "m"), ["commit-tree", T, "-p", B, "-m", "m"]);
    assert.deepEqual(indexCommitArgs(T, A), ["commit-tree", T, "-p", A, "-m", "Outpost checkpoint: the index\n"]);
    assert.deepEqual(indexCommitArgs(T, null).slice(0, 3), ["commit-tree", T, "-m"]);
  });

  test("a checkpoint commit reads back into tree, index commit, HEAD and branch", () => {
    const message = checkpointMessage({ id: "chk_abcdef123456", reason: "turn", branch: "outpost/fix-login", head: A });
    const raw = `tree ${T}\nparent ${A}\nparent ${B}\nauthor Outpost checkpoint <checkpoint@outpost.local> 1 +0000\ncommitter Outpost checkpoint <checkpoint@outpost.local> 1 +0000\n\n${message}`;
    assert.deepEqual(parseCheckpointCommit(raw), { tree: T, indexCommit: B, head: A, branch: "outpost/fix-login", id: "chk_abcdef123456", reason: "turn" });
  });

  test("no commit yet and a detached HEAD read back as nulls", () => {
    const unborn = `tree ${T}\nparent ${B}\n\n${checkpointMessage({ id: "chk_abcdef123456", reason: "manual", branch: "main", head: null })}`;
    assert.deepEqual(parseCheckpointCommit(unborn), { tree: T, indexCommit: B, head: null, branch: "main", id: "chk_abcdef123456", reason: "manual" });
    const detached = `tree ${T}\nparent ${A}\nparent ${B}\n\n${checkpointMessage({ id: "chk_abcdef123456", reason: "turn", branch: null, head: A })}`;
    assert.equal(parseCheckpointCommit(detached)?.branch, null);
  });

  test("anything else is not a checkpoint", () => {
    assert.equal(parseCheckpointCommit(`tree ${T}\n\nno parents`), null);
    assert.equal(parseCheckpointCommit(`tree ${T}\nparent ${A}\nparent ${B}\nparent ${C}\n\nthree`), null);
    assert.equal(parseCheckpointCommit(`tree nothex\nparent ${A}\n\nx`), null);
    assert.equal(parseCheckpointCommit(""), null);
  });

  test("branch names come from symbolic-ref output and are checked", () => {
    assert.equal(branchFromSymbolicRef("refs/heads/main\n"), "main");
    assert.equal(branchFromSymbolicRef("refs/heads/outpost/a-b\n"), "outpost/a-b");
    assert.equal(branchFromSymbolicRef(""), null);
    assert.equal(branchFromSymbolicRef("refs/remotes/origin/main"), null);
    assert.ok(isPlausibleBranch("outpost/fix-login"));
    for (const bad of ["-x", "a..b", "a b", "a~1", "x.lock", "a\nb", "@{u}", "/a", "a/"]) assert.equal(isPlausibleBranch(bad), false, bad);
  });
});

describe("putting HEAD back", () => {
  test("same branch: the branch moves back", () => {
    assert.deepEqual(restoreHeadCommands({ branch: "main", head: A }, "main"), [["update-ref", "-m", "outpost: restore checkpoint", "refs/heads/main", A]]);
  });

  test("another branch checked out now: HEAD points at the recorded one, which moves back", () => {
    assert.deepEqual(restoreHeadCommands({ branch: "main", head: A }, "feature"), [
      ["symbolic-ref", "-m", "outpost: restore checkpoint", "HEAD", "refs/heads/main"],
      ["update-ref", "-m", "outpost: restore checkpoint", "refs/heads/main", A],
    ]);
  });

  test("detached then: HEAD is detached at the commit", () => {
    assert.deepEqual(restoreHeadCommands({ branch: null, head: A }, "main"), [["update-ref", "--no-deref", "-m", "outpost: restore checkpoint", "HEAD", A]]);
  });

  test("no commit then: the branch is unborn again", () => {
    assert.deepEqual(restoreHeadCommands({ branch: "main", head: null }, "main"), [["update-ref", "-d", "refs/heads/main"]]);
  });
});

describe("bundle headers", () => {
  const pack = Buffer.from("PACK\0\0\0\x02");

  test("v2 with a prerequisite and a ref", () => {
    const head = Buffer.concat([Buffer.from(`# v2 git bundle\n-${A} previous\n${B} refs/outpost/checkpoints/chk_abcdef123456\n\n`), pack]);
    const parsed = parseBundleHeader(head);
    assert.deepEqual(parsed?.prerequisites, [A]);
    assert.deepEqual(parsed?.refs, [{ sha: B, name: "refs/outpost/checkpoints/chk_abcdef123456" }]);
    assert.equal(head.subarray(parsed!.packOffset, parsed!.packOffset + 4).toString(), "PACK");
  });

  test("v3 with sha1 only; anything odd is refused", () => {
    assert.ok(parseBundleHeader(Buffer.concat([Buffer.from(`# v3 git bundle\n@object-format=sha1\n${B} refs/x\n\n`), pack])));
    assert.equal(parseBundleHeader(Buffer.concat([Buffer.from(`# v3 git bundle\n@object-format=sha256\n${B} refs/x\n\n`), pack])), null);
    assert.equal(parseBundleHeader(Buffer.concat([Buffer.from(`# v4 git bundle\n${B} refs/x\n\n`), pack])), null);
    assert.equal(parseBundleHeader(Buffer.concat([Buffer.from(`# v2 git bundle\nnot-a-sha refs/x\n\n`), pack])), null);
    assert.equal(parseBundleHeader(Buffer.from(`# v2 git bundle\n${B} refs/x\n\nNOTAPACK`)), null);
    assert.equal(parseBundleHeader(Buffer.from(`# v2 git bundle\n${B} refs/x\n`)), null);
  });
});
