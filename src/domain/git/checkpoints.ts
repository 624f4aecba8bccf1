// Checkpoints (issue 18): before each agent turn the sandbox's working tree (tracked and
// untracked files, not ignored ones), its index and its HEAD are recorded as one commit under
// a private ref, `refs/outpost/checkpoints/<chk id>`. No refspec names refs/outpost/*, so a
// push never sends them. The commit's shape says everything a restore needs:
//   tree       the working tree (`git add -A` into a temporary index)
//   parent 1   HEAD when it was taken (absent when the repository had no commit yet)
//   parent 2   a commit whose tree is the index (the real one, staged changes)
//   message    the branch and HEAD, as trailers
// Pure: names, argv and parsing only; the service runs them.
import { isIdOf } from "../ids.ts";

export const CHECKPOINT_REF_PREFIX = "refs/outpost/checkpoints/";

export const CHECKPOINT_REASONS = ["turn", "before-restore", "manual"] as const;
export type CheckpointReason = (typeof CHECKPOINT_REASONS)[number];

/** Who "made" checkpoint commits: fixed, so they never look like the agent's or a person's. */
export const CHECKPOINT_IDENTITY: Readonly<Record<string, string>> = {
  GIT_AUTHOR_NAME: "Outpost checkpoint",
  GIT_AUTHOR_EMAIL: "checkpoint@outpost.local",
  GIT_COMMITTER_NAME: "Outpost checkpoint",
  GIT_COMMITTER_EMAIL: "checkpoint@outpost.local",
};

/**
 * Options put before every git command Outpost runs on the sandbox's repository for a
 * checkpoint: no hooks (a reference-transaction or post-index-change hook of the agent's
 * must not run, or fail, our plumbing), no fsmonitor daemon, no automatic gc (it could prune
 * what a restore just fetched), and modes and symlinks recorded as they are whatever the
 * repository's config says, so a restore gives them back.
 */
export const SANDBOX_GIT_OPTIONS: readonly string[] = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "gc.auto=0",
  "-c",
  "maintenance.auto=false",
  "-c",
  "core.fileMode=true",
  "-c",
  "core.symlinks=true",
];

/**
 * The same for the bare repository on the host that keeps checkpoint objects: no hooks, and
 * every object fetched from a sandbox (whose git is the sandbox's, i.e. untrusted) checked.
 */
export const HOST_GIT_OPTIONS: readonly string[] = ["-c", "core.hooksPath=/dev/null", "-c", "transfer.fsckObjects=true", "-c", "gc.autoDetach=false"];

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export function isSha(value: string): boolean {
  return SHA.test(value);
}

export function checkpointRef(id: string): string {
  if (!isIdOf("checkpoint", id)) throw new Error(`not a checkpoint id: ${id}`);
  return `${CHECKPOINT_REF_PREFIX}${id}`;
}

/** What a checkpoint recorded about where the repository stood. */
export interface CheckpointHead {
  /** The branch checked out (short name), or null when HEAD was detached. */
  branch: string | null;
  /** The commit HEAD named, or null when the branch had no commit yet. */
  head: string | null;
}

export interface CheckpointMeta extends CheckpointHead {
  id: string;
  reason: CheckpointReason;
}

const TRAILER = { id: "Outpost-Checkpoint", reason: "Outpost-Reason", branch: "Outpost-Branch", head: "Outpost-Head" } as const;
const NONE = "(none)";

export function checkpointMessage(meta: CheckpointMeta): string {
  return [
    `Outpost checkpoint (${meta.reason})`,
    "",
    `${TRAILER.id}: ${meta.id}`,
    `${TRAILER.reason}: ${meta.reason}`,
    `${TRAILER.branch}: ${meta.branch ?? NONE}`,
    `${TRAILER.head}: ${meta.head ?? NONE}`,
    "",
  ].join("\n");
}

export const INDEX_COMMIT_MESSAGE = "Outpost checkpoint: the index\n";

/** The short branch name from `git symbolic-ref -q HEAD` output ("" or a non-branch: detached). */
export function branchFromSymbolicRef(output: string): string | null {
  const ref = output.trim();
  return ref.startsWith("refs/heads/") && ref.length > "refs/heads/".length ? ref.slice("refs/heads/".length) : null;
}

/** `git commit-tree` argv for the checkpoint commit (the index commit is made first). */
export function checkpointCommitArgs(worktreeTree: string, head: string | null, indexCommit: string, message: string): string[] {
  return ["commit-tree", worktreeTree, ...(head ? ["-p", head] : []), "-p", indexCommit, "-m", message];
}

export function indexCommitArgs(indexTree: string, head: string | null): string[] {
  return ["commit-tree", indexTree, ...(head ? ["-p", head] : []), "-m", INDEX_COMMIT_MESSAGE];
}

