import { Badge, Loader } from "@mantine/core";
import type { Sandbox } from "../api/client.ts";

type Phase = Sandbox["phase"];

const COLORS: Record<Phase, string> = {
  pending: "gray",
  provisioning: "blue",
  running: "green",
  stopping: "orange",
  stopped: "gray",
  deleting: "orange",
  deleted: "gray",
  failed: "red",
};

const MOVING = new Set<Phase>(["pending", "provisioning", "stopping", "deleting"]);

/** The phase, or "waking" while a request brings a sandbox back from an idle stop. */
export function PhaseBadge({ phase, waking = false, size = "sm" }: { phase: Phase; waking?: boolean; size?: "xs" | "sm" | "md" }) {
  const color = waking ? "blue" : COLORS[phase];
  return (
    <Badge
      data-phase={phase}
      data-waking={waking || undefined}
      color={color}
      variant="light"
      size={size}
      leftSection={waking || MOVING.has(phase) ? <Loader size={10} color={color} aria-hidden /> : null}
    >
      {waking ? "waking" : phase}
    </Badge>
  );
}
