// A destructive action asked for by typing the project's name (the server checks it too):
// what happens, the name field, the action's error, Cancel and the red button.
import { Button, Group, Stack, TextInput } from "@mantine/core";
import { type ReactNode, useState } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";

export function TypedConfirmForm(props: {
  name: string;
  explanation: ReactNode;
  action: string;
  pending: boolean;
  error: unknown;
  errorTitle: string;
  onConfirm: (typed: string) => void;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState("");
  const ready = typed === props.name && !props.pending;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (ready) props.onConfirm(typed);
      }}
    >
      <Stack>
        {props.explanation}
        <TextInput
          label={
            <>
              Type <b>{props.name}</b> to confirm
            </>
          }
          value={typed}
          onChange={(event) => setTyped(event.currentTarget.value)}
          autoComplete="off"
          spellCheck={false}
          data-autofocus
          disabled={props.pending}
        />
        {props.error ? <ErrorAlert error={props.error} title={props.errorTitle} /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Cancel
          </Button>
          <Button type="submit" color="red" disabled={typed !== props.name} loading={props.pending}>
            {props.action}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
