// Shows the app only while there is a session and a server: otherwise the page that says
// what to do (sign in with a login link, sign in again, wait for the server).
import { Center, Loader } from "@mantine/core";
import type { ReactNode } from "react";
import { useConnection } from "../api/connection.ts";
import { useMe } from "../api/queries.ts";
import { SignInPage } from "../pages/SignInPage.tsx";
import { UnreachablePage } from "../pages/UnreachablePage.tsx";
import { ErrorAlert } from "./ErrorAlert.tsx";

export function ConnectionGate({ children }: { children: ReactNode }) {
  const { session, reachable } = useConnection();
  const me = useMe();
  if (!reachable) return <UnreachablePage />;
  if (session === "signed-out" || session === "expired") return <SignInPage expired={session === "expired"} />;
  if (me.data) return children;
  if (me.error) {
    return (
      <Center h="100vh" p="md">
        <ErrorAlert error={me.error} onRetry={() => void me.refetch()} />
      </Center>
    );
  }
  return (
    <Center h="100vh">
      <Loader aria-label="Loading Outpost" />
    </Center>
  );
}
