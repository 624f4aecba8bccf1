import { z } from "zod";

export const event = z
  .object({
    id: z.number().int().describe("Monotonic; also the SSE `id:`."),
    type: z.string().describe("noun.verb, e.g. project.created"),
    projectId: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .meta({ id: "Event" });

export const eventsQuery = z
  .object({
    project: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, "must be a project id or name")
      .optional()
      .describe("Only events of this project (id or name)."),
    after: z.coerce.number().int().min(0).optional().describe("Resume after this event id (same as the Last-Event-ID header)."),
    follow: z.enum(["true", "false"]).optional().describe("false: send what exists and end the stream. Default true."),
    tail: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("Start with the last N events instead of the first (ignored when resuming with after or Last-Event-ID)."),
  })
  .strict();

export type Event = z.infer<typeof event>;
