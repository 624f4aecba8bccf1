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

export function PhaseBadge({ phase, size = "sm" }: { phase: Phase; size?: "xs" | "sm" | "md" }) {
  return (
    <Badge
      data-phase={phase}
      color={COLORS[phase]}
      variant="light"
      size={size}
      leftSection={MOVING.has(phase) ? <Loader size={10} color={COLORS[phase]} aria-hidden /> : null}
    >
      {phase}
    </Badge>
  );
}
