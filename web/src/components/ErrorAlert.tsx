// An API error as people should read it: what happened, and the server's one-line hint on
// what to do about it (every error code has one).
import { Alert, Button, Code, Group, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { ApiError } from "../api/client.ts";

/** `onClose`: the alert can be dismissed (an answer to something the user may simply not do again). */
export function ErrorAlert({ error, title, onRetry, onClose }: { error: unknown; title?: string; onRetry?: () => void; onClose?: () => void }) {
  const apiError = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert
      color="red"
      variant="light"
      icon={<IconAlertTriangle aria-hidden />}
      title={title ?? "Something went wrong"}
      role="alert"
      withCloseButton={Boolean(onClose)}
      onClose={onClose}
      closeButtonLabel="Dismiss"
    >
      <Text size="sm">{message}</Text>
      {apiError?.hint ? (
        <Text size="sm" mt={4} c="dimmed">
          {apiError.hint}
        </Text>
      ) : null}
      <Group gap="xs" mt="xs">
        {apiError ? <Code>{apiError.code}</Code> : null}
        {onRetry ? (
          <Button size="compact-sm" variant="light" color="red" onClick={onRetry}>
            Try again
          </Button>
        ) : null}
      </Group>
    </Alert>
  );
}
