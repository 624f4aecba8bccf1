// Failures as a real API server reports them: a metav1 Status with a reason and code. The
// in-process API throws KubeApiError carrying that Status; the HTTP side sends the Status.
import type { ResourceType } from "./types.ts";

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message: string; field?: string }[] };
}

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: StatusBody;

  constructor(code: number, reason: string, message: string, details?: StatusBody["details"]) {
    super(message);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
    this.body = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code, ...(details ? { details } : {}) };
  }
}

/** Reasons a real server gives for the codes tests ask the fail() rule for. */
const REASON_BY_CODE: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export function errorForCode(code: number, message?: string): KubeApiError {
  const reason = REASON_BY_CODE[code] ?? "Unknown";
  return new KubeApiError(code, reason, message ?? `injected failure: ${reason} (${code})`);
}

/** "pods" or "statefulsets.apps", as messages name a resource */
function qualified(type: ResourceType): string {
  return type.group === "" ? type.plural : `${type.plural}.${type.group}`;
}

function details(type: ResourceType, name: string): StatusBody["details"] {
  return { name, ...(type.group ? { group: type.group } : {}), kind: type.plural };
}

export const notFound = (type: ResourceType, name: string) => new KubeApiError(404, "NotFound", `${qualified(type)} "${name}" not found`, details(type, name));

export const alreadyExists = (type: ResourceType, name: string) =>
  new KubeApiError(409, "AlreadyExists", `${qualified(type)} "${name}" already exists`, details(type, name));

export const conflict = (type: ResourceType, name: string) =>
  new KubeApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(type, name),
  );

export const invalid = (type: ResourceType, name: string, field: string, message: string) =>
  new KubeApiError(422, "Invalid", `${type.kind} "${name}" is invalid: ${field}: ${message}`, {
    ...details(type, name),
    kind: type.kind,
    causes: [{ reason: "FieldValueInvalid", message, field }],
  });

export const badRequest = (message: string) => new KubeApiError(400, "BadRequest", message);

export const forbidden = (message: string) => new KubeApiError(403, "Forbidden", message);

export const expired = (message: string) => new KubeApiError(410, "Expired", message);
