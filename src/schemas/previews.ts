// Previews: a sandbox's listening ports, the route that opens one in the browser, and
// share links. Validation, OpenAPI and types from one source.
import { z } from "zod";
import { idParam } from "./common.ts";

const port = z.coerce.number().int().min(1).max(65_535).describe("A TCP port inside the sandbox (1–65535).");

export const previewParams = z.object({ id: idParam.shape.id, port }).strict();

export const shareParams = z.object({ id: idParam.shape.id, port, shareId: z.string().regex(/^shr_[a-z0-9]{6,32}$/, "must be a share id (shr_…)") }).strict();

export const openQuery = z
  .object({
    next: z.string().max(2048).optional().describe("The path to land on in the preview (default /); a path only, never another origin."),
  })
  .strict();

export const portsQuery = z
  .object({
    follow: z.enum(["true", "false"]).optional().describe("true: Server-Sent Events, a `ports` event with the whole list whenever it changes."),
  })
  .strict();

export const listeningPort = z
  .object({
    port: z.number().int(),
    addresses: z.array(z.string()).describe("Where it listens inside: 127.0.0.1, 0.0.0.0, :: (or their IPv4-mapped forms)."),
    process: z.object({ pid: z.number().int(), name: z.string() }).nullable().describe("The process holding the socket, when the supervisor found it."),
    previewUrl: z.string().describe("The preview's own origin (open it through openUrl the first time)."),
    openUrl: z.string().describe("Opens the preview in a signed-in browser: GET …/previews/{port}/open."),
  })
  .meta({ id: "ListeningPort" });

export const portList = z.object({ items: z.array(listeningPort) }).meta({ id: "ListeningPorts" });

export const SHARE_DEFAULT_MINUTES = 60;

export const shareBody = z
  .object({
    expiresInMinutes: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 60)
      .default(SHARE_DEFAULT_MINUTES)
      .describe("How long the link works (1 minute to 30 days; default 60)."),
  })
  .strict()
  .optional();

const shareFields = {
  id: z.string(),
  sandboxId: z.string(),
  port: z.number().int(),
  createdBy: z.string().describe("The user who shared it; the link stops working if they lose the right to open previews."),
  createdAt: z.string(),
  expiresAt: z.string(),
};

export const share = z.object(shareFields).meta({ id: "PreviewShare" });

export const createdShare = z
  .object({ ...shareFields, url: z.string().describe("Anyone with this URL can open the preview until it expires or the share is deleted. Shown once.") })
  .meta({ id: "CreatedPreviewShare" });

export const shareList = z.object({ items: z.array(share) });
