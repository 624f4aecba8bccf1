// A sandbox's provisioning stages as the driver reports them (names are the driver's, shown
// as given): state, how long each took (ticking while one runs) and its message.
import { Group, Loader, Table, Text, ThemeIcon } from "@mantine/core";
import { IconCheck, IconCircleDashed, IconX } from "@tabler/icons-react";
import { useEffect, useState } from "react";
import type { SandboxStage } from "../api/client.ts";
import { duration } from "../format.ts";

function useNow(active: boolean, everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [active, everyMs]);
  return now;
}

function StateIcon({ state }: { state: SandboxStage["state"] }) {
  if (state === "running") return <Loader size={16} aria-hidden />;
  if (state === "done")
    return (
      <ThemeIcon size={18} radius="xl" color="green" variant="light" aria-hidden>
        <IconCheck size={12} />
      </ThemeIcon>
    );
  if (state === "failed")
    return (
      <ThemeIcon size={18} radius="xl" color="red" variant="light" aria-hidden>
        <IconX size={12} />
      </ThemeIcon>
    );
  return <IconCircleDashed size={18} color="var(--mantine-color-dimmed)" aria-hidden />;
}

export function StageList({ stages }: { stages: SandboxStage[] }) {
  const running = stages.some((s) => s.state === "running");
  const now = useNow(running);
  if (stages.length === 0) return null;
  return (
    <Table withRowBorders={false} verticalSpacing={4} horizontalSpacing="xs" aria-label="Provisioning stages">
      <Table.Tbody>
        {stages.map((stage) => {
          const took = stage.startedAt ? (stage.endedAt ? Date.parse(stage.endedAt) : now) - Date.parse(stage.startedAt) : null;
          return (
            <Table.Tr key={stage.name} data-stage={stage.name} data-state={stage.state}>
              <Table.Td w={180}>
                <Group gap="xs" wrap="nowrap">
                  <StateIcon state={stage.state} />
                  <Text size="sm" fw={500}>
                    {stage.name}
                  </Text>
                </Group>
              </Table.Td>
              <Table.Td w={90}>
                <Text size="sm" c={stage.state === "failed" ? "red" : "dimmed"}>
                  {stage.state}
                </Text>
              </Table.Td>
              <Table.Td w={90}>
                <Text size="sm" c="dimmed" ff="monospace">
                  {took !== null ? duration(took) : ""}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm" c="dimmed" lineClamp={2}>
                  {stage.message ?? ""}
                </Text>
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
