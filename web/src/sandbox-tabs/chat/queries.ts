// The chat's reads and writes. Query keys: ["conversations", scope, id] for the lists and
// ["conversation", cid] for one; the conversation's stream invalidates them when a run's
// status moves (useConversationStream.ts), the writes below when they change something.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client.ts";

export const useSandboxConversations = (sandboxId: string) =>
  useQuery({
    queryKey: ["conversations", "sandbox", sandboxId],
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/conversations", { params: { path: { id: sandboxId }, query: { limit: 100 } } })).items,
  });

export const useProjectConversations = (projectId: string) =>
  useQuery({
    queryKey: ["conversations", "project", projectId],
    // Runs raise no global events: the list refreshes while it is shown.
    refetchInterval: 15_000,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/conversations", { params: { path: { id: projectId }, query: { limit: 20 } } })).items,
  });

export const useConversation = (conversationId: string) =>
  useQuery({
    queryKey: ["conversation", conversationId],
    queryFn: async () => unwrap(await api.GET("/api/v1/conversations/{cid}", { params: { path: { cid: conversationId } } })),
  });

export const useAgents = () =>
  useQuery({
    queryKey: ["agents"],
    staleTime: 5 * 60_000,
    queryFn: async () => unwrap(await api.GET("/api/v1/agents")).items,
  });

export interface NewConversation {
  agent: "claude-code" | "codex" | "gemini" | "opencode" | "custom";
  model?: string;
  title?: string;
  command?: string;
  /** The branch its own branch starts from; default: what is checked out at its first turn. */
  branch?: string;
  /** A git worktree of its own, so it does not touch other conversations' files. */
  worktree?: boolean;
}

/** Creates a conversation in the sandbox and sends its first message. */
export function useStartConversation(sandboxId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ conversation, text }: { conversation: NewConversation; text: string }) => {
      const created = unwrap(
        await api.POST("/api/v1/sandboxes/{id}/conversations", {
          params: { path: { id: sandboxId } },
          body: conversation,
        }),
      );
      await sendMessage(created.id, text);
      return created;
    },
    onSettled: () => client.invalidateQueries({ queryKey: ["conversations"] }),
  });
}

async function sendMessage(conversationId: string, text: string) {
  return unwrap(await api.POST("/api/v1/conversations/{cid}/messages", { params: { path: { cid: conversationId } }, body: { text } }));
}

export function useSendMessage(conversationId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (text: string) => sendMessage(conversationId, text),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ["conversation", conversationId] });
      await client.invalidateQueries({ queryKey: ["conversations"] });
    },
  });
}

export function useCancelRun(conversationId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (runId: string) => unwrap(await api.POST("/api/v1/runs/{rid}/cancel", { params: { path: { rid: runId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["conversation", conversationId] }),
  });
}

export function useDecideApproval() {
  return useMutation({
    mutationFn: async ({ runId, approvalId, decision }: { runId: string; approvalId: string; decision: "allow" | "deny" }) =>
      unwrap(await api.POST("/api/v1/runs/{rid}/approvals/{aid}", { params: { path: { rid: runId, aid: approvalId } }, body: { decision } })),
  });
}
