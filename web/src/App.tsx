// The app's frame: theme (following the system until the user picks one), notifications,
// the query cache, the router, and the gate that shows sign-in, session-expired or
// server-unreachable pages instead of the app when needed.
import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter } from "react-router";
import { ApiError } from "./api/client.ts";
import { ConnectionGate } from "./components/ConnectionGate.tsx";
import { AppRoutes } from "./routes.tsx";
import { theme } from "./theme.ts";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // The events stream invalidates what changes; this only bounds a missed event.
      staleTime: 60_000,
      // A 4xx will not change by asking again; a 5xx or a dropped connection might.
      retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
    },
  },
});

export function App() {
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <Notifications position="bottom-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <ConnectionGate>
            <AppRoutes />
          </ConnectionGate>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
