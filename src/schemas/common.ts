// Shapes shared by every resource: the error body, list pages, ids.
import { z } from "zod";
import { ERRORS, type ErrorCode } from "../domain/error-registry.ts";

export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).describe("Stable, UPPER_SNAKE."),
      message: z.string().describe("For people; may change between versions."),
      hint: z.string().describe("One line: what to do about it."),
      retryable: z.boolean().describe("Whether sending the same request again can succeed as it is."),
      details: z.record(z.string(), z.unknown()),
      requestId: z.string(),
    }),
  })
  .meta({ id: "Error" });

export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50).describe("Items per page (1–500)."),
    cursor: z.string().max(200).optional().describe("`nextCursor` of the previous page."),
  })
  .strict();

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last.") });

/** A project is addressed by id (`prj_…`) or by name. */
const ref = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "must be an id or a name (letters, digits, '-' and '_')");
export const projectRef = z.object({ id: ref.describe("Project id or name.") }).strict();

export const idParam = z.object({ id: ref }).strict();

/** Free text that PostgreSQL can store: no NUL characters. */
export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !value.includes("\u0000"), "must not contain NUL characters");

/** Shortcut: the error responses every route may give, for the OpenAPI document. */
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
  413: errorBody,
  422: errorBody,
  503: errorBody,
} as const;

/** A POST that takes no fields: `{}`, no body at all, or `null` (a client that sends JSON's null); anything else is refused. */
export const noFields = z.object({}).strict().nullish();
