// The page a signed-in browser lands on. The full web UI comes in a later issue; until
// then this page says where things are.
import type { FastifyInstance } from "fastify";
import { currentUser } from "../auth.ts";

export function homeRoutes(app: FastifyInstance): void {
  app.get("/", { schema: { hide: true } }, async (request, reply) => {
    const user = currentUser(request);
    reply.type("text/html; charset=utf-8");
    return `<!doctype html><html><head><meta charset="utf-8"><title>Outpost</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Outpost</h1><p>Signed in as <b>${escapeHtml(user.name)}</b>.</p>
<ul><li><a href="/docs">API reference</a></li><li><a href="/api/v1/projects">Projects (JSON)</a></li>
<li><a href="/api/v1/events">Live events (SSE)</a></li></ul></body></html>`;
  });
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
