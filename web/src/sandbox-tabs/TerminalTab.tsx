// The Terminal tab: shells in the sandbox, several at once (sub-tabs), each a persistent
// session in the sandbox's supervisor. Opening the tab reattaches to the terminals this
// browser had open (a reload finds the same shells with their screens); with none, it opens
// one. Detaching leaves a shell running (the Attach menu lists it); ending hangs it up.
// "New root terminal" opens a shell as root inside (sandboxes whose environment has an
// image); the API decides, and its refusal (on the host's /usr) is shown with its hint.
// Viewers see a notice: a terminal runs commands, which takes the editor role.
import { Alert, Box, Button, Card, Code, Group, Menu, Modal, Skeleton, Stack, Tabs, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconChevronDown, IconLock, IconPlayerStop, IconPlugConnected, IconPlus, IconUnlink, IconUserShield } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ApiError, api, unwrap } from "../api/client.ts";
import { useMembers } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago } from "../format.ts";
import type { TerminalInfo } from "./terminal/connection.ts";
import { recall, remember } from "./terminal/remembered.ts";
import { TerminalView } from "./terminal/TerminalView.tsx";
import type { SandboxTabProps } from "./types.ts";

export default function TerminalTab({ sandbox, canEdit, active }: SandboxTabProps) {
  const members = useMembers(sandbox.projectId);
  if (sandbox.phase !== "running") {
    return (
      <Alert color="gray" title="The sandbox is not running" role="status">
        Terminals run in the sandbox: start it to open one. Shells opened before it stopped have ended.
      </Alert>
    );
  }
  if (!canEdit) {
    if (members.isPending) return <Skeleton h={300} />;
    return (
      <Alert color="gray" icon={<IconLock aria-hidden />} title="Terminals need the editor role" role="status">
        A terminal runs commands in the sandbox. You can look at its files and previews; ask an owner of the project to make you an editor to open one.
      </Alert>
    );
  }
  return <Terminals sandboxId={sandbox.id} active={active} />;
}

interface Session {
  /** Stable for the view's life (a new terminal has no id until it is attached). */
  key: string;
  tid: string | null;
  number: number;
  ended: boolean;
  /** Opened as root here (or remembered so): named so on its tab. */
  root: boolean;
}

const sessionName = (s: Session) => `${s.root ? "Root shell" : "Shell"} ${s.number}`;
const shellName = (t: TerminalInfo) => t.command[0]?.split("/").at(-1) ?? "shell";

