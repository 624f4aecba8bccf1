// The project database's data, one hook each, all under ["database", projectId] so a change
// (create, reset, promote) refreshes the whole panel with one invalidation.
import { useQuery } from "@tanstack/react-query";
import { ApiError, api, unwrap } from "../../api/client.ts";
import type { paths } from "../../api/schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
export type DatabaseInfo = Json<paths["/api/v1/projects/{id}/database"]["get"]["responses"][200]>;
export type DatabaseTables = Json<paths["/api/v1/projects/{id}/database/tables"]["get"]["responses"][200]>;
export type QueryResult = Json<paths["/api/v1/projects/{id}/database/query"]["post"]["responses"][200]>;
export type DatabaseBranches = Json<paths["/api/v1/projects/{id}/database/branches"]["get"]["responses"][200]>;

export const databaseKey = (projectId: string) => ["database", projectId];

/** The project's database, or null when it has none (404 DATABASE_NOT_FOUND). */
export const useDatabase = (projectId: string) =>
  useQuery({
    queryKey: [...databaseKey(projectId), "info"],
    queryFn: async (): Promise<DatabaseInfo | null> => {
      try {
        return unwrap(await api.GET("/api/v1/projects/{id}/database", { params: { path: { id: projectId } } }));
      } catch (error) {
        if (error instanceof ApiError && error.code === "DATABASE_NOT_FOUND") return null;
        throw error;
      }
    },
  });

/** The connection string with its password (editors and owners); fetched only on "Reveal". */
export const useRevealedConnection = (projectId: string, enabled: boolean) =>
  useQuery({
    queryKey: [...databaseKey(projectId), "reveal"],
    enabled,
    // The password is not kept around once hidden.
    gcTime: 0,
    staleTime: 0,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/projects/{id}/database", { params: { path: { id: projectId }, query: { reveal: "true" } } })).connectionString,
  });

export const useDatabaseTables = (projectId: string, enabled: boolean) =>
  useQuery({
    queryKey: [...databaseKey(projectId), "tables"],
    enabled,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/database/tables", { params: { path: { id: projectId } } })),
  });

export const useDatabaseBranches = (projectId: string, enabled: boolean) =>
  useQuery({
    queryKey: [...databaseKey(projectId), "branches"],
    enabled,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{id}/database/branches", { params: { path: { id: projectId } } })),
  });

/** Same origin: the session cookie rides along, and the server sends it as an attachment. */
export const dumpUrl = (projectId: string) => `/api/v1/projects/${encodeURIComponent(projectId)}/database/dump`;
