// The `repository` stage of a sandbox's start: its workspace becomes the project's
// repository. Everything runs inside the sandbox as its user, through the egress proxy
// (which adds the token for the repository's host) or ssh (the deploy key stays on the
// host, behind the agent socket):
//   no repository yet, with a repoUrl → init, fetch, check out the default branch (a
//                                       workspace with files keeps them: git refuses to
//                                       overwrite an untracked file, and the stage says so)
//   no repository, no repoUrl         → `git init` (diffs and checkpoints need one)
//   a repository already              → fetch only: local work is never touched (one with no
//                                       commit yet, a first clone cut short, is finished)
// A fetch that fails on a later start (offline, key revoked) does not stop the sandbox.
import { OutpostError } from "../../domain/errors.ts";
import { repoEndpoint } from "../../domain/git/repo-url.ts";
import type { GitOutput, GitRunner } from "./git-runner.ts";
import { gitFailed } from "./git-runner.ts";
import { hasRepository, headSha } from "./operations.ts";

const NETWORK_TIMEOUT_MS = 30 * 60_000;
const PROGRESS_EVERY_MS = 1000;
/** In the git dir while the first checkout fills the working tree (see prepareRepository). */
const CHECKOUT_MARKER = "outpost-first-checkout";

export interface RepositoryProject {
  repoUrl: string | null;
  defaultBranch: string | null;
}

export type Progress = (message: string) => void;

/** Returns a one-line summary for the stage ("cloned main at 1a2b3c4", "fetched", …). */
export async function prepareRepository(runner: GitRunner, project: RepositoryProject, progress: Progress, signal: AbortSignal): Promise<string> {
  const existing = await hasRepository(runner, signal);
  // A repository without a commit yet, for a project with a URL: a first clone that did not
  // finish (it failed, or the control plane was killed mid-way) is finished now.
  const unfinished = existing && project.repoUrl !== null && (await headSha(runner, signal)) === null;
  if (existing && !unfinished) {
    if (!project.repoUrl) return "kept the workspace's repository";
    await ensureOrigin(runner, project.repoUrl, signal);
    const fetched = await runner.git(["fetch", "--prune", "--progress", "origin"], { signal, timeoutMs: NETWORK_TIMEOUT_MS, onStderr: throttled(progress) });
    if (fetched.code !== 0) return `kept the workspace; fetch failed: ${fetched.stderr.trim().split("\n").pop()?.slice(0, 300) ?? ""}`;
    return "fetched; the working tree is as it was";
  }
  const initial = project.defaultBranch ?? "main";
  if (!existing) await runner.gitOk(["init", "--quiet", `--initial-branch=${initial}`], { signal });
  if (!project.repoUrl) return `initialized an empty repository on ${initial}`;
  await ensureOrigin(runner, project.repoUrl, signal);
  progress("fetching");
  const fetched = await runner.git(["fetch", "--progress", "origin"], { signal, timeoutMs: NETWORK_TIMEOUT_MS, onStderr: throttled(progress) });
  if (fetched.code !== 0) throw cloneFailed(project.repoUrl, fetched);
  const branch = project.defaultBranch ?? (await remoteDefaultBranch(runner, signal));
  if (!branch) return "cloned an empty repository";
  await runner.git(["remote", "set-head", "origin", branch], { signal });
  const exists = await runner.git(["show-ref", "--verify", "--quiet", `refs/remotes/origin/${branch}`], { signal });
  if (exists.code !== 0) throw new OutpostError("GIT_REF_NOT_FOUND", `The repository has no branch '${branch}' (the project's defaultBranch).`);
  progress(`checking out ${branch}`);
  // `checkout -B` points the unborn branch at origin's and fills the working tree; an
  // untracked file in the way makes git refuse rather than overwrite it. A marker in the git
  // dir says a checkout is under way: found at a start, the last one was cut short (the
  // control plane killed): its index.lock and the files it wrote are its own leftovers, which
  // git checks for before writing any, so they are cleared and overwritten.
  const marker = await gitPath(runner, CHECKOUT_MARKER, signal);
  const cutShort = unfinished && (await runner.run(["test", "-e", marker], { signal })).code === 0;
  if (cutShort) await runner.run(["rm", "-f", "--", await gitPath(runner, "index.lock", signal)], { signal });
  else await runner.run(["touch", "--", marker], { signal });
  const checkout = ["checkout", "--quiet", ...(cutShort ? ["--force"] : []), "-B", branch, "--track", `origin/${branch}`];
  const checkedOut = await runner.git(checkout, { signal, timeoutMs: NETWORK_TIMEOUT_MS });
  // git ended by itself (done, or refusing): no leftovers of its own. Killed: the marker stays.
  if (checkedOut.code !== null) await runner.run(["rm", "-f", "--", marker], { signal });
  if (checkedOut.code !== 0) throw gitFailed(checkout, checkedOut);
  const submodules = await runner.git(["submodule", "update", "--init", "--recursive", "--progress"], {
    signal,
    timeoutMs: NETWORK_TIMEOUT_MS,
    onStderr: throttled(progress),
  });
  if (submodules.code !== 0) throw gitFailed(["submodule"], submodules);
  return `cloned ${branch} at ${(await headSha(runner, signal))?.slice(0, 12) ?? "?"}`;
}

