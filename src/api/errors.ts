// Turns anything thrown while handling a request into the one documented error shape,
// `{ error: { code, message, hint, retryable, details, requestId } }`, with the code's status
// from the registry. Also answers what fails before any route runs (bad URL encoding, an
// unknown method, oversized headers) in that same shape. Stack traces go to the log (with
// the request id), never to the client.
import { randomBytes } from "node:crypto";
import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { describeError, ERRORS, type ErrorCode, type ErrorStatus } from "../domain/error-registry.ts";
import { isOutpostError } from "../domain/errors.ts";
import { asServiceFailure } from "../services/failures.ts";

export interface ErrorPayload {
  status: ErrorStatus;
  code: ErrorCode;
  message: string;
  hint: string;
  retryable: boolean;
  details: Record<string, unknown>;
}

/** What node's parser emits; `rawPacket` is the bytes it choked on (a Buffer, whatever the typings say). */
type ClientError = Error & { code?: string; rawPacket?: unknown };

/** A fresh request id, for requests that bring none (or before there is a request at all). */
export const newRequestId = (): string => `req_${randomBytes(8).toString("hex")}`;

const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ["PAYLOAD_TOO_LARGE", "The request body is larger than the 1 MiB limit."],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ["UNSUPPORTED_MEDIA_TYPE", "Send JSON with Content-Type: application/json."],
  FST_ERR_CTP_EMPTY_JSON_BODY: ["INVALID_JSON", "The body is empty but Content-Type says JSON."],
  FST_ERR_CTP_INVALID_JSON_BODY: ["INVALID_JSON", "The body is not valid JSON."],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["VALIDATION_FAILED", "Content-Length does not match the body."],
  FST_ERR_BAD_URL: ["BAD_URL", "The URL's path is not valid percent-encoding."],
};

/** The payload of a registered code; `hint` defaults to the registry's. */
function payload(code: ErrorCode, message: string, details: Record<string, unknown> = {}, hint?: string): ErrorPayload {
  const spec = ERRORS[code];
  return { status: spec.status, code, message, hint: hint ?? spec.hint, retryable: spec.retryable, details };
}

export function toErrorPayload(raw: unknown): ErrorPayload {
  const error = asServiceFailure(raw);
  if (isOutpostError(error)) {
    const described = describeError(error);
    return payload(error.code, described.message, error.details, described.hint);
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
    return payload("VALIDATION_FAILED", `Invalid request: ${summary}`, { issues });
  }
  const fastifyError = error as FastifyError;
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return payload(known[0], known[1]);
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return payload("INVALID_JSON", "The body is not valid JSON.");
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return payload("VALIDATION_FAILED", fastifyError.message);
  }
  return payload("INTERNAL", "Something went wrong on our side; the server log has the details under this requestId.");
}

/** The documented body; the one place that spells the shape. */
export function errorBody(p: ErrorPayload, requestId: string) {
  return { error: { code: p.code, message: p.message, hint: p.hint, retryable: p.retryable, details: p.details, requestId } };
}

/** Logs and answers a failed request (error handler, 404 handler, fastify's pre-routing errors). */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const p = toErrorPayload(error);
  if (p.status >= 500) request.log.error({ err: error }, "request failed");
  else request.log.info({ code: p.code }, p.message);
  // Pre-routing answers skip the app's hooks, so the id header is set here too.
  reply.header("x-request-id", request.id).code(p.status).send(errorBody(p, request.id));
}

/**
 * What node's HTTP parser refuses before a request exists (fastify's clientErrorHandler):
 * answered on the raw socket, in the same shape, with a fresh request id, then closed.
 */
export function answerClientError(error: ClientError, socket: Socket, log: FastifyBaseLogger): void {
  // A reset connection has nobody to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const p = clientErrorPayload(error);
  const requestId = newRequestId();
  log.info({ requestId, code: p.code, err: error }, p.message);
  // As node itself does: never write into a response that has already started.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(p, requestId));
  const head = [
    `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status]}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    "connection: close",
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`, () => socket.destroy());
}

function clientErrorPayload(error: ClientError): ErrorPayload {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return payload("HEADERS_TOO_LARGE", `The request's headers are larger than the ${Math.floor(maxHeaderSize / 1024)} KiB limit.`);
    case "HPE_INVALID_METHOD": {
      // Quote the method only when it looks like one: the packet is raw client bytes.
      const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.toString("latin1") : "";
      const method = /^[A-Za-z][A-Za-z0-9_-]{0,31}(?= )/.exec(packet)?.[0];
      return payload(
        "METHOD_NOT_ALLOWED",
        method ? `The method ${method} is not one this server answers.` : "The request's method is not one this server answers.",
      );
    }
    case "HPE_INVALID_URL":
      return payload("BAD_URL", "The request's URL is malformed.");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return payload("REQUEST_TIMEOUT", "The request's headers did not arrive in time.");
    default:
      return payload("INVALID_REQUEST", `The HTTP request is malformed${error.code ? ` (${error.code})` : ""}.`);
  }
}
