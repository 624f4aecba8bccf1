// Project members: list, add (or change a role), remove. Every change holds the project's
// row lock and commits with its event; a project always keeps at least one owner.
import type pg from "pg";
import type { Principal, Role } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import { findUser } from "../store/auth.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/members.ts";
import type { VisibleProject } from "../store/projects.ts";
import { resolveProject } from "./project-access.ts";

/** A member as the use cases answer it: the stored row (with the user's name); the API presents it. */
export type MemberRow = store.MemberRow;

export class MemberService {
  constructor(private readonly pool: pg.Pool) {}

  async list(principal: Principal, projectRef: string): Promise<MemberRow[]> {
    const project = await resolveProject(this.pool, principal, projectRef, "project.members.read");
    return store.listMembers(this.pool, project.id);
  }

  /** Adds `userId` with `role`, or changes their role; `added` says which. */
  async set(principal: Principal, projectRef: string, userId: string, role: Role): Promise<{ member: MemberRow; added: boolean }> {
    return withTransaction(this.pool, async (tx) => {
      const project = await resolveProject(tx, principal, projectRef, "project.members.manage", true);
      const user = await findUser(tx, userId);
      if (!user || user.id !== userId) {
        throw new OutpostError("USER_NOT_FOUND", `No user with the id '${userId}'.`, { details: { userId } });
      }
      const before = await store.findMember(tx, project.id, userId);
      if (before?.role === "owner" && role !== "owner") await assertAnotherOwner(tx, project, userId);
      await store.setMember(tx, project.id, userId, role);
      await appendEvent(tx, {
        type: before ? "project.member.updated" : "project.member.added",
        ownerId: principal.userId,
        projectId: project.id,
        data: { name: project.name, userId, role, ...(before ? { previousRole: before.role } : {}) },
      });
      const member = (await store.findMember(tx, project.id, userId)) as store.MemberRow;
      return { member, added: !before };
    });
  }

  async remove(principal: Principal, projectRef: string, userId: string): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      const project = await resolveProject(tx, principal, projectRef, "project.members.manage", true);
      const member = await store.findMember(tx, project.id, userId);
      if (!member) {
        throw new OutpostError("MEMBER_NOT_FOUND", `User '${userId}' is not a member of project '${project.name}'.`, { details: { userId } });
      }
      if (member.role === "owner") await assertAnotherOwner(tx, project, userId);
      await store.removeMember(tx, project.id, userId);
      await appendEvent(tx, {
        type: "project.member.removed",
        ownerId: principal.userId,
        projectId: project.id,
        data: { name: project.name, userId, role: member.role },
      });
    });
  }
}

/** Refuses removing or demoting the last owner: nobody could manage the project any more. */
async function assertAnotherOwner(tx: pg.PoolClient, project: VisibleProject, userId: string): Promise<void> {
  if ((await store.countOwners(tx, project.id)) > 1) return;
  throw new OutpostError("PROJECT_LAST_OWNER", `User '${userId}' is the last owner of project '${project.name}'.`, { details: { userId } });
}
