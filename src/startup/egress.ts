// Start-up, the sandboxes' way out: the installation CA, the egress proxy, the model gateway,
// the recorder of decisions, their metrics and routes, built once. Part of the one
// composition root (src/startup/, called by server.ts). The local driver gets `endpoint`:
// it listens on each sandbox's egress.sock and gateway.sock and hands connections here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SecureContext } from "node:tls";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { Counter, Registry } from "prom-client";
import { egressRoutes } from "../api/routes/egress.ts";
import { projectGitRoutes } from "../api/routes/project-git.ts";
import { variableRoutes } from "../api/routes/variables.ts";
import type { Settings } from "../config/settings.ts";
import type { SecretBox } from "../crypto/secrets.ts";
import { StartupError } from "../domain/errors.ts";
import type { EgressEndpoint } from "../drivers/driver.ts";
import { CertificateAuthority, trustBundle } from "../egress/certificates.ts";
import { DatabaseBridge } from "../egress/database-bridge.ts";
import { GATEWAY_PROVIDERS, ModelGateway } from "../egress/gateway.ts";
import { EgressProxy } from "../egress/proxy.ts";
import { SshAgentServer } from "../egress/ssh-agent.ts";
import type { ServerEndpoint } from "../services/databases/provisioner.ts";
import { EgressService } from "../services/egress.ts";
import { EgressRecorder } from "../services/egress-recorder.ts";
import { DeployKeyService } from "../services/git/deploy-keys.ts";
import type { ProjectChanges } from "../services/project-changes.ts";
import type { VariableService } from "../services/variables.ts";

export interface EgressRuntime {
  endpoint: EgressEndpoint;
  /** A TLS identity signed by the installation CA, per server name (the Kubernetes link endpoint). */
  tlsContextFor(servername: string): SecureContext;
  service: EgressService;
  recorder: EgressRecorder;
  /** Projects' SSH deploy keys (and their repository's pinned host keys). */
  deployKeys: DeployKeyService;
  routes(app: FastifyInstance): void;
  stop(): Promise<void>;
}

export interface EgressRuntimeOptions {
  pool: pg.Pool;
  settings: Pick<Settings, "dataDir" | "anthropicUpstream" | "openaiUpstream" | "geminiUpstream" | "egressUpstreamCaFile">;
  secrets: SecretBox;
  variables: VariableService;
  /** Changes made in this process (cached contexts are dropped at once). */
  changes: ProjectChanges;
  /** Wake-ups of the events stream: another replica may have changed a project. */
  onEvents(listener: () => void): () => void;
  metrics: Registry;
  logger: Logger;
  /** Tests: how often decisions are written, and the allowed-summary window. */
  flushMs?: number;
  allowedEventWindowMs?: number;
  /** Where a project's database lives, for the sandboxes' 127.0.0.1:5432 (absent: no databases). */
  databaseEndpoint?: (projectId: string) => Promise<ServerEndpoint | null>;
}

/** The registry /metrics shows; made here because prom-client is only loaded with the rest of the server. */
export function createMetricsRegistry(): Registry {
  return new Registry();
}