function Terminals({ sandboxId, active }: { sandboxId: string; active: boolean }) {
  const client = useQueryClient();
  const listKey = ["terminals", sandboxId];
  const list = useQuery({
    queryKey: listKey,
    queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/terminals", { params: { path: { id: sandboxId } } })).items,
  });
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  // The terminal the user just opened or picked takes the keyboard; on page load none does.
  const [focusKey, setFocusKey] = useState<string | null>(null);
  const [confirmEnd, setConfirmEnd] = useState<Session | null>(null);
  const counter = useRef(0);

  const session = (tid: string | null, root = false): Session => {
    counter.current += 1;
    return { key: tid ?? `new-${counter.current}`, tid, number: counter.current, ended: false, root };
  };
  const refreshList = () => void client.invalidateQueries({ queryKey: listKey });
  // A root shell is opened over REST first (the WebSocket's `new` opens only the sandbox
  // user's), so a refusal comes back as an answer with its code and hint, not a closed socket.
  const openRoot = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/sandboxes/{id}/terminals", { params: { path: { id: sandboxId } }, body: { user: "root" } })),
    onSuccess: (terminal) => {
      // A new id, shown last; the sessions may have changed while this was asked.
      const opened = session(terminal.id, true);
      setSessions((all) => [...(all ?? []), opened]);
      setSelected(opened.key);
      setFocusKey(opened.key);
      refreshList();
    },
  });

  // Once the first list arrives: reattach to what this browser had open, or open a terminal.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once, when the list first arrives
  useEffect(() => {
    if (sessions !== null || !list.data) return;
    const live = new Set(list.data.map((t) => t.id));
    const memory = recall(sandboxId);
    const restored = memory.tids.filter((tid) => live.has(tid)).map((tid) => session(tid, memory.root.includes(tid)));
    if (restored.length > 0) {
      setSessions(restored);
      setSelected(restored.find((s) => s.tid === memory.selected)?.key ?? restored[0]?.key ?? null);
    } else if (list.data.length === 0) {
      const fresh = session(null);
      setSessions([fresh]);
      setSelected(fresh.key);
    } else {
      setSessions([]);
    }
  }, [list.data, sessions, sandboxId]);

  useEffect(() => {
    if (sessions === null) return;
    const open = sessions.filter((s) => s.tid && !s.ended);
    const current = sessions.find((s) => s.key === selected);
    remember(sandboxId, {
      tids: open.map((s) => s.tid as string),
      selected: current?.tid ?? null,
      root: open.filter((s) => s.root).map((s) => s.tid as string),
    });
  }, [sessions, selected, sandboxId]);

  const update = (key: string, change: Partial<Session>) => setSessions((all) => all?.map((s) => (s.key === key ? { ...s, ...change } : s)) ?? all);
  const remove = (key: string) => {
    const all = sessions ?? [];
    const index = all.findIndex((s) => s.key === key);
    const rest = all.filter((s) => s.key !== key);
    setSessions(rest);
    if (selected === key) setSelected(rest[Math.min(index, rest.length - 1)]?.key ?? null);
  };
  const add = (tid: string | null) => {
    const existing = tid ? sessions?.find((s) => s.tid === tid) : undefined;
    const target = existing ?? session(tid);
    if (!existing) setSessions([...(sessions ?? []), target]);
    setSelected(target.key);
    setFocusKey(target.key);
  };
  const end = async (target: Session) => {
    setConfirmEnd(null);
    if (!target.tid) return remove(target.key);
    try {
      unwrap(await api.DELETE("/api/v1/sandboxes/{id}/terminals/{tid}", { params: { path: { id: sandboxId, tid: target.tid } } }));
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "TERMINAL_NOT_FOUND")) {
        notifications.show({ color: "red", title: "The shell was not ended", message: error instanceof Error ? error.message : String(error) });
        return;
      }
    }
    remove(target.key);
    refreshList();
  };

  if (list.error && sessions === null) return <ErrorAlert error={list.error} title="The terminals cannot be listed" onRetry={() => void list.refetch()} />;
  if (sessions === null) return <Skeleton h={300} />;

  const attachedTids = new Set(sessions.map((s) => s.tid));
  const elsewhere = (list.data ?? []).filter((t) => !attachedTids.has(t.id));
  const current = sessions.find((s) => s.key === selected) ?? null;

  const newRoot = (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconUserShield size={14} aria-hidden />}
      loading={openRoot.isPending}
      onClick={() => openRoot.mutate()}
      title="A shell as root inside the sandbox (its environment must have an image)"
    >
      New root terminal
    </Button>
  );
  const rootRefused = openRoot.error ? <ErrorAlert error={openRoot.error} title="No root terminal was opened" onClose={() => openRoot.reset()} /> : null;

  const attachMenu = (
    <Menu position="bottom-end" onOpen={refreshList}>
      <Menu.Target>
        <Button size="xs" variant="default" rightSection={<IconChevronDown size={14} aria-hidden />} leftSection={<IconPlugConnected size={14} aria-hidden />}>
          Attach
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Terminals running in the sandbox</Menu.Label>
        {elsewhere.length === 0 ? <Menu.Item disabled>None besides those shown</Menu.Item> : null}
        {elsewhere.map((t) => (
          <Menu.Item key={t.id} onClick={() => add(t.id)}>
            <Text size="sm" ff="monospace">
              {t.id}
            </Text>
            <Text size="xs" c="dimmed">
              {shellName(t)} · opened {ago(t.createdAt)} · {t.clients === 1 ? "1 client" : `${t.clients} clients`} attached
            </Text>
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );

  if (sessions.length === 0) {
    return (
      <Card withBorder padding="lg">
        <Stack gap="sm" align="flex-start">
          <Text fw={600}>No terminal is shown here</Text>
          <Text size="sm" c="dimmed">
            {elsewhere.length > 0
              ? `This sandbox has ${elsewhere.length === 1 ? "a terminal" : `${elsewhere.length} terminals`} running, opened elsewhere or detached. Attach to one, or open a new one.`
              : "Open a shell in /workspace."}
          </Text>
          <Group gap="xs">
            <Button size="xs" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => add(null)}>
              New terminal
            </Button>
            {newRoot}
            {elsewhere.length > 0 ? attachMenu : null}
          </Group>
          {rootRefused}
        </Stack>
      </Card>
    );
  }

  return (
    <Tabs
      value={selected}
      onChange={(value) => {
        setSelected(value);
        setFocusKey(value);
      }}
      variant="outline"
      keepMounted
      // Hidden shells keep their effects (and so their connections): not Mantine's default Activity.
      keepMountedMode="display-none"
    >
      <Group justify="space-between" align="flex-end" wrap="wrap" gap="xs" mb="xs">
        <Tabs.List aria-label="Terminals">
          {sessions.map((s) => (
            <Tabs.Tab key={s.key} value={s.key} title={s.tid ?? "opening…"} c={s.ended ? "dimmed" : undefined}>
              {sessionName(s)}
              {s.ended ? " (ended)" : ""}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Group gap="xs">
          <Button size="xs" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => add(null)}>
            New terminal
          </Button>
          {newRoot}
          {attachMenu}
          {current && !current.ended ? (
            <>
              <Button
                size="xs"
                variant="default"
                leftSection={<IconUnlink size={14} aria-hidden />}
                onClick={() => {
                  remove(current.key);
                  refreshList();
                }}
                title="Take it off this page; the shell keeps running (Attach brings it back)"
              >
                Detach
              </Button>
              <Button size="xs" variant="subtle" color="red" leftSection={<IconPlayerStop size={14} aria-hidden />} onClick={() => setConfirmEnd(current)}>
                End shell
              </Button>
            </>
          ) : null}
        </Group>
      </Group>
      {rootRefused ? <Box mb="xs">{rootRefused}</Box> : null}
      {sessions.map((s) => (
        <Tabs.Panel key={s.key} value={s.key}>
          <TerminalView
            sandboxId={sandboxId}
            tid={s.tid}
            label={sessionName(s)}
            visible={active && s.key === selected}
            focusWhenShown={focusKey === s.key}
            onAttached={(tid) => {
              update(s.key, { tid });
              refreshList();
            }}
            onEnded={() => {
              update(s.key, { ended: true });
              refreshList();
            }}
            onDismiss={() => remove(s.key)}
            onNewTerminal={() => add(null)}
          />
        </Tabs.Panel>
      ))}
      <Modal opened={confirmEnd !== null} onClose={() => setConfirmEnd(null)} title={confirmEnd ? `End ${sessionName(confirmEnd)}?` : ""}>
        <Stack>
          <Text size="sm">
            The shell is hung up (SIGHUP, then SIGKILL after 2 s), and so are the programs it runs in the foreground. Anyone else attached to it sees it end.
            {confirmEnd?.tid ? (
              <>
                {" "}
                <Code>{confirmEnd.tid}</Code>
              </>
            ) : null}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmEnd(null)} data-autofocus>
              Cancel
            </Button>
            <Button color="red" onClick={() => confirmEnd && void end(confirmEnd)}>
              End shell
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Tabs>
  );
}
