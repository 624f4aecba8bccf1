// The connection string sandboxes get as DATABASE_URL (host 127.0.0.1:5432 as seen from
// inside one). The password shows only on "Reveal", which asks the server again with
// ?reveal=true (editors and owners); "Hide" drops it from the page and the cache.
import { ActionIcon, Button, Code, CopyButton, Group, Stack, Text, Tooltip } from "@mantine/core";
import { IconCheck, IconCopy, IconEye, IconEyeOff } from "@tabler/icons-react";
import { useState } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { useRevealedConnection } from "./queries.ts";

export function ConnectionString({ projectId, masked, canReveal }: { projectId: string; masked: string; canReveal: boolean }) {
  const [revealed, setRevealed] = useState(false);
  const secret = useRevealedConnection(projectId, revealed);
  const shown = revealed && secret.data ? secret.data : masked;
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500}>
        Connection string
      </Text>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Code block style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }} data-testid="database-connection-string">
          {shown}
        </Code>
        {canReveal ? (
          <Button
            variant="default"
            size="sm"
            leftSection={revealed ? <IconEyeOff size={14} aria-hidden /> : <IconEye size={14} aria-hidden />}
            loading={revealed && secret.isFetching && !secret.data}
            onClick={() => setRevealed(!revealed)}
          >
            {revealed ? "Hide" : "Reveal"}
          </Button>
        ) : null}
        {revealed && secret.data ? (
          <CopyButton value={secret.data}>
            {({ copied, copy }) => (
              <Tooltip label={copied ? "Copied" : "Copy the connection string"}>
                <ActionIcon variant="default" size="lg" onClick={copy} aria-label="Copy the connection string">
                  {copied ? <IconCheck size={16} aria-hidden /> : <IconCopy size={16} aria-hidden />}
                </ActionIcon>
              </Tooltip>
            )}
          </CopyButton>
        ) : null}
      </Group>
      <Text size="xs" c="dimmed">
        Inside the project's sandboxes as <Code>DATABASE_URL</Code> (and <Code>PGHOST</Code>, <Code>PGUSER</Code>, <Code>PGPASSWORD</Code>…); the host is the
        sandbox's own 127.0.0.1, bridged to the database server.
        {canReveal ? "" : " Editors and owners can reveal the password."}
      </Text>
      {revealed && secret.error ? <ErrorAlert error={secret.error} title="The password cannot be shown" /> : null}
    </Stack>
  );
}
