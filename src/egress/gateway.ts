// The model gateway: inside every sandbox ANTHROPIC_BASE_URL and OPENAI_BASE_URL (and, for
// Gemini CLI, GOOGLE_GEMINI_BASE_URL) point at 127.0.0.1:3129/<provider>, which arrives here through the sandbox's own socket. For each
// call the gateway checks the project's monthly token budget, puts the project's credential
// for the provider into the headers (the sandbox only ever held a placeholder), sends the
// call on to the provider over TLS, and counts the tokens from the provider's answer as it
// streams back. Usage is measured here, outside the sandbox, so code inside cannot
// under-report it. The gateway is the platform's own path to the model: the project's
// egress level does not apply to it (a budget does).
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createUsageMeter, type ModelProvider, totalTokens } from "../domain/model-usage.ts";
import type { SandboxEgress, UsageRecord } from "../services/egress.ts";
import { FedServer } from "./fed-server.ts";
import { forwardRequest } from "./forward.ts";

export interface Upstream {
  /** Where calls go, e.g. https://api.anthropic.com (tests: a stand-in on 127.0.0.1). */
  baseUrl: string;
  /** The host credentials name for this provider (`api.anthropic.com`), whatever baseUrl is. */
  credentialHost: string;
}

export const GATEWAY_PROVIDERS: Record<ModelProvider, Omit<Upstream, "baseUrl"> & { defaultBaseUrl: string }> = {
  anthropic: { credentialHost: "api.anthropic.com", defaultBaseUrl: "https://api.anthropic.com" },
  openai: { credentialHost: "api.openai.com", defaultBaseUrl: "https://api.openai.com" },
  gemini: { credentialHost: "generativelanguage.googleapis.com", defaultBaseUrl: "https://generativelanguage.googleapis.com" },
};

