// Who is asking. API clients send `Authorization: Bearer <token>`; browsers carry a session
// cookie opened by a one-time login link. Tokens, codes and session ids are random 32-byte
// strings; only their sha256 is stored.
import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { newId } from "../domain/ids.ts";
import * as store from "../store/auth.ts";

export type User = store.UserRow;

export const TOKEN_PREFIX = "opt_";
export const SESSION_COOKIE = "outpost_session";
export const SESSION_TTL_SECONDS = 30 * 24 * 3600;
export const LOGIN_CODE_TTL_SECONDS = 24 * 3600;
const ADMIN_TOKEN_NAME = "admin";

export const hashSecret = (secret: string): Buffer => createHash("sha256").update(secret).digest();
const randomSecret = (prefix = "") => `${prefix}${randomBytes(32).toString("base64url")}`;

export class AuthService {
  constructor(private readonly pool: pg.Pool) {}

  async userForToken(token: string): Promise<User | null> {
    return store.userForToken(this.pool, hashSecret(token));
  }

  async userForSession(sessionId: string): Promise<User | null> {
    return store.userForSession(this.pool, hashSecret(sessionId));
  }

  async ensureAdmin(): Promise<User> {
    return store.insertUser(this.pool, { id: newId("user"), name: "admin", isAdmin: true });
  }

  /** Registers a token the operator chose (OUTPOST_ADMIN_TOKEN) for the admin. Idempotent. */
  async registerAdminToken(admin: User, token: string): Promise<void> {
    await store.insertToken(this.pool, { id: newId("token"), userId: admin.id, name: "admin-env", hash: hashSecret(token) });
  }

  /** Mints a fresh admin token, revoking the previous one (whoever can read the data dir is admin anyway). */
  async rotateAdminToken(admin: User): Promise<string> {
    const token = randomSecret(TOKEN_PREFIX);
    await store.revokeTokensNamed(this.pool, admin.id, ADMIN_TOKEN_NAME);
    await store.insertToken(this.pool, { id: newId("token"), userId: admin.id, name: ADMIN_TOKEN_NAME, hash: hashSecret(token) });
    return token;
  }

  async createToken(user: User, name: string): Promise<{ id: string; token: string }> {
    const token = randomSecret(TOKEN_PREFIX);
    const id = newId("token");
    await store.insertToken(this.pool, { id, userId: user.id, name, hash: hashSecret(token) });
    return { id, token };
  }

  async createLoginCode(user: User): Promise<string> {
    const code = randomSecret();
    await store.insertLoginCode(this.pool, hashSecret(code), user.id, LOGIN_CODE_TTL_SECONDS);
    return code;
  }

  /** Exchanges a login code (once) for a new session id; null when the code is unknown, used or expired. */
  async openSession(code: string): Promise<string | null> {
    const userId = await store.takeLoginCode(this.pool, hashSecret(code));
    if (!userId) return null;
    const sessionId = randomSecret();
    await store.insertSession(this.pool, hashSecret(sessionId), userId, SESSION_TTL_SECONDS);
    return sessionId;
  }
}
