// Users and their API tokens, managed by admins (until GitHub sign-in makes users by
// itself). A token is shown once, when it is minted; only its hash is stored.
import type pg from "pg";
import { type Principal, requireAdmin } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import { decodeCursor, encodeCursor, type Page } from "../domain/pagination.ts";
import * as store from "../store/auth.ts";
import type { AuthService } from "./auth.ts";

/** A user as the use cases answer it: the stored record; the API presents it. */
export type UserRecord = store.UserRecord;

/** A freshly minted token, the only time its secret is known. */
export interface IssuedToken {
  id: string;
  name: string;
  userId: string;
  token: string;
}

export class UserService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly auth: Pick<AuthService, "createToken">,
  ) {}

  async create(principal: Principal, name: string): Promise<UserRecord> {
    requireAdmin(principal, "user.manage");
    const row = await store.createUser(this.pool, { id: newId("user"), name });
    if (!row) throw new OutpostError("USER_NAME_TAKEN", `A user named '${name}' already exists.`, { details: { name } });
    return row;
  }

  async list(principal: Principal, limit: number, cursor: string | undefined): Promise<Page<UserRecord>> {
    requireAdmin(principal, "user.manage");
    const afterSeq = cursor === undefined ? 0 : decodeCursor(cursor);
    const rows = await store.listUsers(this.pool, afterSeq, limit + 1);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items: rows.slice(0, limit), nextCursor: last ? encodeCursor(last.seq) : null };
  }

  /** A new API token for the user `ref` (id or name); the answer is the only time it is shown. */
  async createToken(principal: Principal, ref: string, name: string): Promise<IssuedToken> {
    requireAdmin(principal, "user.manage");
    const user = await store.findUser(this.pool, ref);
    if (!user) throw new OutpostError("USER_NOT_FOUND", `No user '${ref}'.`, { details: { user: ref } });
    const { id, token } = await this.auth.createToken(user, name);
    return { id, name, userId: user.id, token };
  }
}
