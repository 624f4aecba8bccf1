// Where the person writes to the agent: a textarea, Send (or Ctrl/Cmd+Enter), and while a
// turn is going, a note that the message waits for it (the API queues it) and Cancel.
import { Button, Group, Stack, Text, Textarea } from "@mantine/core";
import { IconPlayerStop, IconSend } from "@tabler/icons-react";
import { useState } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";

export interface ComposerProps {
  /** Resolves once the server took the message; the text is cleared then (and kept on a failure). */
  onSend: (text: string) => Promise<unknown>;
  sending: boolean;
  sendError: Error | null;
  /** A turn is queued, running or waiting: a new message runs after it. */
  busy: boolean;
  /** Cancel the running turn; absent when nothing runs. */
  onCancel?: () => void;
  cancelling?: boolean;
  /** Why nothing can be sent now (the sandbox is stopped), or null. */
  disabledReason?: string | null;
  placeholder?: string;
}

export function Composer({ onSend, sending, sendError, busy, onCancel, cancelling, disabledReason, placeholder }: ComposerProps) {
  const [text, setText] = useState("");
  const blank = text.trim() === "";
  const send = () => {
    if (blank || sending || disabledReason) return;
    onSend(text).then(
      () => setText(""),
      () => {},
    );
  };
  return (
    <Stack
      gap={6}
      component="form"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
      aria-label="Message the agent"
    >
      {sendError ? <ErrorAlert error={sendError} title="The message was not sent" /> : null}
      <Textarea
        aria-label="Message"
        placeholder={placeholder ?? "Ask the agent to do something in this sandbox…"}
        autosize
        minRows={2}
        maxRows={10}
        value={text}
        onChange={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            send();
          }
        }}
        data-testid="chat-input"
      />
      <Group justify="space-between" gap="xs">
        <Text size="xs" c="dimmed" data-testid="composer-note">
          {disabledReason ?? (busy ? "A turn is running: this message will run after the current turn." : "Ctrl+Enter sends.")}
        </Text>
        <Group gap="xs">
          {onCancel ? (
            <Button variant="default" color="red" size="sm" leftSection={<IconPlayerStop size={14} aria-hidden />} onClick={onCancel} loading={cancelling}>
              Cancel run
            </Button>
          ) : null}
          <Button type="submit" size="sm" leftSection={<IconSend size={14} aria-hidden />} disabled={blank || Boolean(disabledReason)} loading={sending}>
            Send
          </Button>
        </Group>
      </Group>
    </Stack>
  );
}