/** `/<provider>/<rest>?<query>`: which provider a call is for. */
const PROVIDER_PATH = /^\/(anthropic|openai|gemini)(\/[^?#]*)?(\?.*)?$/;

export interface GatewayDeps {
  context(sandboxId: string): Promise<SandboxEgress | null>;
  upstreams: Record<ModelProvider, Upstream>;
  tokensThisMonth(projectId: string): Promise<number>;
  recordUsage(record: UsageRecord): Promise<void>;
  /** PEM certificates trusted for upstream TLS (default: Node's roots). */
  upstreamCa?: string[];
  onUsage?(provider: ModelProvider, tokens: { input: number; output: number; cacheRead: number; cacheWrite: number }): void;
  log(message: string): void;
  timeouts?: {
    /** A connection that has not sent a whole request head by then is closed. Default 30 s. */
    headersMs?: number;
  };
}

export class ModelGateway {
  readonly #fed: FedServer;

  constructor(private readonly deps: GatewayDeps) {
    this.#fed = new FedServer({ maxHeaderBytes: 32 * 1024, headersMs: deps.timeouts?.headersMs });
    this.#fed.server.on("request", (req: IncomingMessage, res: ServerResponse) =>
      // A failure of ours (the budget's store is down) must cost this call, never the control
      // plane: an unhandled rejection ends the process.
      this.#handle(req, res).catch((error: unknown) => {
        deps.log(`model gateway: a call failed: ${error instanceof Error ? error.message : String(error)}`);
        if (res.headersSent) return void res.destroy();
        fail(res, 500, providerOf(req.url), "api_error", "Outpost model gateway: the call could not be served; try again.");
      }),
    );
    this.#fed.server.on("clientError", (_error, socket) => socket.destroy());
  }

  accept(sandboxId: string, socket: Socket): void {
    this.#fed.accept(socket, sandboxId);
  }

  close(): void {
    this.#fed.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = PROVIDER_PATH.exec(req.url ?? "");
    const provider = match?.[1] as ModelProvider | undefined;
    if (!provider)
      return fail(
        res,
        404,
        undefined,
        "not_found_error",
        "Outpost model gateway: use /anthropic/…, /openai/… or /gemini/… (ANTHROPIC_BASE_URL, OPENAI_BASE_URL, GOOGLE_GEMINI_BASE_URL).",
      );
    const sandboxId = this.#fed.sandboxOf(req.socket);
    // Forwarded as written, `..` would climb out of the provider's base path at the upstream
    // (which resolves dot segments, some after percent-decoding): no client sends them.
    if (hasDotSegment(match?.[2] ?? ""))
      return fail(res, 400, provider, "invalid_request_error", "Outpost model gateway: the path may not contain '.' or '..' segments.");
    const ctx = sandboxId ? await this.deps.context(sandboxId).catch(() => null) : null;
    if (!ctx || !sandboxId) return fail(res, 403, provider, "permission_error", "Outpost model gateway: this sandbox is not known to Outpost (deleted?).");

    if (ctx.tokenBudget !== null) {
      const spent = await this.deps.tokensThisMonth(ctx.projectId);
      if (spent >= ctx.tokenBudget) {
        return fail(
          res,
          402,
          provider,
          "budget_exceeded",
          `Outpost: project ${ctx.projectName} has used its monthly model budget (${spent} of ${ctx.tokenBudget} tokens). ` +
            `Ask its owner to raise it: outpost project update ${ctx.projectName} --token-budget <tokens>.`,
        );
      }
    }

    const upstream = this.deps.upstreams[provider];
    const base = new URL(upstream.baseUrl);
    const port = Number(base.port) || (base.protocol === "https:" ? 443 : 80);
    let connection: Socket;
    try {
      connection = await this.#connect(base, port);
    } catch (error) {
      return fail(res, 502, provider, "api_error", `Outpost model gateway: cannot reach ${base.host}: ${(error as Error).message}`);
    }
    const path = `${base.pathname.replace(/\/$/, "")}${match?.[2] ?? "/"}${match?.[3] ?? ""}`;
    forwardRequest(req, res, {
      host: upstream.credentialHost,
      port,
      path,
      connection,
      credentials: ctx.credentials,
      rewrite: (headers) => {
        headers.host = base.host;
        // The meter reads the answer: ask for it uncompressed.
        headers["accept-encoding"] = "identity";
      },
      onResponse: (response) => {
        if ((response.statusCode ?? 0) >= 300) return undefined;
        const meter = createUsageMeter(provider, response.headers["content-type"]);
        response.once("end", () => void this.#record(provider, ctx, sandboxId, meter.finish()));
        return (chunk) => meter.push(chunk);
      },
    });
  }

  async #record(provider: ModelProvider, ctx: SandboxEgress, sandboxId: string, usage: ReturnType<ReturnType<typeof createUsageMeter>["finish"]>) {
    if (!usage || totalTokens(usage) === 0) return;
    this.deps.onUsage?.(provider, {
      input: usage.inputTokens,
      output: usage.outputTokens,
      cacheRead: usage.cacheReadTokens,
      cacheWrite: usage.cacheWriteTokens,
    });
    await this.deps
      .recordUsage({ projectId: ctx.projectId, sandboxId, provider, ...usage })
      .catch((error) => this.deps.log(`model usage of ${sandboxId} not recorded: ${(error as Error).message}`));
  }

  #connect(base: URL, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const host = base.hostname.replace(/^\[|\]$/g, "");
      const socket =
        base.protocol === "https:"
          ? tlsConnect({ host, port, servername: host, ca: this.deps.upstreamCa?.length ? this.deps.upstreamCa : undefined, ALPNProtocols: ["http/1.1"] })
          : netConnect({ host, port });
      const ready = base.protocol === "https:" ? "secureConnect" : "connect";
      const timer = setTimeout(() => socket.destroy(new Error("connect timed out")), 15_000);
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}

/** An error in the provider's own shape, so its clients show the message as they would theirs. */
function fail(res: ServerResponse, status: number, provider: ModelProvider | undefined, type: string, message: string): void {
  const body =
    provider === "openai"
      ? { error: { message, type, code: type } }
      : provider === "gemini"
        ? // Google's shape: the HTTP status and a canonical status name (clients show `message`).
          { error: { code: status, message, status: GOOGLE_STATUS[status] ?? "UNKNOWN" } }
        : { type: "error", error: { type, message } };
  res.writeHead(status, { "content-type": "application/json", "x-outpost-gateway": type });
  res.end(JSON.stringify(body));
}

const GOOGLE_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  402: "RESOURCE_EXHAUSTED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  500: "INTERNAL",
  502: "UNAVAILABLE",
};

function providerOf(url: string | undefined): ModelProvider | undefined {
  return PROVIDER_PATH.exec(url ?? "")?.[1] as ModelProvider | undefined;
}

/**
 * Whether a path has a `.` or `..` segment, also when spelled `%2e`, `%252e` (decoded again
 * by some servers), `..%2f` or with `\` (a separator to some servers). Three rounds of
 * decoding bound the work a long path can cost.
 */
function hasDotSegment(path: string): boolean {
  let decoded = path;
  for (let round = 0; round < 3; round++) {
    const next = decoded.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === decoded) break;
    decoded = next;
  }
  return decoded.split(/[/\\]/).some((segment) => segment === "." || segment === "..");
}
