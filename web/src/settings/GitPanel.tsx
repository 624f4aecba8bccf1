// The project's git settings: who the agent's commits are by, which credential holds the
// token for HTTPS and pull requests, and the repository host's pinned SSH keys; beside them
// the project's SSH deploy key (DeployKeyCard). Editors and owners change them; viewers
// read them. They apply to commands started after the change.
import { Autocomplete, Button, Card, Code, Group, Stack, Text, Textarea, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { useVariables } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { DeployKeyCard } from "./DeployKeyCard.tsx";

const DEFAULT_NAME = "Outpost Agent";
const DEFAULT_EMAIL = "agent@outpost.local";
const DEFAULT_TOKEN_VARIABLE = "GITHUB_TOKEN";

// The server's rules (src/schemas/projects.ts), checked here to say so before saving.
const nameProblem = (name: string) => (/[<>\n\r]/.test(name) ? "must not contain < or >" : null);
const emailProblem = (email: string) => (email === "" || /^[^<>\s@]+@[^<>\s@]+$/.test(email) ? null : "must be an email address");

export default function GitPanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  return (
    <Stack>
      {/* Keyed on updatedAt: a save elsewhere resets the form to what is stored. */}
      <GitSettingsForm key={project.updatedAt} project={project} canEdit={canEdit} />
      <DeployKeyCard project={project} canEdit={canEdit} />
    </Stack>
  );
}

function GitSettingsForm({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const stored = project.git;
  const variables = useVariables(canEdit ? project.id : undefined);
  const credentials = (variables.data ?? []).filter((v) => v.kind === "credential").map((v) => v.name);
  const [name, setName] = useState(stored.identity.name);
  const [email, setEmail] = useState(stored.identity.email);
  const [tokenVariable, setTokenVariable] = useState(stored.tokenVariable);
  const [knownHosts, setKnownHosts] = useState(stored.knownHosts ?? "");

  const trimmed = { name: name.trim(), email: email.trim(), tokenVariable: tokenVariable.trim(), knownHosts: knownHosts.trim() };
  // Both identity fields empty: back to the default identity; one alone is not enough.
  const identityHalf = (trimmed.name === "") !== (trimmed.email === "");
  const problems = {
    name: nameProblem(trimmed.name) ?? (identityHalf && trimmed.name === "" ? "needed with an email" : null),
    email: emailProblem(trimmed.email) ?? (identityHalf && trimmed.email === "" ? "needed with a name" : null),
  };
  const change = {
    identity: trimmed.name === "" && trimmed.email === "" ? null : { name: trimmed.name, email: trimmed.email },
    tokenVariable: trimmed.tokenVariable === "" ? null : trimmed.tokenVariable,
    knownHosts: trimmed.knownHosts === "" ? null : `${trimmed.knownHosts}\n`,
  };
  const changed =
    trimmed.name !== stored.identity.name ||
    trimmed.email !== stored.identity.email ||
    trimmed.tokenVariable !== stored.tokenVariable ||
    trimmed.knownHosts !== (stored.knownHosts ?? "").trim();
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { git: change } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Git settings saved", message: "Commands started from now on use them." });
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });
  const tokenMissing = canEdit && variables.data !== undefined && !credentials.includes(trimmed.tokenVariable || DEFAULT_TOKEN_VARIABLE);

  return (
    <Card
      withBorder
      padding="md"
      component="form"
      aria-labelledby="git-settings-title"
      data-testid="git-settings"
      onSubmit={(event) => {
        event.preventDefault();
        if (changed && !problems.name && !problems.email) save.mutate();
      }}
    >
      <Stack gap="md">
        <Stack gap={2}>
          <Title order={2} size="h4" id="git-settings-title">
            Git
          </Title>
          <Text size="sm" c="dimmed">
            Repository: {project.repoUrl ? <Code>{project.repoUrl}</Code> : "none (sandboxes start with an empty repository)"}
            {project.defaultBranch ? (
              <>
                {" "}
                · default branch <Code>{project.defaultBranch}</Code>
              </>
            ) : null}
          </Text>
        </Stack>
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            Commit identity
          </Text>
          <Group align="flex-start" gap="md" grow>
            <TextInput
              label="Name"
              placeholder={DEFAULT_NAME}
              value={name}
              onChange={(event) => setName(event.currentTarget.value)}
              error={problems.name ? `Name ${problems.name}` : null}
              disabled={!canEdit}
            />
            <TextInput
              label="Email"
              placeholder={DEFAULT_EMAIL}
              value={email}
              onChange={(event) => setEmail(event.currentTarget.value)}
              error={problems.email ? `Email ${problems.email}` : null}
              disabled={!canEdit}
            />
          </Group>
          <Text size="xs" c="dimmed">
            The agent's commits are by this identity, with a Co-authored-by trailer for the person who asked. Both empty: {DEFAULT_NAME} &lt;{DEFAULT_EMAIL}
            &gt;.
          </Text>
        </Stack>
        <Autocomplete
          label="Token credential"
          description="The project credential holding a token for the repository over HTTPS and for opening pull requests; the egress proxy adds it, sandboxes never see it. Empty: GITHUB_TOKEN."
          placeholder={DEFAULT_TOKEN_VARIABLE}
          data={credentials}
          value={tokenVariable}
          onChange={setTokenVariable}
          disabled={!canEdit}
          spellCheck={false}
          w={{ base: "100%", sm: 420 }}
        />
        {tokenMissing ? (
          <Text size="xs" c="orange" data-testid="git-token-missing">
            The project has no credential named {trimmed.tokenVariable || DEFAULT_TOKEN_VARIABLE}: set one in Variables (kind credential) to push over HTTPS and
            open pull requests.
          </Text>
        ) : null}
        <Textarea
          label="Pinned SSH host keys"
          description="known_hosts lines for the repository's SSH host; only these are trusted. Outpost scans them when it makes the deploy key. Empty: none pinned."
          value={knownHosts}
          onChange={(event) => setKnownHosts(event.currentTarget.value)}
          disabled={!canEdit}
          autosize
          minRows={2}
          maxRows={8}
          spellCheck={false}
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: "var(--mantine-font-size-xs)" } }}
        />
        {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        {canEdit ? (
          <Group>
            <Button type="submit" disabled={!changed || Boolean(problems.name || problems.email)} loading={save.isPending}>
              Save git settings
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
