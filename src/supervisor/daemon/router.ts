// Maps method + path to a handler and turns thrown errors into protocol error bodies.
// Transport-agnostic: it only sees SupervisorRequest/SupervisorResponse.
import { SupervisorError } from "./errors.ts";
import type { Handler, SupervisorRequest, SupervisorResponse } from "./http-types.ts";
import { sendError } from "./respond.ts";

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  /** `path` may hold `{name}` segments, matched as one non-empty path segment each. */
  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const source = path
      .split("/")
      .map((segment) => {
        const key = /^\{(\w+)\}$/.exec(segment)?.[1];
        if (!key) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        keys.push(key);
        return "([^/]+)";
      })
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  async handle(request: SupervisorRequest, response: SupervisorResponse, log: (message: string) => void): Promise<void> {
    try {
      let pathMatched = false;
      for (const route of this.routes) {
        const match = route.pattern.exec(request.path);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== request.method) continue;
        const params: Record<string, string> = {};
        route.keys.forEach((key, index) => {
          params[key] = match[index + 1] ?? "";
        });
        await route.handler(request, response, params);
        return;
      }
      if (pathMatched) throw new SupervisorError("METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${request.path}.`);
      throw new SupervisorError("ROUTE_NOT_FOUND", `No route ${request.method} ${request.path}.`);
    } catch (error) {
      const known = error instanceof SupervisorError;
      if (!known) log(`handler failed for ${request.method} ${request.path}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!response.started) {
        if (known) sendError(response, error.status, error.code, error.message);
        else sendError(response, 500, "INTERNAL", "The supervisor failed to handle this request.");
      } else {
        // Mid-stream there is no way to send a status any more: ending without the final
        // line tells the client the stream broke.
        response.end();
      }
    }
  }
}
