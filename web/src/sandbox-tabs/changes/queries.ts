// The Changes tab's reads and writes. Every key starts with ["git", sandboxId], so one
// invalidation (an agent run's event in api/live.ts, a commit, a restore) refreshes the
// whole panel. Reads run only while the tab is shown (`active`): a hidden tab refetches what
// went stale when it is shown again, not on every event.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, type Schemas, unwrap } from "../../api/client.ts";

export type GitStatus = Schemas["GitStatus"];
export type GitFileStatus = Schemas["GitFileStatus"];
export type GitDiff = Schemas["GitDiff"];
export type GitDiffFile = Schemas["GitDiffFile"];
export type GitBranch = Schemas["GitBranch"];
export type GitCheckpoint = Schemas["GitCheckpoint"];
export type PullRequest = Schemas["PullRequest"];

export const gitKey = (sandboxId: string, ...rest: unknown[]) => ["git", sandboxId, ...rest];
const path = (sandboxId: string) => ({ path: { id: sandboxId } });

export const useGitStatus = (sandboxId: string, active: boolean) =>
  useQuery({
    queryKey: gitKey(sandboxId, "status"),
    enabled: active,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/git/status", { params: path(sandboxId) })),
  });

/** Uncommitted changes against HEAD, untracked files included, parsed into files and hunks. */
export const useWorktreeDiff = (sandboxId: string, active: boolean) =>
  useQuery({
    queryKey: gitKey(sandboxId, "diff", "worktree"),
    enabled: active,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/git/diff", { params: { ...path(sandboxId), query: { mode: "worktree" } } })),
  });

export const useBranches = (sandboxId: string, active: boolean) =>
  useQuery({
    queryKey: gitKey(sandboxId, "branches"),
    enabled: active,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/git/branches", { params: path(sandboxId) })),
  });

export const useCheckpoints = (sandboxId: string, active: boolean) =>
  useQuery({
    queryKey: gitKey(sandboxId, "checkpoints"),
    enabled: active,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/git/checkpoints", { params: path(sandboxId) })).items,
  });

/** The current state against a checkpoint (read when its Diff is opened). */
export const useCheckpointDiff = (sandboxId: string, chk: string | null) =>
  useQuery({
    queryKey: gitKey(sandboxId, "checkpoint-diff", chk),
    enabled: chk !== null,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/sandboxes/{id}/git/checkpoints/{chk}/diff", { params: { path: { id: sandboxId, chk: chk as string } } })),
  });

/** The checked-out branch's pull request; null when none is known yet. Other refusals (no
 *  GitHub repository, no token) come back as errors the commit box shows as a note. */
export const usePullRequest = (sandboxId: string, active: boolean) =>
  useQuery({
    queryKey: gitKey(sandboxId, "pull-request"),
    enabled: active,
    // GitHub's answer does not change because a retry came quickly: say what it said.
    retry: false,
    queryFn: async (): Promise<PullRequest | null> => {
      try {
        return unwrap(await api.GET("/api/v1/sandboxes/{id}/git/pull-request", { params: { ...path(sandboxId), query: {} } }));
      } catch (error) {
        if (error instanceof ApiError && error.code === "PULL_REQUEST_NOT_FOUND") return null;
        throw error;
      }
    },
  });

/** A write to the repository; whatever it does, the panel reads everything again after it. */
function useGitWrite<Input, Output>(sandboxId: string, write: (input: Input) => Promise<Output>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: write,
    onSettled: () => client.invalidateQueries({ queryKey: gitKey(sandboxId) }),
  });
}

export const useCommit = (sandboxId: string) =>
  useGitWrite(sandboxId, async (body: { message: string; paths?: string[] }) =>
    unwrap(await api.POST("/api/v1/sandboxes/{id}/git/commit", { params: path(sandboxId), body })),
  );

export const usePush = (sandboxId: string) =>
  useGitWrite(sandboxId, async () => unwrap(await api.POST("/api/v1/sandboxes/{id}/git/push", { params: path(sandboxId), body: {} })));

export const usePull = (sandboxId: string) =>
  useGitWrite(sandboxId, async () => unwrap(await api.POST("/api/v1/sandboxes/{id}/git/pull", { params: path(sandboxId), body: {} })));

export const useOpenPullRequest = (sandboxId: string) =>
  useGitWrite(sandboxId, async (body: { title?: string; body?: string; base?: string; draft?: boolean }) =>
    unwrap(await api.POST("/api/v1/sandboxes/{id}/git/pull-request", { params: path(sandboxId), body })),
  );

export const useCreateBranch = (sandboxId: string) =>
  useGitWrite(sandboxId, async (body: { name: string; from?: string; switch: boolean }) =>
    unwrap(await api.POST("/api/v1/sandboxes/{id}/git/branches", { params: path(sandboxId), body })),
  );

export const useSwitchBranch = (sandboxId: string) =>
  useGitWrite(sandboxId, async (branch: string) => unwrap(await api.POST("/api/v1/sandboxes/{id}/git/switch", { params: path(sandboxId), body: { branch } })));

export const useRestoreCheckpoint = (sandboxId: string) =>
  useGitWrite(sandboxId, async (chk: string) =>
    unwrap(await api.POST("/api/v1/sandboxes/{id}/git/checkpoints/{chk}/restore", { params: { path: { id: sandboxId, chk } }, body: {} })),
  );

export const useCreateCheckpoint = (sandboxId: string) =>
  useGitWrite(sandboxId, async () => unwrap(await api.POST("/api/v1/sandboxes/{id}/git/checkpoints", { params: path(sandboxId), body: {} })));

export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : "—");
