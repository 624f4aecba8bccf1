// The frame around every page: the header (home, who is signed in, theme, API docs) and a
// skip link so keyboard users reach the content in one Tab.
import { Anchor, AppShell, Box, Group, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { useGlobalEvents } from "../api/live.ts";
import { useMe } from "../api/queries.ts";
import { Logo } from "./Logo.tsx";
import { ThemeMenu } from "./ThemeMenu.tsx";

export function Shell({ children }: { children: ReactNode }) {
  useGlobalEvents();
  const me = useMe();
  return (
    <AppShell header={{ height: 56 }} padding="md">
      <a className="outpost-skip-link" href="#main">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Anchor component={Link} to="/" underline="never" c="inherit" aria-label="Outpost: projects">
            <Group gap="xs" wrap="nowrap">
              <Logo />
              <Text fw={700} size="lg">
                Outpost
              </Text>
            </Group>
          </Anchor>
          <Group gap="md" wrap="nowrap">
            <Anchor href="/docs" size="sm">
              API reference
            </Anchor>
            {me.data ? (
              <Text size="sm" c="dimmed">
                Signed in as <b>{me.data.name}</b>
              </Text>
            ) : null}
            <ThemeMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        <Box id="main" tabIndex={-1} maw={1400} mx="auto" style={{ outline: "none" }}>
          {children}
        </Box>
      </AppShell.Main>
    </AppShell>
  );
}
