// The branch the sandbox has checked out, and a menu to move: every local branch (the one a
// conversation works on says so, and one checked out in another worktree cannot be switched
// to here), switching to one, and a new branch (from HEAD, or from a branch or commit named).
// Uncommitted changes travel with a switch when git can carry them; otherwise git refuses
// and its message shows.
import { Badge, Button, Checkbox, Group, Menu, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCheck, IconChevronDown, IconGitBranch, IconPlus } from "@tabler/icons-react";
import { useState } from "react";
import { branchNameProblem } from "../../../../src/domain/names.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { type GitBranch, type GitStatus, shortSha, useCreateBranch, useSwitchBranch } from "./queries.ts";

export interface BranchSwitcherProps {
  sandboxId: string;
  status: GitStatus;
  branches: GitBranch[];
  defaultBranch: string | null;
  canEdit: boolean;
}

export function BranchSwitcher({ sandboxId, status, branches, defaultBranch, canEdit }: BranchSwitcherProps) {
  const [creating, setCreating] = useState(false);
  const switching = useSwitchBranch(sandboxId);
  const current = status.branch;
  const label = current ?? `detached at ${shortSha(status.head)}`;

  const switchTo = async (branch: string) => {
    try {
      await switching.mutateAsync(branch);
      notifications.show({ color: "green", title: `Switched to ${branch}`, message: "The working tree shows that branch now." });
    } catch {
      // Shown below from the mutation's error.
    }
  };

  return (
    <Stack gap={4}>
      <Group gap="xs" wrap="wrap">
        <Menu position="bottom-start" disabled={!canEdit} width={320}>
          <Menu.Target>
            <Button
              size="xs"
              variant="default"
              leftSection={<IconGitBranch size={14} aria-hidden />}
              rightSection={canEdit ? <IconChevronDown size={14} aria-hidden /> : null}
              loading={switching.isPending}
              data-testid="branch-current"
              data-branch={current ?? ""}
              aria-label={`Branch: ${label}`}
              ff="monospace"
            >
              {label}
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Label>Switch to a branch</Menu.Label>
            {branches.map((b) => (
              <Menu.Item
                key={b.name}
                disabled={b.current || b.worktree !== null}
                onClick={() => void switchTo(b.name)}
                leftSection={b.current ? <IconCheck size={14} aria-hidden /> : <span style={{ width: 14 }} />}
                data-testid="branch-item"
                data-branch={b.name}
              >
                <Group gap={6} wrap="nowrap">
                  <Text size="sm" ff="monospace" truncate>
                    {b.name}
                  </Text>
                  {b.name === defaultBranch ? (
                    <Badge size="xs" variant="light" color="gray">
                      default
                    </Badge>
                  ) : null}
                </Group>
                <Text size="xs" c="dimmed">
                  {shortSha(b.sha)}
                  {b.conversationId ? ` · conversation ${b.conversationId}` : ""}
                  {b.worktree ? ` · checked out in ${b.worktree}` : ""}
                </Text>
              </Menu.Item>
            ))}
            <Menu.Divider />
            <Menu.Item leftSection={<IconPlus size={14} aria-hidden />} onClick={() => setCreating(true)}>
              New branch…
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
        {status.upstream ? (
          <Text size="xs" c="dimmed" data-testid="branch-tracking">
            tracks <code>{status.upstream}</code>
            {status.ahead > 0 ? ` · ${status.ahead} ahead` : ""}
            {status.behind > 0 ? ` · ${status.behind} behind` : ""}
            {status.ahead === 0 && status.behind === 0 ? " · up to date" : ""}
          </Text>
        ) : current ? (
          <Text size="xs" c="dimmed">
            not pushed yet
          </Text>
        ) : null}
      </Group>
      {switching.error ? <ErrorAlert error={switching.error} title="The branch was not switched" /> : null}
      <Modal opened={creating} onClose={() => setCreating(false)} title="New branch">
        {creating ? <NewBranchForm sandboxId={sandboxId} from={current} onDone={() => setCreating(false)} /> : null}
      </Modal>
    </Stack>
  );
}

function NewBranchForm({ sandboxId, from, onDone }: { sandboxId: string; from: string | null; onDone: () => void }) {
  const [name, setName] = useState("");
  const [start, setStart] = useState("");
  const [switchToIt, setSwitchToIt] = useState(true);
  const create = useCreateBranch(sandboxId);
  const problem = name === "" ? null : branchNameProblem(name);
  const submit = async () => {
    try {
      await create.mutateAsync({ name, ...(start.trim() ? { from: start.trim() } : {}), switch: switchToIt });
      notifications.show({
        color: "green",
        title: `Branch ${name} created`,
        message: switchToIt ? "It is checked out now." : "Switch to it from the branch menu.",
      });
      onDone();
    } catch {
      // Shown below from the mutation's error.
    }
  };
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (name && !branchNameProblem(name)) void submit();
      }}
    >
      <Stack>
        <TextInput
          label="Name"
          placeholder="feature/better-greeting"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={problem ? `The name ${problem}` : null}
          autoComplete="off"
          spellCheck={false}
          ff="monospace"
          data-autofocus
        />
        <TextInput
          label="Start from"
          description="A branch, tag or commit; empty: where HEAD is now"
          placeholder={from ?? "HEAD"}
          value={start}
          onChange={(e) => setStart(e.currentTarget.value)}
          autoComplete="off"
          spellCheck={false}
        />
        <Checkbox label="Switch to it (uncommitted changes come along)" checked={switchToIt} onChange={(e) => setSwitchToIt(e.currentTarget.checked)} />
        {create.error ? <ErrorAlert error={create.error} title="The branch was not created" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending} disabled={name === "" || problem !== null}>
            Create branch
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
