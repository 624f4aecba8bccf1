// Shown instead of the app when the server answers 401: never signed in here, or the
// session ended (expired, or the server's data was reset). Signing in is the login link.
import { Button, Card, Center, Code, List, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client.ts";
import { connection } from "../api/connection.ts";
import { Logo } from "../components/Logo.tsx";

export function SignInPage({ expired }: { expired: boolean }) {
  const client = useQueryClient();
  const [checking, setChecking] = useState(false);
  const [stillOut, setStillOut] = useState(false);
  const checkAgain = async () => {
    setChecking(true);
    const result = await api.GET("/api/v1/me").catch(() => null);
    setChecking(false);
    if (result?.data) {
      connection.sessionActive();
      await client.invalidateQueries();
    } else setStillOut(true);
  };
  return (
    <Center mih="100vh" p="md">
      <Card withBorder shadow="sm" padding="xl" maw={560} component="main">
        <Stack>
          <Logo size={40} />
          <Title order={1} size="h2">
            {expired ? "Your session has ended" : "Sign in to Outpost"}
          </Title>
          <Text>
            {expired
              ? "The server no longer accepts this browser's session (it expired or was signed out). Sign in again with a login link:"
              : "Outpost signs browsers in with a one-time login link:"}
          </Text>
          <List spacing="xs">
            <List.Item>
              open the link that <Code>outpost serve</Code> (or <Code>npm start</Code>) printed when it started, or
            </List.Item>
            <List.Item>
              print a new one on the server's machine: <Code style={{ whiteSpace: "nowrap" }}>npx outpost login-link</Code>
            </List.Item>
          </List>
          <Text size="sm" c="dimmed">
            Each link works once. The API and the CLI use tokens instead (see the API reference at /docs once signed in).
          </Text>
          <Button variant="light" onClick={() => void checkAgain()} loading={checking} w="fit-content">
            I signed in in another tab: check again
          </Button>
          {stillOut ? (
            <Text size="sm" c="red" role="status">
              Still not signed in.
            </Text>
          ) : null}
        </Stack>
      </Card>
    </Center>
  );
}
