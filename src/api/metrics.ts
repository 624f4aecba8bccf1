// Prometheus metrics at /metrics (admins only): request latency by route, the database
// pool, and the process. A registry per app (not prom-client's global) so tests can run several apps.
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { OutpostError } from "../domain/errors.ts";
import { currentPrincipal } from "./auth.ts";

export function registerMetrics(app: FastifyInstance, pool: pg.Pool, registry = new Registry()): Registry {
  collectDefaultMetrics({ register: registry, prefix: "outpost_" });

  const latency = new Histogram({
    name: "outpost_http_request_duration_seconds",
    help: "HTTP request latency by route template",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const poolGauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  poolGauge("outpost_db_pool_connections", "Connections open in the control plane's database pool", () => pool.totalCount);
  poolGauge("outpost_db_pool_idle", "Idle connections in the pool", () => pool.idleCount);
  poolGauge("outpost_db_pool_waiting", "Queries waiting for a pool connection", () => pool.waitingCount);

  app.addHook("onResponse", async (request, reply) => {
    // The route template, not the URL: ids in paths would explode the label set.
    const route = request.routeOptions.url ?? "unmatched";
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // Installation-wide figures (every route's traffic): for admins, not every project member.
  app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
    if (!currentPrincipal(request).isAdmin) {
      throw new OutpostError("FORBIDDEN", "Metrics are for admins.", { fix: "Use the admin token (<data dir>/admin-token) or a token of an admin user." });
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
