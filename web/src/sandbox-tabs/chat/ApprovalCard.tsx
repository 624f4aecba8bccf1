// A tool call waiting for a person (the project's approve mode): what the agent wants to do,
// and Approve or Deny for those who may edit. Decided ones say how they were decided.
import { Alert, Button, Group, Stack, Text } from "@mantine/core";
import { IconShieldQuestion } from "@tabler/icons-react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { useDecideApproval } from "./queries.ts";
import { mainInput } from "./ToolCard.tsx";

export function ApprovalCard({
  runId,
  approvalId,
  tool,
  input,
  decision,
  message,
  canDecide,
}: {
  runId: string;
  approvalId: string;
  tool: string;
  input: unknown;
  decision: "pending" | "allow" | "deny";
  message?: string;
  canDecide: boolean;
}) {
  const decide = useDecideApproval();
  const summary = mainInput(input);
  const pending = decision === "pending";
  return (
    <Alert
      data-testid="approval-card"
      data-decision={decision}
      color={pending ? "yellow" : decision === "allow" ? "green" : "red"}
      variant="light"
      icon={<IconShieldQuestion size={18} aria-hidden />}
      title={pending ? `${tool} waits for approval` : `${tool} was ${decision === "allow" ? "approved" : "denied"}`}
    >
      <Stack gap="xs">
        {summary ? (
          <Text size="sm" ff="monospace">
            {summary}
          </Text>
        ) : (
          <pre className="outpost-chat-pre">{JSON.stringify(input, null, 2)}</pre>
        )}
        {message ? <Text size="sm">{message}</Text> : null}
        {decide.error ? <ErrorAlert error={decide.error} title="Not decided" /> : null}
        {pending && canDecide ? (
          <Group gap="xs">
            <Button
              size="xs"
              color="green"
              loading={decide.isPending && decide.variables?.decision === "allow"}
              disabled={decide.isPending}
              onClick={() => decide.mutate({ runId, approvalId, decision: "allow" })}
            >
              Approve
            </Button>
            <Button
              size="xs"
              color="red"
              variant="outline"
              loading={decide.isPending && decide.variables?.decision === "deny"}
              disabled={decide.isPending}
              onClick={() => decide.mutate({ runId, approvalId, decision: "deny" })}
            >
              Deny
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Alert>
  );
}
