// The Chat tab: conversations with a coding agent that works in this sandbox. The list on
// the side, the selected conversation (or a new one) beside it; which one is selected lives
// in the address (?conversation=cnv_…), so a link from the project page opens it. The whole
// tab is its own chunk (Markdown and all), loaded when first shown.
import { Box, Group, Text } from "@mantine/core";
import { useSearchParams } from "react-router";
import { ConversationList } from "./chat/ConversationList.tsx";
import { ConversationView } from "./chat/ConversationView.tsx";
import { NewConversation } from "./chat/NewConversation.tsx";
import { useSandboxConversations } from "./chat/queries.ts";
import type { SandboxTabProps } from "./types.ts";
import "./chat/chat.css";

const HEIGHT = "max(420px, calc(100dvh - 260px))";
const PARAM = "conversation";

export default function ChatTab({ sandbox, canEdit }: SandboxTabProps) {
  const [params, setParams] = useSearchParams();
  const conversations = useSandboxConversations(sandbox.id);
  const chosen = params.get(PARAM);
  // Nothing chosen: the newest conversation, or a new one when there is none.
  const selected = chosen === "new" ? null : (chosen ?? conversations.data?.[0]?.id ?? null);
  const select = (id: string) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        next.set(PARAM, id);
        return next;
      },
      { replace: chosen === null },
    );
  // A message to a sandbox stopped for idleness wakes it (the run waits for it).
  const closedReason =
    sandbox.phase === "running" || sandbox.stoppedReason === "idle" || sandbox.waking
      ? null
      : sandbox.phase === "deleted"
        ? "The sandbox is deleted; its conversations stay readable."
        : `The sandbox is ${sandbox.phase}; start it to send messages.`;

  return (
    <Group align="stretch" gap="md" wrap="nowrap" data-testid="chat-tab">
      <Box w={280} style={{ flexShrink: 0 }}>
        <ConversationList
          sandboxId={sandbox.id}
          selected={selected}
          onSelect={select}
          onNew={canEdit && sandbox.phase !== "deleted" ? () => select("new") : undefined}
          height={HEIGHT}
        />
      </Box>
      <Box style={{ flex: 1, minWidth: 0 }}>
        {selected ? (
          <ConversationView key={selected} conversationId={selected} canEdit={canEdit} closedReason={closedReason} height={HEIGHT} />
        ) : conversations.isPending && chosen === null ? null : canEdit ? (
          <NewConversation sandboxId={sandbox.id} closedReason={closedReason} onCreated={select} height={HEIGHT} />
        ) : (
          <Text size="sm" c="dimmed">
            No conversation with an agent in this sandbox yet; editors and owners start them.
          </Text>
        )}
      </Box>
    </Group>
  );
}
