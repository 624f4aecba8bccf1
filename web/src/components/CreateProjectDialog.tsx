// Creating a project: name (checked as typed, by the same rules the server applies),
// repository, environment variables, secrets and credentials, and the egress policy.
// Secrets are set after the project exists (POST /projects/{id}/secrets), one by one.
import { ActionIcon, Alert, Button, Divider, Group, Modal, PasswordInput, Select, Stack, TagsInput, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router";
// The server's own checks (pure functions, bundled into the UI): what the dialog accepts
// is what the API accepts.
import { envNameProblem, projectNameProblem, repoUrlProblem } from "../../../src/domain/names.ts";
import { api, type EgressLevel, idempotencyKey, unwrap } from "../api/client.ts";
import { paths } from "../routes.tsx";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { EGRESS_LEVEL_OPTIONS } from "./egress-levels.ts";

interface EnvRow {
  key: number;
  name: string;
  value: string;
}
interface SecretRow extends EnvRow {
  kind: "secret" | "credential";
}

let rowKeys = 0;
const nextKey = () => ++rowKeys;

function nameError(name: string, all: string[], check: (name: string) => string | null): string | null {
  if (name === "") return null;
  const problem = check(name);
  if (problem) return `Name ${problem}`;
  return all.filter((n) => n === name).length > 1 ? "This name is used twice" : null;
}

export function CreateProjectDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="New project" size="lg">
      {/* Remounted per opening: a fresh form and a fresh idempotency key. */}
      {opened ? <CreateProjectForm onClose={onClose} /> : null}
    </Modal>
  );
}

