// An environment's definition as a form: a new one (with its name) or an existing one (the
// API renames none). Image, setup and maintenance scripts, the setup phase's env and extra
// hosts, the warm pool's size (and beside it, the pool as it is now). Only its creator or an
// admin changes one; others read it.
// The server checks everything again and its error (with the hint) is shown as it says it.
import { Autocomplete, Button, Group, NumberInput, Stack, TagsInput, Text, Textarea, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { type Environment, environmentsKey } from "./queries.ts";
import { WarmPoolStatus } from "./WarmPoolStatus.tsx";

/** The images people pick most; anything the API takes may be typed (oci-layout:<path>…). */
const IMAGE_SUGGESTIONS = ["host", "outpost:default", "debian:bookworm", "debian:trixie", "oci-layout:", "oci-archive:"];
const MAX_POOL_SIZE = 16;

const monospace = { input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: "var(--mantine-font-size-xs)" } };
const ruleText = (rule: { host: string; port?: number }) => (rule.port ? `${rule.host}:${rule.port}` : rule.host);

/** `KEY=VALUE` lines (blank lines skipped) → the setup env, or the first line that is not one. */
export function parseSetupEnv(text: string): Record<string, string> | string {
  const env: Record<string, string> = {};
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq < 1) return `line ${i + 1} is not KEY=VALUE`;
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

const envText = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");

export function EnvironmentForm({
  environment,
  canChange,
  onSaved,
  onCancel,
}: {
  /** Absent: a new environment. */
  environment?: Environment;
  canChange: boolean;
  onSaved?: (saved: Environment) => void;
  onCancel?: () => void;
}) {
  const client = useQueryClient();
  const [name, setName] = useState(environment?.name ?? "");
  const [image, setImage] = useState(environment?.image ?? "host");
  const [setup, setSetup] = useState(environment?.setup ?? "");
  const [maintenance, setMaintenance] = useState(environment?.maintenance ?? "");
  const [setupEnv, setSetupEnv] = useState(envText(environment?.setupEnv ?? {}));
  const [allow, setAllow] = useState((environment?.setupEgress.allow ?? []).map(ruleText));
  const [poolSize, setPoolSize] = useState<number | string>(environment?.poolSize ?? 0);

  const env = parseSetupEnv(setupEnv);
  const fields = {
    image: image.trim(),
    setup: setup.trim() === "" ? null : setup,
    maintenance: maintenance.trim() === "" ? null : maintenance,
    setupEnv: typeof env === "string" ? {} : env,
    setupEgress: { allow },
    poolSize: typeof poolSize === "number" ? poolSize : 0,
  };
  // Compared as the API would store them (an empty script is none).
  const changed =
    !environment ||
    fields.image !== environment.image ||
    fields.setup !== environment.setup ||
    fields.maintenance !== environment.maintenance ||
    setupEnv.trim() !== envText(environment.setupEnv) ||
    allow.join() !== environment.setupEgress.allow.map(ruleText).join() ||
    fields.poolSize !== environment.poolSize;
  const save = useMutation({
    mutationFn: async () =>
      environment
        ? unwrap(await api.PATCH("/api/v1/environments/{ref}", { params: { path: { ref: environment.id } }, body: fields }))
        : // No idempotency key: the name is unique, so a retried create answers ENVIRONMENT_EXISTS.
          unwrap(await api.POST("/api/v1/environments", { body: { name: name.trim(), ...fields } })),
    onSuccess: async (saved) => {
      notifications.show({
        color: "green",
        title: environment ? "Environment saved" : `Environment ${saved.name} created`,
        message: "Sandboxes that use it get it at their next start.",
      });
      await client.invalidateQueries({ queryKey: environmentsKey });
      onSaved?.(saved);
    },
  });

  return (
    <Stack
      component="form"
      gap="sm"
      aria-label={environment ? `Environment ${environment.name}` : "New environment"}
      onSubmit={(event) => {
        event.preventDefault();
        if (typeof env !== "string") save.mutate();
      }}
    >
      {environment ? null : (
        <TextInput
          label="Name"
          description="Lowercase letters, digits and dashes; it names the environment for every project."
          value={name}
          onChange={(event) => setName(event.currentTarget.value)}
          required
          spellCheck={false}
          maw={360}
        />
      )}
      <Autocomplete
        label="Image"
        description="host: the host's /usr (no root inside, nothing to build). debian:<suite>, outpost:default (Debian with git, build tools, Python, Node, psql) or an OCI image: root inside; needs Outpost to run as root."
        data={IMAGE_SUGGESTIONS}
        value={image}
        onChange={setImage}
        disabled={!canChange}
        spellCheck={false}
        maw={480}
      />
      <Textarea
        label="Setup script"
        description={
          image.trim() === "host"
            ? "Runs once as root inside an image, and is cached. With the host's /usr there is nothing to build: it does not run."
            : "Runs once as root inside (sh -e) and is cached until the image, the script or the setup env change."
        }
        value={setup}
        onChange={(event) => setSetup(event.currentTarget.value)}
        disabled={!canChange}
        autosize
        minRows={4}
        maxRows={20}
        spellCheck={false}
        styles={monospace}
      />
      <Textarea
        label="Maintenance script"
        description="Runs at every start of a sandbox, in /workspace (e.g. npm ci); as root inside an image."
        value={maintenance}
        onChange={(event) => setMaintenance(event.currentTarget.value)}
        disabled={!canChange}
        autosize
        minRows={2}
        maxRows={12}
        spellCheck={false}
        styles={monospace}
      />
      <Textarea
        label="Setup env"
        description="KEY=VALUE, one a line: the setup script's environment. Not for secrets: it is part of the cache key and shown to everyone."
        value={setupEnv}
        onChange={(event) => setSetupEnv(event.currentTarget.value)}
        error={typeof env === "string" ? `Setup env: ${env}` : null}
        disabled={!canChange}
        autosize
        minRows={2}
        maxRows={8}
        spellCheck={false}
        styles={monospace}
      />
      <Group align="flex-start" grow>
        <TagsInput
          label="Setup may also reach"
          description={`Hosts beyond the setup's egress level (${environment?.setupEgress.level ?? "registries"}), e.g. files.example.com or host:8443.`}
          value={allow}
          onChange={setAllow}
          disabled={!canChange}
          splitChars={[",", " "]}
          clearable
        />
        <Stack gap={6}>
          <NumberInput
            label="Warm pool"
            description="Sandboxes kept started ahead for the next creates (0: none)."
            value={poolSize}
            onChange={setPoolSize}
            min={0}
            max={MAX_POOL_SIZE}
            allowDecimal={false}
            allowNegative={false}
            clampBehavior="strict"
            disabled={!canChange}
          />
          {environment ? <WarmPoolStatus environment={environment} /> : null}
        </Stack>
      </Group>
      {save.error ? <ErrorAlert error={save.error} title={environment ? "Not saved" : "No environment was made"} /> : null}
      {canChange ? (
        <Group>
          <Button type="submit" loading={save.isPending} disabled={typeof env === "string" || !changed || (!environment && name.trim() === "")}>
            {environment ? "Save environment" : "Create environment"}
          </Button>
          {onCancel ? (
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          ) : null}
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          Only its creator or an admin changes this environment.
        </Text>
      )}
    </Stack>
  );
}
