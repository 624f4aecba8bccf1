// The UI's routes. Pages are loaded on first use, so the first screen loads only what it
// shows. The server answers index.html for these paths (UI_ROUTES in src/api/static.ts):
// a new top-level path must be added there too.
import { Center, Loader } from "@mantine/core";
import { lazy, Suspense } from "react";
import { Route, Routes } from "react-router";
import { Shell } from "./components/Shell.tsx";

const ProjectsPage = lazy(() => import("./pages/ProjectsPage.tsx"));
const ProjectPage = lazy(() => import("./pages/ProjectPage.tsx"));
const SandboxPage = lazy(() => import("./pages/SandboxPage.tsx"));
const NotFoundPage = lazy(() => import("./pages/NotFoundPage.tsx"));

export const paths = {
  projects: () => "/projects",
  project: (ref: string, tab?: string) => `/projects/${encodeURIComponent(ref)}${tab ? `/${tab}` : ""}`,
  sandbox: (ref: string, tab?: string) => `/sandboxes/${encodeURIComponent(ref)}${tab ? `/${tab}` : ""}`,
};

function PageLoader() {
  return (
    <Center h="50vh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

export function AppRoutes() {
  return (
    <Shell>
      <Suspense fallback={<PageLoader />}>
        <Routes>
          <Route path="/" element={<ProjectsPage />} />
          <Route path="/projects" element={<ProjectsPage />} />
          <Route path="/projects/:project/:tab?" element={<ProjectPage />} />
          <Route path="/sandboxes/:sandbox/:tab?" element={<SandboxPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </Suspense>
    </Shell>
  );
}
