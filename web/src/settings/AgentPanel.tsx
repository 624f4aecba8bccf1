// How the project's agent runs behave: whether tool calls wait for a person (approve mode,
// with the rules that pick which ones) and the limits of one run. Editors and owners change
// them; viewers read them. A change applies to the next run.
import { Button, Card, Group, NumberInput, SegmentedControl, Stack, TagsInput, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";

type AgentSettings = Project["agent"];
type PermissionMode = AgentSettings["permissionMode"];

const MODE_HELP: Record<PermissionMode, string> = {
  bypass: "The sandbox is the boundary: the agent uses every tool without asking.",
  approve: "Tool calls that match a rule below wait in the chat until someone approves or denies them; the others go ahead.",
};

/** A NumberInput's value as a number, or null when it is empty. */
const numberOrNull = (value: number | string) => (typeof value === "number" ? value : null);

export default function AgentPanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  // Keyed on updatedAt: a save elsewhere resets the form to what is stored.
  return <AgentForm key={project.updatedAt} project={project} canEdit={canEdit} />;
}

function AgentForm({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const stored = project.agent;
  const [mode, setMode] = useState<PermissionMode>(stored.permissionMode);
  const [rules, setRules] = useState<string[]>(stored.approvalRules);
  const [durationMin, setDurationMin] = useState<number | string>(Math.round(stored.limits.maxDurationSec / 60));
  const [stallSec, setStallSec] = useState<number | string>(stored.limits.stallTimeoutSec);
  const [maxTurns, setMaxTurns] = useState<number | string>(stored.limits.maxTurns ?? "");
  const [maxCost, setMaxCost] = useState<number | string>(stored.limits.maxCostUsd ?? "");

  const change = {
    permissionMode: mode,
    approvalRules: rules,
    limits: {
      maxDurationSec: Math.round((numberOrNull(durationMin) ?? stored.limits.maxDurationSec / 60) * 60),
      stallTimeoutSec: numberOrNull(stallSec) ?? stored.limits.stallTimeoutSec,
      maxTurns: numberOrNull(maxTurns),
      maxCostUsd: numberOrNull(maxCost),
    },
  };
  const changed =
    JSON.stringify(change) !== JSON.stringify({ permissionMode: stored.permissionMode, approvalRules: stored.approvalRules, limits: stored.limits });
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { agent: change } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Agent settings saved", message: "They apply to the next run." });
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });

  return (
    <Card
      withBorder
      padding="md"
      component="form"
      aria-labelledby="agent-settings-title"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Stack gap="md">
        <Title order={2} size="h4" id="agent-settings-title">
          Agent runs
        </Title>
        <Stack gap={4}>
          <Text size="sm" fw={500} id="permission-mode-label">
            Permission mode
          </Text>
          <SegmentedControl
            aria-labelledby="permission-mode-label"
            w="fit-content"
            value={mode}
            onChange={(value) => setMode(value as PermissionMode)}
            disabled={!canEdit}
            data={[
              { value: "bypass", label: "Run freely" },
              { value: "approve", label: "Ask for approval" },
            ]}
          />
          <Text size="xs" c="dimmed">
            {MODE_HELP[mode]}
          </Text>
        </Stack>
        <TagsInput
          label="Approval rules"
          description="In approve mode: Tool or Tool(pattern) on its main input, e.g. Bash(git push*), WebFetch, * for every tool (Enter after each)"
          value={rules}
          onChange={setRules}
          disabled={!canEdit}
          clearable
        />
        <Title order={3} size="h5">
          Limits of one run
        </Title>
        <Group align="flex-start" gap="md">
          <NumberInput
            label="Longest run"
            description="Minutes of wall time"
            value={durationMin}
            onChange={setDurationMin}
            min={1}
            max={7 * 24 * 60}
            allowDecimal={false}
            allowNegative={false}
            disabled={!canEdit}
            w={200}
          />
          <NumberInput
            label="Stall timeout"
            description="Seconds without output"
            value={stallSec}
            onChange={setStallSec}
            min={1}
            max={86_400}
            allowDecimal={false}
            allowNegative={false}
            disabled={!canEdit}
            w={200}
          />
          <NumberInput
            label="Most model turns"
            description="Empty: no limit"
            value={maxTurns}
            onChange={setMaxTurns}
            min={1}
            max={10_000}
            allowDecimal={false}
            allowNegative={false}
            disabled={!canEdit}
            w={200}
          />
          <NumberInput
            label="Highest cost"
            description="USD per run; empty: none"
            value={maxCost}
            onChange={setMaxCost}
            min={0}
            decimalScale={2}
            prefix="$"
            allowNegative={false}
            disabled={!canEdit}
            w={200}
          />
        </Group>
        {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        {canEdit ? (
          <Group>
            <Button type="submit" disabled={!changed} loading={save.isPending}>
              Save agent settings
            </Button>
          </Group>
        ) : (
          <Text size="sm" c="dimmed">
            Editors and owners change these.
          </Text>
        )}
      </Stack>
    </Card>
  );
}