export function createEgressRuntime(options: EgressRuntimeOptions): EgressRuntime {
  const log = options.logger.child({ component: "egress" });
  const say = (message: string) => log.info(message);
  const ca = loadCa(join(options.settings.dataDir, "egress-ca"), options.secrets);
  const upstreamCa = options.settings.egressUpstreamCaFile ? [readUpstreamCa(options.settings.egressUpstreamCaFile)] : undefined;
  const service = new EgressService(options.pool, options.variables);
  const unsubscribe = [options.changes.subscribe(() => service.invalidate()), options.onEvents(() => service.invalidate())];
  const recorder = new EgressRecorder(options.pool, { log: say, flushMs: options.flushMs, allowedEventWindowMs: options.allowedEventWindowMs });
  recorder.start();
  const context = (sandboxId: string) => service.sandboxContext(sandboxId);
  const proxy = new EgressProxy({ context, recorder, ca, upstreamCa, log: say });
  const deployKeys = new DeployKeyService(options.pool, options.secrets, options.changes, { log: say });
  const sshAgent = new SshAgentServer({ context, identity: (projectId) => deployKeys.agentIdentity(projectId), log: say });
  const databaseBridge = new DatabaseBridge({
    projectOf: async (sandboxId) => (await context(sandboxId))?.projectId ?? null,
    endpointOf: async (projectId) => (await options.databaseEndpoint?.(projectId)) ?? null,
    log: say,
  });

  const tokens = new Counter({
    name: "outpost_model_tokens_total",
    help: "Model tokens through the gateway, by provider and kind",
    labelNames: ["provider", "kind"] as const,
    registers: [options.metrics],
  });
  const gateway = new ModelGateway({
    context,
    upstreams: {
      anthropic: { baseUrl: options.settings.anthropicUpstream, credentialHost: GATEWAY_PROVIDERS.anthropic.credentialHost },
      openai: { baseUrl: options.settings.openaiUpstream, credentialHost: GATEWAY_PROVIDERS.openai.credentialHost },
      gemini: { baseUrl: options.settings.geminiUpstream, credentialHost: GATEWAY_PROVIDERS.gemini.credentialHost },
    },
    tokensThisMonth: (projectId) => service.tokensThisMonth(projectId),
    recordUsage: (record) => service.recordUsage(record),
    upstreamCa,
    onUsage: (provider, counts) => {
      for (const [kind, value] of Object.entries(counts)) tokens.inc({ provider, kind }, value);
    },
    log: say,
  });
  registerEgressMetrics(options.metrics, recorder);

  return {
    service,
    recorder,
    deployKeys,
    tlsContextFor: (servername) => ca.contextFor(servername),
    endpoint: {
      accept: (kind, sandboxId, socket) => {
        if (kind === "proxy") proxy.accept(sandboxId, socket);
        else if (kind === "ssh-agent") sshAgent.accept(sandboxId, socket);
        else if (kind === "database") databaseBridge.accept(sandboxId, socket);
        else gateway.accept(sandboxId, socket);
      },
      caPem: ca.certificatePem,
      caBundlePem: trustBundle(ca.certificatePem),
    },
    routes(app) {
      egressRoutes(app, service, recorder);
      variableRoutes(app, options.variables);
      projectGitRoutes(app, deployKeys);
    },
    async stop() {
      for (const stop of unsubscribe) stop();
      proxy.close();
      gateway.close();
      sshAgent.close();
      databaseBridge.close();
      await recorder.close();
    },
  };
}

/** The installation CA; one sealed with another secret key stops the start with the fix. */
function loadCa(dir: string, secrets: SecretBox): CertificateAuthority {
  try {
    return CertificateAuthority.loadOrCreate(dir, secrets);
  } catch (error) {
    throw new StartupError(
      `the egress CA in ${dir} cannot be opened: ${(error as Error).message}`,
      `start with the secret key it was made with (OUTPOST_SECRET_KEY or <data dir>/secret.key), or remove ${dir} to make a new CA (running sandboxes trust the new one once restarted)`,
    );
  }
}

function readUpstreamCa(path: string): string {
  try {
    const pem = readFileSync(path, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error("no PEM certificate in it");
    return pem;
  } catch (error) {
    throw new StartupError(
      `OUTPOST_EGRESS_UPSTREAM_CA (${path}) cannot be used: ${(error as Error).message}`,
      "point OUTPOST_EGRESS_UPSTREAM_CA at a readable PEM file of CA certificates, or unset it",
    );
  }
}

/** Running totals of the recorder, read when /metrics is scraped. */
function registerEgressMetrics(registry: Registry, recorder: EgressRecorder): void {
  new Counter({
    name: "outpost_egress_connections_total",
    help: "Connections sandboxes asked the egress proxy for, by decision",
    labelNames: ["decision"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ decision: "allowed" }, recorder.totals.allowed);
      this.inc({ decision: "denied" }, recorder.totals.denied);
    },
  });
  new Counter({
    name: "outpost_egress_bytes_total",
    help: "Bytes through the egress proxy, by direction (up: from sandboxes)",
    labelNames: ["direction"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: "up" }, recorder.totals.bytesUp);
      this.inc({ direction: "down" }, recorder.totals.bytesDown);
    },
  });
}