/** A checkpoint commit as read back (`git cat-file commit <sha>`). */
export interface ParsedCheckpoint extends CheckpointHead {
  /** The working tree's tree. */
  tree: string;
  /** The commit whose tree is the index. */
  indexCommit: string;
  id: string | null;
  reason: string | null;
}

/** Reads a checkpoint commit's raw text; null when it does not have a checkpoint's shape. */
export function parseCheckpointCommit(raw: string): ParsedCheckpoint | null {
  const split = raw.indexOf("\n\n");
  const headerText = split === -1 ? raw : raw.slice(0, split);
  const message = split === -1 ? "" : raw.slice(split + 2);
  let tree: string | null = null;
  const parents: string[] = [];
  for (const line of headerText.split("\n")) {
    if (line.startsWith("tree ")) tree = line.slice(5);
    else if (line.startsWith("parent ")) parents.push(line.slice(7));
  }
  if (!tree || !isSha(tree) || parents.length < 1 || parents.length > 2 || !parents.every(isSha)) return null;
  const trailers = new Map<string, string>();
  for (const line of message.split("\n")) {
    const match = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (match) trailers.set(match[1]!, match[2]!);
  }
  const value = (key: string): string | null => {
    const found = trailers.get(key);
    return found === undefined || found === NONE ? null : found;
  };
  const head = parents.length === 2 ? parents[0]! : null;
  return { tree, indexCommit: parents[parents.length - 1]!, head, branch: value(TRAILER.branch), id: value(TRAILER.id), reason: value(TRAILER.reason) };
}

/**
 * The git commands (argv after `git`) that put HEAD back where a checkpoint found it, given
 * the branch checked out now. The working tree and index are restored before these run, so
 * switching branch is only pointing HEAD at it; commits made since on that branch stay
 * reachable from the "before-restore" checkpoint, whose first parent is the HEAD of then.
 */
export function restoreHeadCommands(recorded: CheckpointHead, currentBranch: string | null): string[][] {
  const message = "outpost: restore checkpoint";
  const commands: string[][] = [];
  if (recorded.branch !== null) {
    const ref = `refs/heads/${recorded.branch}`;
    if (currentBranch !== recorded.branch) commands.push(["symbolic-ref", "-m", message, "HEAD", ref]);
    // No commit then: the branch is unborn again (deleting a missing ref is no error).
    commands.push(recorded.head ? ["update-ref", "-m", message, ref, recorded.head] : ["update-ref", "-d", ref]);
  } else if (recorded.head !== null) {
    commands.push(["update-ref", "--no-deref", "-m", message, "HEAD", recorded.head]);
  }
  return commands;
}

/** A branch name read from a sandbox, safe to put after `refs/heads/` (git's own rules, in short). */
export function isPlausibleBranch(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    !name.startsWith("-") &&
    !name.startsWith("/") &&
    !name.endsWith("/") &&
    !name.endsWith(".lock") &&
    !name.includes("..") &&
    !name.includes("@{") &&
    !/[\x00-\x20\x7f~^:?*[\\]/.test(name)
  );
}

/** A git bundle's header (v2 or v3): what the pack needs, what it brings, where the pack starts. */
export interface BundleHeader {
  prerequisites: string[];
  refs: { sha: string; name: string }[];
  /** Byte offset of the pack data ("PACK…"). */
  packOffset: number;
}

/**
 * Reads a bundle's header from its first bytes. The bundle came out of a sandbox, so
 * anything unexpected is null, never a guess. Outpost unpacks the pack itself
 * (`git index-pack --strict`) because `git fetch <bundle>` (git 2.39) skips fsck.
 */
export function parseBundleHeader(head: Buffer): BundleHeader | null {
  const end = head.indexOf("\n\n");
  if (end === -1) return null;
  const lines = head.subarray(0, end).toString("latin1").split("\n");
  const signature = lines.shift();
  if (signature !== "# v2 git bundle" && signature !== "# v3 git bundle") return null;
  const prerequisites: string[] = [];
  const refs: { sha: string; name: string }[] = [];
  for (const line of lines) {
    if (line.startsWith("@")) {
      // v3 capabilities: only the default object format is understood.
      if (line !== "@object-format=sha1") return null;
    } else if (line.startsWith("-")) {
      const sha = line.slice(1).split(" ")[0] ?? "";
      if (!isSha(sha)) return null;
      prerequisites.push(sha);
    } else {
      const space = line.indexOf(" ");
      const sha = line.slice(0, space);
      const name = line.slice(space + 1);
      if (space === -1 || !isSha(sha) || !name) return null;
      refs.push({ sha, name });
    }
  }
  if (head.subarray(end + 2, end + 6).toString("latin1") !== "PACK") return null;
  return { prerequisites, refs, packOffset: end + 2 };
}
