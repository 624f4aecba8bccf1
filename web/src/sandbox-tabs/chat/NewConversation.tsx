// A conversation not yet made: the agent (Claude Code unless chosen otherwise), an optional
// model, a command for the custom agent, the branch its own branch starts from and whether
// it gets a worktree of its own, and the first message. Sending creates the conversation
// and sends the message; the tab then shows the new conversation.
import { Alert, Autocomplete, Group, Select, Stack, Switch, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { branchNameProblem } from "../../../../src/domain/names.ts";
import { useBranches } from "../changes/queries.ts";
import { Composer } from "./Composer.tsx";
import { type NewConversation as NewConversationBody, useAgents, useStartConversation } from "./queries.ts";
import { AGENT_LABELS } from "./types.ts";

type Agent = NewConversationBody["agent"];
const AGENTS = Object.keys(AGENT_LABELS) as Agent[];

/** A title from the first line of the first message. */
const titleOf = (text: string) => {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
};

export function NewConversation({
  sandboxId,
  closedReason,
  onCreated,
  height,
}: {
  sandboxId: string;
  closedReason: string | null;
  onCreated: (conversationId: string) => void;
  height: string;
}) {
  const agents = useAgents();
  const [agent, setAgent] = useState<Agent>("claude-code");
  const [model, setModel] = useState("");
  const [command, setCommand] = useState("");
  const [base, setBase] = useState("");
  const [worktree, setWorktree] = useState(false);
  // The sandbox's branches to pick from, while it runs (a sandbox without a repository has none).
  const branches = useBranches(sandboxId, closedReason === null);
  const baseProblem = base.trim() === "" ? null : branchNameProblem(base.trim());
  const start = useStartConversation(sandboxId);
  const version = (name: string) => agents.data?.find((a) => a.agent === name)?.version;
  const options = AGENTS.map((value) => ({ value, label: version(value) ? `${AGENT_LABELS[value]} ${version(value)}` : (AGENT_LABELS[value] ?? value) }));
  const needsCommand = agent === "custom" && command.trim() === "";

  return (
    <Stack gap="sm" h={height} data-testid="new-conversation">
      <Title order={2} size="h4">
        New conversation
      </Title>
      <Group align="flex-start" gap="sm" grow>
        <Select label="Agent" data={options} value={agent} allowDeselect={false} onChange={(value) => setAgent((value as Agent | null) ?? agent)} />
        <TextInput
          label="Model"
          placeholder="The agent's default"
          description="Optional, as the agent names it"
          value={model}
          onChange={(event) => setModel(event.currentTarget.value)}
        />
      </Group>
      {agent === "custom" ? (
        <TextInput
          label="Command"
          description="Run with sh -c for each message; it reads the message on stdin and answers on stdout"
          placeholder="python3 my_agent.py"
          value={command}
          onChange={(event) => setCommand(event.currentTarget.value)}
          ff="monospace"
        />
      ) : null}
      <Group align="flex-start" gap="sm" grow>
        <Autocomplete
          label="Base branch"
          placeholder="What is checked out"
          description="Its own branch (outpost/…) starts here, and its pull request merges into it"
          data={(branches.data?.branches ?? []).map((b) => b.name).filter((name) => !name.startsWith("outpost/"))}
          value={base}
          onChange={setBase}
          error={baseProblem ? `Branch ${baseProblem}` : null}
          spellCheck={false}
        />
        <Switch
          mt={28}
          label="Work in its own worktree"
          description="Its files apart from /workspace, so agents can work side by side"
          checked={worktree}
          onChange={(event) => setWorktree(event.currentTarget.checked)}
        />
      </Group>
      <Alert color="gray" variant="light" style={{ flex: 1 }}>
        <Text size="sm">
          The agent works in this sandbox's workspace with the project's variables. Its answer streams here; each message is one turn, and a follow-up continues
          where the last turn ended.
        </Text>
      </Alert>
      <Composer
        onSend={async (text) => {
          const created = await start.mutateAsync({
            conversation: {
              agent,
              title: titleOf(text),
              ...(model.trim() ? { model: model.trim() } : {}),
              ...(agent === "custom" ? { command } : {}),
              ...(base.trim() ? { branch: base.trim() } : {}),
              ...(worktree ? { worktree: true } : {}),
            },
            text,
          });
          onCreated(created.id);
        }}
        sending={start.isPending}
        sendError={start.error}
        busy={false}
        disabledReason={closedReason ?? (needsCommand ? "The custom agent needs a command." : baseProblem ? "The base branch's name is not valid." : null)}
        placeholder="What should the agent do?"
      />
    </Stack>
  );
}
