// Users and freshly minted tokens as the API shows them.
import type { NewToken, User } from "../../schemas/users.ts";
import type { IssuedToken, UserRecord } from "../../services/users.ts";

export const presentUser = (row: UserRecord): User => ({ id: row.id, name: row.name, isAdmin: row.isAdmin, createdAt: row.createdAt.toISOString() });

/** The one answer that carries the token's secret; Outpost keeps only its hash. */
export const presentNewToken = (token: IssuedToken): NewToken => ({ id: token.id, name: token.name, userId: token.userId, token: token.token });
