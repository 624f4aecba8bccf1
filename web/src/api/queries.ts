// The data the pages read, one hook each, under the query keys the events stream
// invalidates (live.ts, staleKeys): keep the two in step.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "./client.ts";
import { connection } from "./connection.ts";

/** Who is signed in; the first request the UI makes (a 401 shows the sign-in page). */
export const useMe = () =>
  useQuery({
    queryKey: ["me"],
    staleTime: Number.POSITIVE_INFINITY,
    retry: false,
    queryFn: async () => {
      const me = unwrap(await api.GET("/api/v1/me"));
      connection.sessionActive();
      return me;
    },
  });

export const useProjects = () =>
  useQuery({ queryKey: ["projects"], queryFn: async () => unwrap(await api.GET("/api/v1/projects", { params: { query: { limit: 500 } } })).items });

/** A project by id or name; `reveal` asks for env values (editors and owners). */
export const useProject = (ref: string | undefined, reveal = false) =>
  useQuery({
    queryKey: ["project", ref, { reveal }],
    enabled: ref !== undefined,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}", { params: { path: { id: ref ?? "" }, query: reveal ? { reveal: "true" } : {} } })),
  });

/** Live sandboxes, of one project or of all. */
export const useSandboxes = (projectId?: string) =>
  useQuery({
    queryKey: ["sandboxes", projectId ?? "all"],
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes", { params: { query: { limit: 500, ...(projectId ? { project: projectId } : {}) } } })).items,
  });

export const useSandbox = (ref: string | undefined) =>
  useQuery({
    queryKey: ["sandbox", ref],
    enabled: ref !== undefined,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}", { params: { path: { id: ref ?? "" } } })),
  });

export const useVariables = (projectId: string | undefined) =>
  useQuery({
    queryKey: ["variables", projectId],
    enabled: projectId !== undefined,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/secrets", { params: { path: { id: projectId ?? "" } } })).items,
  });

export const useMembers = (projectId: string | undefined) =>
  useQuery({
    queryKey: ["members", projectId],
    enabled: projectId !== undefined,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/members", { params: { path: { id: projectId ?? "" } } })).items,
  });

/** All users (admins only: others get 403). */
export const useUsers = (enabled: boolean) =>
  useQuery({
    queryKey: ["users"],
    enabled,
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { limit: 500 } } })).items,
  });

/** The latest connections the project's sandboxes asked for, newest first. */
export const useEgressLog = (projectId: string | undefined, tail = 100) =>
  useQuery({
    queryKey: ["egress", projectId],
    enabled: projectId !== undefined,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/projects/{id}/egress", { params: { path: { id: projectId ?? "" }, query: { tail, limit: tail } } })).items.reverse(),
  });

export const useUsage = (projectId: string | undefined) =>
  useQuery({
    queryKey: ["usage", projectId],
    enabled: projectId !== undefined,
    // Model calls raise no events: refreshed while the page is open.
    refetchInterval: 30_000,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/usage", { params: { path: { id: projectId ?? "" } } })),
  });
