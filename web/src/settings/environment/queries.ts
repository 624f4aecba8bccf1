// Environments (installation-wide) as the Environment tab reads them. Environments raise no
// events yet, so what a save or a build changes is invalidated by hand, a running build is
// polled, and so is the list while a warm pool is kept (or left to stop): its sandboxes start,
// get claimed by creates and are refilled in the background, none of which this page causes.
import { useQuery } from "@tanstack/react-query";
import { ApiError, api, type Schemas, unwrap } from "../../api/client.ts";

export type Environment = Schemas["Environment"];
export type EnvironmentBuildLog = Schemas["EnvironmentBuildLog"];

/** While a build runs its log is read this often (its row is written about once a second). */
const BUILD_POLL_MS = 2000;

/** While a warm pool is kept or draining, the list is read this often (the server tops pools up every 10 s by default). */
const POOL_POLL_MS = 3000;

export const environmentsKey = ["environments"];

const hasPool = (e: Environment) => e.poolSize > 0 || e.warm.ready > 0 || e.warm.starting > 0;

export const useEnvironments = () =>
  useQuery({
    queryKey: environmentsKey,
    refetchInterval: (query) => (query.state.data?.some(hasPool) ? POOL_POLL_MS : false),
    queryFn: async () => unwrap(await api.GET("/api/v1/environments")).items,
  });

/** The latest build with its log; null before the first build (404 "has not been built yet"). */
export const useLatestBuild = (name: string) =>
  useQuery({
    queryKey: [...environmentsKey, name, "build"],
    refetchInterval: (query) => (query.state.data?.state === "building" ? BUILD_POLL_MS : false),
    queryFn: async (): Promise<EnvironmentBuildLog | null> => {
      try {
        return unwrap(await api.GET("/api/v1/environments/{ref}/builds/latest", { params: { path: { ref: name } } }));
      } catch (error) {
        if (error instanceof ApiError && error.code === "ENVIRONMENT_NOT_FOUND") return null;
        throw error;
      }
    },
  });
