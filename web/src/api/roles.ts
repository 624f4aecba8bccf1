// The signed-in user's role in a project, from its members list: the UI offers only what
// the role may do (the server decides anyway: src/domain/authorization.ts).
import type { Role } from "./client.ts";
import { useMe, useMembers } from "./queries.ts";

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

export interface Abilities {
  role: Role | null;
  /** Change the project, variables, sandboxes; run commands; reveal env values. */
  canEdit: boolean;
  /** Members and roles; deleting the project. */
  canOwn: boolean;
}

export function useAbilities(projectId: string | undefined): Abilities {
  const me = useMe();
  const members = useMembers(projectId);
  const role = members.data?.find((m) => m.userId === me.data?.id)?.role ?? null;
  const rank = role ? RANK[role] : 0;
  return { role, canEdit: rank >= RANK.editor, canOwn: rank >= RANK.owner };
}
