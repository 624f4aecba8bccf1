// Users and their API tokens (admin only until GitHub sign-in makes users by itself).
import { z } from "zod";
import { text } from "./common.ts";

export const userName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1–64 letters, digits, '-' or '_', starting with a letter or digit")
  .refine((name) => !name.startsWith("usr_"), "must not look like a user id (usr_…)")
  .describe("Unique; addresses the user like their id does.");

export const user = z.object({ id: z.string(), name: z.string(), isAdmin: z.boolean(), createdAt: z.string() }).meta({ id: "User" });

export const createUserBody = z.object({ name: userName }).strict().meta({ id: "CreateUser" });

export const createTokenBody = z
  .object({
    name: text(100).min(1).describe("What the token is for, e.g. the machine or the CI job."),
  })
  .strict()
  .meta({ id: "CreateToken" });

export const newToken = z
  .object({
    id: z.string(),
    name: z.string(),
    userId: z.string(),
    token: z.string().describe("Shown only in this answer: send it as `Authorization: Bearer <token>`."),
  })
  .meta({ id: "NewToken" });

export type User = z.infer<typeof user>;
export type NewToken = z.infer<typeof newToken>;
