// Model tokens through the gateway this month, per provider and model, against the
// project's monthly budget (which editors set here).
import { Button, Card, Group, NumberInput, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { useUsage } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { numberFormat } from "../format.ts";

export default function UsagePanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const usage = useUsage(project.id);
  const u = usage.data;
  const share = u?.tokenBudget ? Math.min(100, (u.totalTokens / Math.max(1, u.tokenBudget)) * 100) : 0;
  return (
    <Stack>
      <Card withBorder padding="md">
        <Stack gap="sm">
          <Title order={2} size="h4">
            Model usage {u ? `in ${u.month}` : ""}
          </Title>
          {usage.error ? <ErrorAlert error={usage.error} /> : null}
          {u ? (
            <>
              <Group gap="xl">
                <Stat label="Tokens used" value={numberFormat.format(u.totalTokens)} />
                <Stat label="Monthly budget" value={u.tokenBudget === null ? "none" : numberFormat.format(u.tokenBudget)} />
                <Stat label="Remaining" value={u.remainingTokens === null ? "—" : numberFormat.format(u.remainingTokens)} />
              </Group>
              {u.tokenBudget !== null ? (
                <Progress value={share} color={share >= 100 ? "red" : share > 80 ? "orange" : "indigo"} aria-label="Share of the budget used" />
              ) : null}
              <Table verticalSpacing={6} aria-label="Usage by model">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Provider</Table.Th>
                    <Table.Th>Model</Table.Th>
                    <Table.Th ta="right">Calls</Table.Th>
                    <Table.Th ta="right">Input</Table.Th>
                    <Table.Th ta="right">Output</Table.Th>
                    <Table.Th ta="right">Cache read / write</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {u.totals.map((t) => (
                    <Table.Tr key={`${t.provider}/${t.model}`}>
                      <Table.Td>{t.provider}</Table.Td>
                      <Table.Td>{t.model ?? "—"}</Table.Td>
                      <Table.Td ta="right">{numberFormat.format(t.calls)}</Table.Td>
                      <Table.Td ta="right">{numberFormat.format(t.inputTokens)}</Table.Td>
                      <Table.Td ta="right">{numberFormat.format(t.outputTokens)}</Table.Td>
                      <Table.Td ta="right">
                        {numberFormat.format(t.cacheReadTokens)} / {numberFormat.format(t.cacheWriteTokens)}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                  {u.totals.length === 0 ? (
                    <Table.Tr>
                      <Table.Td colSpan={6}>
                        <Text size="sm" c="dimmed">
                          No model calls this month.
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ) : null}
                </Table.Tbody>
              </Table>
            </>
          ) : null}
        </Stack>
      </Card>
      {canEdit ? <BudgetForm key={project.updatedAt} project={project} /> : null}
    </Stack>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={600}>
        {value}
      </Text>
    </Stack>
  );
}

function BudgetForm({ project }: { project: Project }) {
  const client = useQueryClient();
  const [budget, setBudget] = useState<number | string>(project.tokenBudget ?? "");
  const save = useMutation({
    mutationFn: async (tokenBudget: number | null) =>
      unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { tokenBudget } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Budget saved", message: "Model calls past it are refused until next month." });
      await client.invalidateQueries({ queryKey: ["project"] });
      await client.invalidateQueries({ queryKey: ["usage", project.id] });
    },
  });
  const value = typeof budget === "number" ? budget : null;
  return (
    <Card
      withBorder
      padding="md"
      component="form"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate(value);
      }}
    >
      <Stack gap="sm">
        <Title order={3} size="h5">
          Monthly token budget
        </Title>
        <NumberInput
          label="Tokens per calendar month (UTC)"
          description="Input, output and cache tokens together. Empty: no budget."
          value={budget}
          onChange={setBudget}
          min={0}
          step={100_000}
          thousandSeparator=","
          allowDecimal={false}
          allowNegative={false}
          maw={320}
        />
        {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        <Button type="submit" w="fit-content" loading={save.isPending} disabled={value === project.tokenBudget}>
          Save budget
        </Button>
      </Stack>
    </Card>
  );
}
