// Who may do what: the one table of project roles and the one function that reads it. Pure
// (no I/O): services look up the caller's role on the project a resource belongs to, then
// ask `authorize`. docs/api.md prints the same table for people.
//
// Decisions written down here, because they are the safer of two choices:
// - Having no role on a project makes it, and everything in it, look missing (404): another
//   user's ids must not even confirm that something exists.
// - A role that is too weak is a 403 naming the role needed: the caller can see the thing
//   already, so saying "you may not" leaks nothing and tells them whom to ask.
// - Admins manage users (create them, mint their tokens) but are NOT members of every
//   project. An admin can mint a token for anyone, so this is no wall against an admin; it
//   keeps each access to someone else's project an explicit, recorded step (a membership or
//   a token) instead of an accident of holding the admin token, which sits in the data dir.
// - A preview is a live connection into a process of the sandbox (a dev server takes
//   writes too), so it needs the role that may run commands, like a terminal.
// - Whoever may run commands sees the project's env anyway (every command gets it), so
//   `?reveal=true` needs that same role, and no more.
import { notFound, OutpostError } from "./errors.ts";

export interface Principal {
  userId: string;
  isAdmin: boolean;
}

/** Weakest first: each role may do everything the one before it may. */
export const ROLES = ["viewer", "editor", "owner"] as const;
export type Role = (typeof ROLES)[number];

const VIEWER_ACTIONS = ["project.read", "project.members.read", "sandbox.read", "sandbox.process.read", "sandbox.files.read", "run.read"] as const;

const EDITOR_ACTIONS = [
  ...VIEWER_ACTIONS,
  "project.update",
  "project.env.reveal",
  "sandbox.create",
  "sandbox.lifecycle",
  "sandbox.exec",
  "sandbox.process.manage",
  "sandbox.terminal",
  "sandbox.preview",
  "sandbox.files.write",
  "run.create",
  "run.approve",
] as const;

const OWNER_ACTIONS = [...EDITOR_ACTIONS, "project.delete", "project.members.manage"] as const;

/** Actions on a project or on something in it: the caller's role there decides. */
export type ProjectAction = (typeof OWNER_ACTIONS)[number];
/** Actions on the installation itself: only admins. */
export const ADMIN_ACTIONS = ["user.manage", "database.manage"] as const;
export type Action = ProjectAction | (typeof ADMIN_ACTIONS)[number];

/** The single source of who may do what on a project. */
export const ROLE_ACTIONS: Record<Role, readonly ProjectAction[]> = {
  viewer: VIEWER_ACTIONS,
  editor: EDITOR_ACTIONS,
  owner: OWNER_ACTIONS,
};

export type Decision = { allowed: true } | { allowed: false; as: "not_found" } | { allowed: false; as: "forbidden"; needs: Role | "admin" };

/**
 * `resource.role` is the principal's role on the project the resource belongs to (null: no
 * role at all). Admin-only actions ignore it.
 */
export function authorize(principal: Principal, action: Action, resource: { role: Role | null }): Decision {
  if (isAdminAction(action)) return principal.isAdmin ? { allowed: true } : { allowed: false, as: "forbidden", needs: "admin" };
  if (resource.role === null) return { allowed: false, as: "not_found" };
  if (ROLE_ACTIONS[resource.role].includes(action)) return { allowed: true };
  return { allowed: false, as: "forbidden", needs: minimumRole(action) };
}

/** The weakest role that may do `action`. */
export function minimumRole(action: ProjectAction): Role {
  return ROLES.find((role) => ROLE_ACTIONS[role].includes(action)) ?? "owner";
}

/** What each action is, for messages ("… needs editor to run commands"). */
const DOING: Record<Action, string> = {
  "project.read": "see the project",
  "project.update": "change the project",
  "project.delete": "delete the project",
  "project.members.read": "see the project's members",
  "project.members.manage": "add or remove members",
  "project.env.reveal": "read env values (?reveal=true)",
  "sandbox.read": "see its sandboxes",
  "sandbox.create": "create sandboxes",
  "sandbox.lifecycle": "start, stop, restart or delete sandboxes",
  "sandbox.exec": "run commands",
  "sandbox.process.read": "see background processes and their logs",
  "sandbox.process.manage": "start or signal background processes",
  "sandbox.terminal": "open terminals",
  "sandbox.preview": "open previews",
  "sandbox.files.read": "read files",
  "sandbox.files.write": "write files",
  "run.read": "see agent runs",
  "run.create": "start agent runs",
  "run.approve": "approve agent actions",
  "user.manage": "manage users",
  "database.manage": "manage databases kept after their project",
};

/** What the caller is acting on: the kind and reference they named, and its project. */
export interface Target {
  kind: "project" | "sandbox";
  ref: string;
  role: Role | null;
  /** The project it belongs to, for the hint (whom to ask for which role). */
  project: { id: string; name: string };
}

/**
 * Throws unless allowed: no role → the same 404 as a missing resource (so nothing is
 * confirmed); too weak a role → 403 FORBIDDEN whose hint names the role needed.
 */
export function requireAllowed(principal: Principal, action: Action, target: Target): void {
  const decision = authorize(principal, action, { role: target.role });
  if (decision.allowed) return;
  if (decision.as === "not_found") throw notFound(target.kind, target.ref);
  throw forbidden(principal, action, decision.needs, target);
}

/** For admin-only actions, which have no project. */
export function requireAdmin(principal: Principal, action: (typeof ADMIN_ACTIONS)[number]): void {
  const decision = authorize(principal, action, { role: null });
  if (!decision.allowed) throw forbidden(principal, action, "admin");
}

function forbidden(principal: Principal, action: Action, needs: Role | "admin", target?: Target): OutpostError {
  const doing = DOING[action];
  if (needs === "admin") {
    return new OutpostError("FORBIDDEN", `Only an admin may ${doing}.`, {
      details: { action, needs },
      fix: "Ask an admin of this Outpost to do it (the admin token is in <data dir>/admin-token).",
    });
  }
  const project = target?.project ?? { id: "<project>", name: "<project>" };
  return new OutpostError("FORBIDDEN", `Your role on project '${project.name}' is ${target?.role}; you need ${needs} to ${doing}.`, {
    details: { action, role: target?.role ?? null, needs },
    fix: `Ask an owner of '${project.name}' to run \`outpost project member add ${project.id} ${principal.userId} --role ${needs}\`.`,
  });
}

const isAdminAction = (action: Action): action is (typeof ADMIN_ACTIONS)[number] => (ADMIN_ACTIONS as readonly string[]).includes(action);
