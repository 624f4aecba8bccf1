// An environment's build: whether its current definition is built (the cache: none for the
// host's /usr, ready, or stale until the next build or sandbox start makes it), "Build now",
// and the latest build's state and log, read every 2 s while it runs and kept scrolled to
// its end. A build that ends changes the cache state: the environment is read again then.
import { Badge, Button, Code, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { IconHammer } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { api, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago, duration, exactTime } from "../../format.ts";
import { type Environment, type EnvironmentBuildLog, environmentsKey, useLatestBuild } from "./queries.ts";

const CACHE: Record<Environment["cache"], { color: string; text: string }> = {
  none: { color: "gray", text: "Nothing to build: sandboxes use the host's /usr." },
  ready: { color: "green", text: "Built: sandboxes start from it at once." },
  stale: { color: "orange", text: "Not built as defined now: a build (or the next sandbox start) makes it." },
};
const STATE_COLOR: Record<EnvironmentBuildLog["state"], string> = { building: "blue", ready: "green", failed: "red" };

export function BuildCard({ environment, canChange }: { environment: Environment; canChange: boolean }) {
  const client = useQueryClient();
  const build = useLatestBuild(environment.name);
  const last = build.data ?? null;
  const start = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/environments/{ref}/builds", { params: { path: { ref: environment.id } }, body: {} })),
    onSuccess: () => client.invalidateQueries({ queryKey: environmentsKey }),
  });

  // A build that ended since the tab opened changed the cache state (and the list's last build).
  const state = last?.state;
  const seen = last ? `${last.id}:${last.state}` : "";
  const previous = useRef(seen);
  useEffect(() => {
    if (previous.current !== seen && state !== "building") void client.invalidateQueries({ queryKey: environmentsKey, exact: true });
    previous.current = seen;
  }, [seen, state, client]);

  const cache = CACHE[environment.cache];
  return (
    <Stack gap="sm" aria-label="Build" component="section">
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={3} size="h5">
            Build
          </Title>
          <Badge color={cache.color} variant="light" data-testid="environment-cache" data-cache={environment.cache}>
            cache {environment.cache}
          </Badge>
        </Group>
        {canChange ? (
          <Button
            size="xs"
            variant="default"
            leftSection={<IconHammer size={14} aria-hidden />}
            loading={start.isPending}
            disabled={state === "building"}
            onClick={() => start.mutate()}
          >
            Build now
          </Button>
        ) : null}
      </Group>
      <Text size="sm" c="dimmed">
        {cache.text}
      </Text>
      {start.error ? <ErrorAlert error={start.error} title="The build did not start" /> : null}
      {build.error ? <ErrorAlert error={build.error} title="The last build cannot be shown" onRetry={() => void build.refetch()} /> : null}
      {last ? <LastBuild build={last} /> : build.data === null ? <Text size="sm">Never built.</Text> : null}
    </Stack>
  );
}

function LastBuild({ build }: { build: EnvironmentBuildLog }) {
  const log = useRef<HTMLPreElement>(null);
  // Follow the end of a growing log, as a terminal would.
  useEffect(() => {
    if (log.current && build.log) log.current.scrollTop = log.current.scrollHeight;
  }, [build.log]);
  const took = build.finishedAt ? duration(Date.parse(build.finishedAt) - Date.parse(build.startedAt)) : null;
  return (
    <Stack gap={6}>
      <Group gap="sm">
        <Badge
          color={STATE_COLOR[build.state]}
          variant="light"
          data-testid="environment-build-state"
          data-state={build.state}
          leftSection={build.state === "building" ? <Loader size={10} color="blue" aria-hidden /> : null}
        >
          {build.state}
        </Badge>
        <Text size="sm" c="dimmed" title={exactTime(build.startedAt)}>
          started {ago(build.startedAt)}
          {took ? ` · took ${took}` : ""}
          {build.cached ? " · cached: nothing had to be made" : ""}
        </Text>
      </Group>
      {build.error ? (
        <Text size="sm" c="red" data-testid="environment-build-error">
          {build.error}
        </Text>
      ) : null}
      <Code
        block
        ref={log}
        data-testid="environment-build-log"
        aria-label="Build log"
        style={{ maxHeight: 360, overflow: "auto", whiteSpace: "pre-wrap", wordBreak: "break-all" }}
      >
        {build.log || "(no output)"}
      </Code>
    </Stack>
  );
}
