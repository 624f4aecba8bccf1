// Turns anything thrown while handling a request into the one documented error shape.
// Stack traces go to the log (with the request id), never to the client.
import type { FastifyError } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { ERROR_STATUS, type ErrorCode, isOutpostError } from "../domain/errors.ts";
import { translatePgError } from "../store/database.ts";

export interface ErrorPayload {
  status: number;
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ["PAYLOAD_TOO_LARGE", "The request body is larger than the 1 MiB limit."],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ["UNSUPPORTED_MEDIA_TYPE", "Send JSON with Content-Type: application/json."],
  FST_ERR_CTP_EMPTY_JSON_BODY: ["INVALID_JSON", "The body is empty but Content-Type says JSON."],
  FST_ERR_CTP_INVALID_JSON_BODY: ["INVALID_JSON", "The body is not valid JSON."],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["VALIDATION_FAILED", "Content-Length does not match the body."],
};

export function toErrorPayload(raw: unknown): ErrorPayload {
  const error = translatePgError(raw);
  if (isOutpostError(error)) {
    return { status: error.status, code: error.code, message: error.message, details: error.details };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? "request";
    const issues = error.validation.map((issue) => ({
      path: `${where}${issue.instancePath.replaceAll("/", ".")}`.replace(/\.$/, ""),
      message: issue.message ?? "is invalid",
    }));
    const summary = issues
      .slice(0, 3)
      .map((i) => `${i.path}: ${i.message}`)
      .join("; ");
    return { status: 400, code: "VALIDATION_FAILED", message: `Invalid request: ${summary}`, details: { issues } };
  }
  const fastifyError = error as FastifyError;
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { status: ERROR_STATUS[known[0]], code: known[0], message: known[1], details: {} };
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return { status: 400, code: "INVALID_JSON", message: "The body is not valid JSON.", details: {} };
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, code: "VALIDATION_FAILED", message: fastifyError.message, details: {} };
  }
  return { status: 500, code: "INTERNAL", message: "Something went wrong on our side; the server log has the details under this requestId.", details: {} };
}
