// Finding a project the way a caller named it, then asking authorize() whether they may do
// what they ask there. Shared by every service that starts from a project reference.
import { type Principal, type ProjectAction, requireAllowed } from "../domain/authorization.ts";
import { notFound, OutpostError } from "../domain/errors.ts";
import type { Queryable } from "../store/database.ts";
import { findProjects, type VisibleProject } from "../store/projects.ts";

/**
 * The project `ref` (an id, or a name among the projects the caller is a member of) if the
 * caller may do `action` there. Names are unique per creator only: a name that matches two
 * of the caller's projects is a 409 listing their ids, never a guess.
 */
export async function resolveProject(db: Queryable, principal: Principal, ref: string, action: ProjectAction, forUpdate = false): Promise<VisibleProject> {
  const rows = await findProjects(db, principal.userId, ref, forUpdate);
  if (rows.length > 1) {
    const ids = rows.map((r) => r.id);
    throw new OutpostError("PROJECT_NAME_AMBIGUOUS", `More than one of your projects is named '${ref}' (${ids.join(", ")}).`, {
      details: { name: ref, ids },
      fix: `Name the project by its id instead, one of: ${ids.join(", ")}.`,
    });
  }
  const row = rows[0];
  if (!row) throw notFound("project", ref);
  requireAllowed(principal, action, { kind: "project", ref, role: row.role, project: row });
  return row;
}
