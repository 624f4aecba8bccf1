// A run's or a conversation's status as a coloured badge, with the reason on hover and for
// screen readers.
import { Badge, Loader, Tooltip } from "@mantine/core";

const COLORS: Record<string, string> = {
  idle: "gray",
  queued: "gray",
  running: "blue",
  waiting: "yellow",
  stalled: "orange",
  succeeded: "green",
  failed: "red",
  cancelled: "gray",
};

export function RunStatusBadge({
  status,
  reason,
  size = "sm",
  testId = "run-status",
}: {
  status: string;
  reason?: string | null;
  size?: "xs" | "sm" | "md";
  testId?: string;
}) {
  const moving = status === "running";
  const badge = (
    <Badge
      size={size}
      variant="light"
      color={COLORS[status] ?? "gray"}
      data-testid={testId}
      data-status={status}
      aria-label={reason ? `${status}: ${reason}` : status}
      leftSection={moving ? <Loader size={8} color="blue" aria-hidden /> : undefined}
    >
      {status}
    </Badge>
  );
  return reason ? (
    <Tooltip label={reason} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  ) : (
    badge
  );
}
