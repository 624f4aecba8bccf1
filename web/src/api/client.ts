// The typed API client: openapi-fetch over the types generated from the server's OpenAPI
// document (schema.d.ts, `npm run openapi`). Same origin, so the session cookie rides along.
// Every answer passes through here: a 401 ends the session view, a failed fetch (the server
// is down or the network is) shows the unreachable page.
import createClient from "openapi-fetch";
import { connection } from "./connection.ts";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Project = Schemas["Project"];
export type Sandbox = Schemas["Sandbox"];
export type SandboxStage = Schemas["SandboxStage"];
export type OutpostEvent = Schemas["Event"];
export type Variable = Schemas["Variable"];
export type Member = Schemas["ProjectMember"];
export type EgressRecord = Schemas["EgressRecord"];
export type UsageSummary = Schemas["UsageSummary"];
export type EgressLevel = Project["egress"]["level"];
export type Role = Member["role"];
export type ErrorBody = Schemas["Error"]["error"];

/** A fetch that reports what it learns about the connection. */
export async function observedFetch(input: Request): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(input);
  } catch (error) {
    if (!input.signal.aborted) connection.unreachable();
    throw error;
  }
  if (response.status === 401) connection.sessionLost();
  return response;
}

export const api = createClient<paths>({ baseUrl: "", fetch: observedFetch });

/** An API error in the documented shape (code, message, hint, retryable). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, body: Partial<ErrorBody> | undefined) {
    super(body?.message ?? `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.code ?? "UNKNOWN";
    this.hint = body?.hint ?? "";
    this.details = body?.details ?? {};
  }
}

/** The data of an openapi-fetch result, or its error thrown as an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    const body = (result.error as { error?: ErrorBody } | undefined)?.error;
    throw new ApiError(result.response.status, body);
  }
  return result.data as T;
}

/** A key for a create's Idempotency-Key header: a retried create makes nothing twice.
 *  (crypto.randomUUID needs a secure context; a server reached over plain http on a LAN
 *  address is not one.) */
export function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
