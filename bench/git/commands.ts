// The timed git work of the bench, as shell scripts that time themselves (date +%s%N around
// the git commands only), run the same way in two places: on the host (the baselines) and
// in the sandbox through POST /exec (so the API call's own cost is in no figure).
import { spawn } from "node:child_process";
import type { OutpostApi } from "../lib/api.ts";

export interface Timed {
  ms: number;
  /** key=value lines the script printed besides the timing. */
  values: Record<string, string>;
}

const TIMEOUT_MS = 600_000;

/** `git clone` into a fresh folder ($1); the rest is git's argv (-c options, clone, URL).
 *  The previous clone's dirty pages are flushed first, so its writeback is not in this
 *  run's figure; the files checked out are counted after the timing. */
export const CLONE = `set -eu
dest="$1"; shift
rm -rf "$dest"
sync || true
start=$(date +%s%N)
git "$@" "$dest"
end=$(date +%s%N)
echo "files=$(git -C "$dest" ls-files | wc -l)"
echo "elapsed_ns=$((end - start))"`;

/** One checkpoint of the repository at $1, the way the checkpoint service takes it: the
 *  working tree (untracked files too, ignored ones not) through a temporary index, the real
 *  index as a second tree, two commits; HEAD, index and files untouched. $2 = warm
 *  starts from a copy of .git/index (stat data: only changed files are hashed), cold from
 *  an empty index (every file hashed). $3 = bundle also times `git bundle create` of the
 *  commit under refs/bench/checkpoint (the whole history: what the first
 *  checkpoint ships to the host). */
export const CHECKPOINT = `set -eu
cd "$1"
export GIT_AUTHOR_NAME="Outpost checkpoint" GIT_AUTHOR_EMAIL=checkpoint@outpost.local
export GIT_COMMITTER_NAME="Outpost checkpoint" GIT_COMMITTER_EMAIL=checkpoint@outpost.local
tmp=$(mktemp -d)
start=$(date +%s%N)
if [ "$2" = warm ]; then cp .git/index "$tmp/index"; fi
GIT_INDEX_FILE="$tmp/index" git add -A
worktree=$(GIT_INDEX_FILE="$tmp/index" git write-tree)
index=$(git write-tree)
indexCommit=$(git commit-tree -p HEAD -m index "$index")
commit=$(git commit-tree -p HEAD -p "$indexCommit" -m checkpoint "$worktree")
end=$(date +%s%N)
echo "commit=$commit"
if [ "\${3:-}" = bundle ]; then
  # A bundle carries refs, not bare commits: the service keeps a ref inside too (this one outside its namespace).
  bundleStart=$(date +%s%N)
  git update-ref refs/bench/checkpoint "$commit"
  git bundle create -q "$tmp/chk.bundle" refs/bench/checkpoint
  bundleEnd=$(date +%s%N)
  echo "bundle_ns=$((bundleEnd - bundleStart))"
  echo "bundle_bytes=$(wc -c < "$tmp/chk.bundle")"
fi
rm -rf "$tmp"
echo "elapsed_ns=$((end - start))"`;

/** Edits the first $2 tracked files, adds $2 untracked ones, deletes $2/5 tracked ones. */
export const EDIT = `set -eu
cd "$1"
git ls-files | head -n "$2" | while IFS= read -r f; do echo "// edited" >> "$f"; done
i=0
while [ "$i" -lt "$2" ]; do echo "new $i" > "untracked-$i.txt"; i=$((i + 1)); done
git ls-files | tail -n "$(($2 / 5))" | while IFS= read -r f; do rm -f "$f"; done`;

function parse(what: string, code: number | null, stdout: string, stderr: string): Timed {
  if (code !== 0) throw new Error(`${what} exited ${code ?? "(timed out)"}: ${stderr.trim().slice(-800)}`);
  const values: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const match = /^([a-z_]+)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!;
  }
  const ns = Number(values.elapsed_ns);
  if (!Number.isFinite(ns)) throw new Error(`${what} printed no timing: ${stdout.slice(-400)}`);
  delete values.elapsed_ns;
  return { ms: ns / 1e6, values };
}

/** Git on the host sees no user or system configuration and no proxy variables. */
export function hostEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: "/usr/bin:/bin", HOME: home, LANG: "C.UTF-8", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" };
}

export function onHost(what: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script, "sh", ...args], { env, stdio: ["ignore", "pipe", "pipe"], timeout: TIMEOUT_MS });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    child.once("error", reject);
    child.once("close", (code) => {
      try {
        resolve(parse(`${what} (host)`, code, stdout, stderr));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** POST /exec (JSON mode), as the sandbox user in /workspace. */
export async function inSandboxTimed(api: OutpostApi, sandboxId: string, what: string, script: string, args: readonly string[]): Promise<Timed> {
  const result = await api.expect<{ exitCode: number | null; timedOut: boolean; stdout: string; stderr: string }>(
    200,
    "POST",
    `/api/v1/sandboxes/${sandboxId}/exec`,
    {
      command: ["sh", "-c", script, "sh", ...args],
      timeoutMs: TIMEOUT_MS,
    },
  );
  return parse(`${what} (sandbox)`, result.timedOut ? null : result.exitCode, result.stdout, result.stderr);
}

/** A script run for its effect only (no timing). */
export async function untimed(run: (script: string, args: readonly string[]) => Promise<Timed>, script: string, args: readonly string[]): Promise<void> {
  await run(`${script}\necho elapsed_ns=0`, args);
}
