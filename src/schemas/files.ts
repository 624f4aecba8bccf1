// Files in a sandbox: the paths clients name, what a path is (a folder with its entries),
// and the bodies and answers of the file routes. Validation, OpenAPI and types come from
// these schemas; the supervisor checks paths against the sandbox's folders on its side.
import { z } from "zod";

/** PATH_MAX on Linux. */
const MAX_PATH_CHARS = 4096;

export const filePath = z
  .string()
  .min(1)
  .max(MAX_PATH_CHARS)
  .refine((value) => !value.includes("\u0000"), "must not contain NUL characters")
  .describe("Absolute under /workspace or /home/outpost, or relative to /workspace. `..` is refused, and so are symlinks that lead outside.");

const flag = (description: string) => z.enum(["true", "false"]).optional().describe(description);

export const fileEntry = z
  .object({
    name: z.string(),
    type: z.enum(["file", "dir", "symlink", "other"]).describe("`other`: a FIFO, socket or device."),
    size: z.number().int().describe("Bytes."),
    mtime: z.string().describe("Last modified, ISO 8601 UTC."),
    mode: z.number().int().describe("Permission bits (e.g. 420 = 0o644)."),
    target: z.string().optional().describe("A symlink's target as written; listing never follows it."),
  })
  .meta({ id: "FileEntry" });

export const fileResource = z
  .object({
    path: z.string().describe("The absolute path asked for."),
    name: z.string(),
    type: z.enum(["file", "dir", "symlink", "other"]).describe("What the path is, through symlinks that stay inside."),
    size: z.number().int(),
    mtime: z.string(),
    mode: z.number().int(),
    entries: z.array(fileEntry).optional().describe("A folder's entries, sorted by name (at most 10 000)."),
    truncated: z.boolean().optional().describe("True when the folder has more entries than listed."),
  })
  .meta({ id: "File" });

export const pathQuery = z.object({ path: filePath }).strict();

export const writeQuery = z
  .object({
    path: filePath,
    parents: flag("Create missing folders on the way (default false)."),
    overwrite: flag("Replace an existing file (default true); false answers 409 PATH_EXISTS instead."),
    mode: z
      .string()
      .regex(/^[0-7]{3,4}$/, "must be 3 or 4 octal digits, e.g. 644")
      .optional()
      .describe("Permission bits in octal (e.g. 755); default: the replaced file's, or 644."),
  })
  .strict();

export const deleteFileQuery = z
  .object({ path: filePath, recursive: flag("Delete a folder with everything in it (default false: only an empty folder).") })
  .strict();

export const watchQuery = z.object({ path: filePath, follow: flag("false: send the snapshot and end (default true: stream changes).") }).strict();

export const mkdirBody = z
  .object({ path: filePath, parents: z.boolean().optional().describe("Create missing parents; an existing folder is then no error.") })
  .strict();

export const moveBody = z
  .object({
    from: filePath,
    to: filePath.describe("The new path in full (not the folder to move into)."),
    overwrite: z.boolean().optional().describe("Replace what is at `to` (default false: 409 PATH_EXISTS)."),
  })
  .strict();

export const archiveSummary = z
  .object({
    path: z.string().describe("The folder the archive was unpacked into."),
    files: z.number().int(),
    directories: z.number().int(),
    symlinks: z.number().int(),
    hardlinks: z.number().int(),
    bytes: z.number().int().describe("Bytes of file data written."),
    skipped: z.array(z.object({ path: z.string(), reason: z.string() })).describe("Entries left out (devices, FIFOs…), at most 100 named."),
    skippedCount: z.number().int(),
  })
  .meta({ id: "ArchiveSummary" });

export type FileEntry = z.infer<typeof fileEntry>;
export type FileResource = z.infer<typeof fileResource>;
export type ArchiveSummary = z.infer<typeof archiveSummary>;
