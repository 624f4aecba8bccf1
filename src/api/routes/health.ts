// Probes. /healthz: the process answers. /readyz: the database answers and every migration
// is applied — what a load balancer or Kubernetes should wait for.
import type { FastifyInstance } from "fastify";

export function healthRoutes(app: FastifyInstance, isReady: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>): void {
  app.get("/healthz", { schema: { hide: true }, logLevel: "warn" }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true }, logLevel: "warn" }, async (_request, reply) => {
    const result = await isReady();
    reply.code(result.ready ? 200 : 503);
    return { status: result.ready ? "ready" : "not ready", checks: result.checks };
  });
}
