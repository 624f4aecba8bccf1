// What happened in a project, newest first, live: its own events stream (the last 50
// events, then each as it happens).
import { Card, ScrollArea, Stack, Text, ThemeIcon, Timeline, Title } from "@mantine/core";
import { IconAlertTriangle, IconBox, IconKey, IconNetwork, IconRobot, IconSettings, IconUsers } from "@tabler/icons-react";
import type { OutpostEvent } from "../api/client.ts";
import { useProjectEvents } from "../api/live.ts";
import { ago, exactTime } from "../format.ts";

const str = (value: unknown) => (typeof value === "string" || typeof value === "number" ? String(value) : "");

/** One line for people; unknown types are shown by their name (later issues add more). */
export function describeEvent(event: OutpostEvent): string {
  const d = event.data;
  const sandbox = str(d.name) || str(d.sandbox) || str(d.sandboxId);
  switch (event.type) {
    case "project.created":
      return "Project created";
    case "project.updated":
      return Array.isArray(d.changed) && d.changed.length ? `Project changed: ${d.changed.join(", ")}` : "Project changed";
    case "project.deleted":
      return "Project deleted";
    case "project.variable.set":
      return `${str(d.kind) || "Variable"} ${str(d.name)} set`;
    case "project.variable.unset":
      return `${str(d.kind) || "Variable"} ${str(d.name)} removed`;
    case "project.member.added":
      return `Member ${str(d.userId)} added as ${str(d.role)}`;
    case "project.member.updated":
      return `Member ${str(d.userId)} is now ${str(d.role)}`;
    case "project.member.removed":
      return `Member ${str(d.userId)} removed`;
    case "sandbox.created":
      return `Sandbox ${sandbox} created`;
    case "sandbox.desired":
      return `${sandbox}: ${str(d.verb) || "change"} requested`;
    case "sandbox.phase":
      return `${sandbox} is ${str(d.phase)}`;
    case "sandbox.stage":
      return `${sandbox}: ${str(d.stage)} ${str(d.state)}${d.message ? ` (${str(d.message)})` : ""}`;
    case "sandbox.lost":
      return `${sandbox} stopped unexpectedly: ${str(d.reason)}`;
    case "sandbox.idle_stopped":
      return `${sandbox} stopped after ${str(d.idleSeconds)} s idle (files kept)`;
    case "sandbox.waking":
      return `${sandbox} waking for a request`;
    case "sandbox.link.refused":
      return `${sandbox}: link refused (${str(d.code)})`;
    case "egress.denied":
      return `${sandbox}: ${str(d.host)}:${str(d.port)} refused${Number(d.count) > 1 ? ` ×${str(d.count)}` : ""}`;
    case "egress.allowed":
      return `${sandbox}: ${str(d.connections)} connections out`;
    case "conversation.created":
      return `Conversation with ${str(d.agent)} started`;
    case "conversation.deleted":
      return "Conversation deleted";
    case "run.created":
      return "Agent run queued";
    case "run.status":
      return `Agent run ${str(d.status)}${d.reason ? `: ${str(d.reason)}` : ""}`;
    case "run.approval_requested":
      return `Agent asks to use ${str(d.tool)}: approval needed`;
    default:
      return event.type;
  }
}

function EventIcon({ event }: { event: OutpostEvent }) {
  const { type } = event;
  const [noun, verb] = type.split(".");
  const failed =
    type === "egress.denied" ||
    type === "sandbox.lost" ||
    type === "sandbox.link.refused" ||
    event.data.state === "failed" ||
    event.data.phase === "failed" ||
    (noun === "run" && event.data.status === "failed");
  const Icon = failed
    ? IconAlertTriangle
    : noun === "sandbox"
      ? IconBox
      : noun === "egress"
        ? IconNetwork
        : noun === "run" || noun === "conversation"
          ? IconRobot
          : verb === "variable"
            ? IconKey
            : verb === "member"
              ? IconUsers
              : IconSettings;
  return (
    <ThemeIcon size={22} radius="xl" variant="light" color={failed ? "red" : "indigo"}>
      <Icon size={13} aria-hidden />
    </ThemeIcon>
  );
}

export function ActivityTimeline({ projectId }: { projectId: string }) {
  const events = useProjectEvents(projectId);
  return (
    <Card withBorder padding="md" component="section" aria-labelledby="activity-title">
      <Stack gap="sm">
        <Title order={2} size="h4" id="activity-title">
          Activity
        </Title>
        {events.length === 0 ? (
          <Text size="sm" c="dimmed">
            Nothing yet.
          </Text>
        ) : (
          <ScrollArea.Autosize mah={520} type="auto" offsetScrollbars>
            <Timeline bulletSize={22} lineWidth={2} aria-label="Activity" data-testid="activity">
              {events.map((event) => (
                <Timeline.Item key={event.id} bullet={<EventIcon event={event} />} title={<Text size="sm">{describeEvent(event)}</Text>}>
                  <Text size="xs" c="dimmed" title={exactTime(event.createdAt)}>
                    {ago(event.createdAt)}
                  </Text>
                </Timeline.Item>
              ))}
            </Timeline>
          </ScrollArea.Autosize>
        )}
      </Stack>
    </Card>
  );
}