/** An absolute path in the repository's git dir (`.git/<name>`), as git names it. */
async function gitPath(runner: GitRunner, name: string, signal: AbortSignal): Promise<string> {
  const path = (await runner.gitOk(["rev-parse", "--path-format=absolute", "--git-path", name], { signal })).toString("utf8").trim();
  if (!path.startsWith("/") || path.includes("\n")) throw new OutpostError("GIT_FAILED", `git named no usable path for ${name}.`);
  return path;
}

/** A first clone's failure, with what to do about the usual causes (access, host keys). */
function cloneFailed(url: string, out: GitOutput): OutpostError {
  const failed = gitFailed(["fetch"], out);
  const ssh = repoEndpoint(url)?.transport === "ssh";
  let fix = "Check the project's repoUrl, then start the sandbox again: the clone picks up where it stopped.";
  if (ssh && /Permission denied|publickey/i.test(out.stderr)) {
    fix = "Add the project's deploy key (outpost project deploy-key PROJECT) to the repository with write access, then start the sandbox again.";
  } else if (ssh && /Host key verification failed|REMOTE HOST IDENTIFICATION/i.test(out.stderr)) {
    fix = "The repository host's key is not the pinned one: check it, and set the project's git knownHosts, then start the sandbox again.";
  } else if (/\b401\b|\b403\b|Authentication failed|could not read Username|terminal prompts disabled/i.test(out.stderr)) {
    fix =
      "Store a token with read and write access as the project's credential (outpost secret set PROJECT GITHUB_TOKEN --kind credential), then start it again.";
  }
  return new OutpostError("GIT_FAILED", `Cloning ${url} failed: ${failed.message.replace(/^git fetch failed: /, "")}`, { fix });
}

/** origin is the project's repoUrl (a changed repoUrl is taken up at the next start). */
async function ensureOrigin(runner: GitRunner, url: string, signal: AbortSignal): Promise<void> {
  const current = await runner.git(["remote", "get-url", "origin"], { signal });
  if (current.code !== 0) await runner.gitOk(["remote", "add", "origin", url], { signal });
  else if (current.stdout.toString().trim() !== url) await runner.gitOk(["remote", "set-url", "origin", url], { signal });
}

/** The branch origin's HEAD names; null for an empty repository. */
async function remoteDefaultBranch(runner: GitRunner, signal: AbortSignal): Promise<string | null> {
  const out = await runner.git(["ls-remote", "--symref", "origin", "HEAD"], { signal, timeoutMs: NETWORK_TIMEOUT_MS });
  const match = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out.stdout.toString());
  if (match) return match[1] as string;
  const heads = await runner.git(["for-each-ref", "--format=%(refname:strip=3)", "refs/remotes/origin"], { signal });
  return (
    heads.stdout
      .toString()
      .split("\n")
      .find((name) => name && name !== "HEAD") ?? null
  );
}

/** git's progress lines ("Receiving objects:  45% …"), at most one a second. */
function throttled(progress: Progress): (chunk: Buffer) => void {
  let last = 0;
  return (chunk) => {
    const now = Date.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    const line = chunk
      .toString("utf8")
      .split(/[\r\n]/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop();
    if (!line) return;
    last = now;
    progress(line.slice(0, 200));
  };
}
