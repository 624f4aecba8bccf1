// Environments (installation-wide) as the Environment tab reads them. Environments raise no
// events yet, so what a save or a build changes is invalidated by hand, and a running build
// is polled.
import { useQuery } from "@tanstack/react-query";
import { ApiError, api, type Schemas, unwrap } from "../../api/client.ts";

export type Environment = Schemas["Environment"];
export type EnvironmentBuildLog = Schemas["EnvironmentBuildLog"];

/** While a build runs its log is read this often (its row is written about once a second). */
const BUILD_POLL_MS = 2000;

export const environmentsKey = ["environments"];

export const useEnvironments = () => useQuery({ queryKey: environmentsKey, queryFn: async () => unwrap(await api.GET("/api/v1/environments")).items });

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
