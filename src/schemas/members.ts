// Project members: who may do what in a project (the roles are src/domain/authorization.ts's).
import { z } from "zod";
import { ROLES } from "../domain/authorization.ts";

const userId = z.string().regex(/^usr_[a-z0-9]{6,32}$/, "must be a user id (usr_…)");

export const role = z.enum(ROLES).describe("viewer: read; editor: also exec, terminals, previews, file writes, runs; owner: also members and delete.");

export const member = z
  .object({
    userId: z.string(),
    name: z.string().describe("The user's name."),
    role,
    createdAt: z.string(),
  })
  .meta({ id: "ProjectMember" });

export const addMemberBody = z
  .object({ userId: userId.describe("The user's id (`outpost user list`)."), role })
  .strict()
  .describe("Adds the user, or changes their role if they are a member already.")
  .meta({ id: "AddProjectMember" });

export const memberParams = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, "must be an id or a name (letters, digits, '-' and '_')")
      .describe("Project id or name."),
    userId,
  })
  .strict();

export type Member = z.infer<typeof member>;
