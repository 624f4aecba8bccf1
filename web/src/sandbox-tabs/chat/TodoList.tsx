// The agent's to-do list as it last wrote it: done items struck through, the current one bold.
import { Card, Group, Stack, Text } from "@mantine/core";
import { IconCircle, IconCircleCheck, IconCircleDot } from "@tabler/icons-react";
import type { TodoItem } from "./types.ts";

const ICONS = { pending: IconCircle, in_progress: IconCircleDot, completed: IconCircleCheck };

export function TodoList({ items }: { items: TodoItem[] }) {
  const done = items.filter((item) => item.status === "completed").length;
  return (
    <Card withBorder padding="sm" data-testid="todo-list" component="section" aria-label="To-do list">
      <Stack gap={4}>
        <Text size="xs" c="dimmed" fw={600}>
          To do · {done}/{items.length} done
        </Text>
        {items.map((item, index) => {
          const Icon = ICONS[item.status] ?? IconCircle;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: the list is replaced whole, never reordered
            <Group key={index} gap={6} wrap="nowrap" align="flex-start" data-status={item.status}>
              <Icon
                size={16}
                aria-label={item.status.replace("_", " ")}
                color={item.status === "completed" ? "var(--mantine-color-green-6)" : item.status === "in_progress" ? "var(--mantine-color-blue-6)" : undefined}
                style={{ flexShrink: 0, marginTop: 2 }}
              />
              <Text
                size="sm"
                td={item.status === "completed" ? "line-through" : undefined}
                c={item.status === "completed" ? "dimmed" : undefined}
                fw={item.status === "in_progress" ? 600 : undefined}
              >
                {item.text}
              </Text>
            </Group>
          );
        })}
      </Stack>
    </Card>
  );
}
