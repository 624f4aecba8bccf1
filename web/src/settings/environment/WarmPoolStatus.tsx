// An environment's warm pool as it is now (not as the form would set it): how many of its
// stored `poolSize` sandboxes are started and waiting for the next create, and how many are
// starting. Read with the environment (queries.ts polls it while any pool is kept or left).
import { Loader, Text } from "@mantine/core";
import type { Environment } from "./queries.ts";

export function WarmPoolStatus({ environment }: { environment: Environment }) {
  const { poolSize, warm } = environment;
  // No pool kept and none left to stop: nothing to say (the field above says 0).
  if (poolSize === 0 && warm.ready === 0 && warm.starting === 0) return null;
  const parts =
    poolSize === 0
      ? // Set to 0: the pool's sandboxes are stopped at its next check.
        [`Warm pool: none kept; ${warm.ready + warm.starting} left to stop`]
      : [`Warm pool: ${warm.ready} of ${poolSize} ready`, ...(warm.starting ? [`${warm.starting} starting`] : [])];
  return (
    <Text
      size="xs"
      c={poolSize > 0 && warm.ready >= poolSize ? "green" : "dimmed"}
      role="status"
      data-testid="environment-warm"
      data-ready={warm.ready}
      data-starting={warm.starting}
      style={{ display: "flex", alignItems: "center", gap: 6 }}
    >
      {warm.starting ? <Loader size={10} aria-hidden /> : null}
      {parts.join(" · ")}
    </Text>
  );
}
