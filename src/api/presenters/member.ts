// A project member as the API shows it.
import type { Member } from "../../schemas/members.ts";
import type { MemberRow } from "../../services/members.ts";

export const presentMember = (row: MemberRow): Member => ({ userId: row.userId, name: row.name, role: row.role, createdAt: row.createdAt.toISOString() });
