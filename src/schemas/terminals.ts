// Terminal sessions in a sandbox (docs/api.md, "Terminals"): the REST shapes. The terminal
// itself is a WebSocket (GET /api/v1/sandboxes/{id}/terminals/{tid} with an upgrade).
import { z } from "zod";
import { commandUser } from "./sandboxes.ts";

const size = (what: string) => z.coerce.number().int().min(1).max(1000).describe(`${what} (1–1000).`);

export const terminalResource = z
  .object({
    id: z.string().describe("trm_…; the WebSocket at …/terminals/{id} attaches to it."),
    pid: z.number().int().describe("The shell's pid inside the sandbox."),
    command: z.array(z.string()).describe('The shell, e.g. ["/bin/bash", "-l"].'),
    cwd: z.string(),
    cols: z.number().int(),
    rows: z.number().int(),
    clients: z.number().int().describe("Clients attached right now."),
    createdAt: z.string(),
  })
  .meta({ id: "Terminal" });

/** Optional: without a body (or with `{}`) the terminal is 80×24. */
export const createTerminalBody = z
  .object({ cols: size("Columns").default(80), rows: size("Rows").default(24), user: commandUser })
  .strict()
  .nullish()
  .transform((body) => body ?? { cols: 80, rows: 24 });

export const terminalParams = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/),
    tid: z
      .string()
      .regex(/^(trm_[a-z0-9]{12}|new)$/, "must be a terminal id (trm_…), or `new` to open one")
      .describe("A terminal id, or `new` (WebSocket only) to open a terminal and attach to it."),
  })
  .strict();

export const attachQuery = z
  .object({ cols: size("Columns to resize the terminal to on attach").optional(), rows: size("Rows, with cols").optional() })
  .strict()
  .refine((query) => (query.cols === undefined) === (query.rows === undefined), "give cols and rows together");
