// Shown instead of the app while the server cannot be reached (stopped, restarting, or the
// network is down). It keeps trying by itself, sooner on the button, and puts the app back
// where it was, with fresh data, once the server answers.
import { Button, Card, Center, Code, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { connection } from "../api/connection.ts";

const RETRY_MS = [1000, 2000, 4000, 8000, 15000];

export function UnreachablePage() {
  const client = useQueryClient();
  const [attempts, setAttempts] = useState(0);
  const [checking, setChecking] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const check = useCallback(async () => {
    clearTimeout(timer.current);
    setChecking(true);
    const ok = await fetch("/healthz", { cache: "no-store" }).then(
      (response) => response.ok,
      () => false,
    );
    setChecking(false);
    if (ok) {
      connection.reachableAgain();
      await client.invalidateQueries();
      return;
    }
    setAttempts((n) => n + 1);
  }, [client]);

  useEffect(() => {
    timer.current = setTimeout(() => void check(), RETRY_MS[Math.min(attempts, RETRY_MS.length - 1)]);
    return () => clearTimeout(timer.current);
  }, [attempts, check]);

  return (
    <Center mih="100vh" p="md">
      <Card withBorder shadow="sm" padding="xl" maw={560} component="main">
        <Stack>
          <Title order={1} size="h2">
            The Outpost server does not answer
          </Title>
          <Text>
            It may be stopped or restarting, or the network is down. Sandboxes keep running meanwhile. Start the server again with <Code>npm start</Code> (or{" "}
            <Code>outpost serve</Code>); this page reconnects by itself.
          </Text>
          <Group>
            <Button onClick={() => void check()} loading={checking}>
              Retry now
            </Button>
            {attempts > 0 ? (
              <Group gap="xs" c="dimmed" role="status">
                <Loader size="xs" aria-hidden />
                <Text size="sm">Tried {attempts === 1 ? "once" : `${attempts} times`}; trying again soon.</Text>
              </Group>
            ) : null}
          </Group>
        </Stack>
      </Card>
    </Center>
  );
}