function CreateProjectForm({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [key] = useState(idempotencyKey);
  const [name, setName] = useState("");
  const [repoUrl, setRepoUrl] = useState("");
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [secrets, setSecrets] = useState<SecretRow[]>([]);
  const [level, setLevel] = useState<EgressLevel>("registries");
  const [allow, setAllow] = useState<string[]>([]);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const names = useMemo(() => [...env.map((r) => r.name), ...secrets.map((r) => r.name)], [env, secrets]);
  const problems = {
    name: name === "" ? null : projectNameProblem(name),
    repoUrl: repoUrl === "" ? null : repoUrlProblem(repoUrl),
    env: env.map((r) => nameError(r.name, names, envNameProblem)),
    secrets: secrets.map((r) => nameError(r.name, names, envNameProblem)),
  };
  const incomplete = name === "" || [...env, ...secrets].some((r) => r.name === "");
  const invalid = incomplete || Boolean(problems.name || problems.repoUrl || problems.env.some(Boolean) || problems.secrets.some(Boolean));

  const submit = async () => {
    setSubmitting(true);
    setError(null);
    try {
      const project = unwrap(
        await api.POST("/api/v1/projects", {
          headers: { "idempotency-key": key },
          body: {
            name,
            ...(repoUrl ? { repoUrl } : {}),
            ...(env.length ? { env: Object.fromEntries(env.map((r) => [r.name, r.value])) } : {}),
            egress: { level, allow },
          },
        }),
      );
      for (const secret of secrets) {
        const result = await api.POST("/api/v1/projects/{id}/secrets", {
          params: { path: { id: project.id } },
          body: { name: secret.name, value: secret.value, kind: secret.kind },
        });
        if (result.error) {
          // The project exists: go there and say which secret is missing.
          notifications.show({ color: "red", title: `Secret ${secret.name} was not set`, message: result.error.error.message });
          break;
        }
      }
      await client.invalidateQueries({ queryKey: ["projects"] });
      notifications.show({ color: "green", title: "Project created", message: project.name });
      onClose();
      navigate(paths.project(project.id));
    } catch (caught) {
      setError(caught);
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (!invalid && !submitting) void submit();
      }}
    >
      <Stack gap="md">
        <TextInput
          label="Name"
          description="Lowercase letters, digits and '-', starting with a letter; at most 40 characters. Sandboxes are named after it."
          required
          data-autofocus
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={problems.name ? `Name ${problems.name}` : null}
          autoComplete="off"
          spellCheck={false}
        />
        <TextInput
          label="Repository URL"
          description="https://, ssh:// or git@host:path (optional)"
          placeholder="https://github.com/acme/shop.git"
          value={repoUrl}
          onChange={(e) => setRepoUrl(e.currentTarget.value)}
          error={problems.repoUrl ? `Repository URL ${problems.repoUrl}` : null}
          spellCheck={false}
        />

        <Divider label="Environment variables" labelPosition="left" />
        {env.map((row, i) => (
          <Group key={row.key} align="flex-start" wrap="nowrap">
            <TextInput
              aria-label={`Variable ${i + 1} name`}
              placeholder="NAME"
              value={row.name}
              onChange={(e) => setEnv(env.map((r) => (r.key === row.key ? { ...r, name: e.currentTarget.value } : r)))}
              error={problems.env[i]}
              style={{ flex: 1 }}
              spellCheck={false}
            />
            <TextInput
              aria-label={`Variable ${i + 1} value`}
              placeholder="value"
              value={row.value}
              onChange={(e) => setEnv(env.map((r) => (r.key === row.key ? { ...r, value: e.currentTarget.value } : r)))}
              style={{ flex: 2 }}
              spellCheck={false}
            />
            <ActionIcon
              variant="subtle"
              color="gray"
              size="lg"
              aria-label={`Remove variable ${i + 1}`}
              onClick={() => setEnv(env.filter((r) => r.key !== row.key))}
            >
              <IconTrash size={16} aria-hidden />
            </ActionIcon>
          </Group>
        ))}
        <Button
          variant="default"
          size="xs"
          leftSection={<IconPlus size={14} aria-hidden />}
          w="fit-content"
          onClick={() => setEnv([...env, { key: nextKey(), name: "", value: "" }])}
        >
          Add variable
        </Button>

        <Divider label="Secrets and credentials" labelPosition="left" />
        <Text size="xs" c="dimmed">
          A secret is in commands' environment but masked in their output; a credential never enters the sandbox (the egress proxy adds it to requests to its
          hosts).
        </Text>
        {secrets.map((row, i) => (
          <Group key={row.key} align="flex-start" wrap="nowrap">
            <TextInput
              aria-label={`Secret ${i + 1} name`}
              placeholder="NAME"
              value={row.name}
              onChange={(e) => setSecrets(secrets.map((r) => (r.key === row.key ? { ...r, name: e.currentTarget.value } : r)))}
              error={problems.secrets[i]}
              style={{ flex: 1 }}
              spellCheck={false}
            />
            <PasswordInput
              aria-label={`Secret ${i + 1} value`}
              placeholder="value"
              value={row.value}
              onChange={(e) => setSecrets(secrets.map((r) => (r.key === row.key ? { ...r, value: e.currentTarget.value } : r)))}
              style={{ flex: 2 }}
            />
            <Select
              aria-label={`Secret ${i + 1} kind`}
              data={[
                { value: "secret", label: "Secret" },
                { value: "credential", label: "Credential" },
              ]}
              value={row.kind}
              allowDeselect={false}
              onChange={(kind) => setSecrets(secrets.map((r) => (r.key === row.key ? { ...r, kind: kind === "credential" ? "credential" : "secret" } : r)))}
              w={130}
            />
            <ActionIcon
              variant="subtle"
              color="gray"
              size="lg"
              aria-label={`Remove secret ${i + 1}`}
              onClick={() => setSecrets(secrets.filter((r) => r.key !== row.key))}
            >
              <IconTrash size={16} aria-hidden />
            </ActionIcon>
          </Group>
        ))}
        <Button
          variant="default"
          size="xs"
          leftSection={<IconPlus size={14} aria-hidden />}
          w="fit-content"
          onClick={() => setSecrets([...secrets, { key: nextKey(), name: "", value: "", kind: "secret" }])}
        >
          Add secret
        </Button>

        <Divider label="Network" labelPosition="left" />
        <Select
          label="Egress"
          description={EGRESS_LEVEL_OPTIONS.find((o) => o.value === level)?.description}
          data={EGRESS_LEVEL_OPTIONS.map(({ value, label }) => ({ value, label }))}
          value={level}
          allowDeselect={false}
          onChange={(value) => setLevel((value as EgressLevel | null) ?? "registries")}
        />
        <TagsInput
          label="Allowed domains"
          description="Hosts the sandboxes may reach on top of the level, e.g. api.stripe.com or *.example.com (Enter after each)"
          value={allow}
          onChange={setAllow}
          splitChars={[",", " "]}
          clearable
        />

        {error ? <ErrorAlert error={error} title="The project was not created" /> : null}
        {invalid && !incomplete ? (
          <Alert variant="light" color="yellow" p="xs">
            Fix the fields marked in red to continue.
          </Alert>
        ) : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={invalid} loading={submitting}>
            Create project
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
