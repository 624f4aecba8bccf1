// Previews as use cases: who may reach which sandbox's port, and the tunnel to it.
//
// On the main origin (the API, authenticated as usual) a user with `sandbox.preview`
// mints a one-time code (60 s) or a share link; on the preview's own origin the code (once)
// or the share token is exchanged for a session whose cookie belongs to that origin alone.
// Every request on a preview origin then presents that cookie, checked here against the
// store each time: the session must be for this sandbox and port, unexpired, its share (if
// any) not deleted or expired, and its user (or the share's creator) must still hold a
// role that may open previews. Codes, cookies and share tokens are 32 random bytes; only
// their sha256 is stored, and none of them is ever logged.
//
// A tunnel is a stream of the sandbox's link (one per proxied request or WebSocket). The
// link carries at most 256 streams at once, shared with exec and everything else, so a
// sandbox's previews may hold only part of them: a page that opens more gets PREVIEW_BUSY,
// and the sandbox's other calls keep working.

import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type pg from "pg";
import { authorize, type Principal } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import { GATEWAY_PORT, PROXY_PORT } from "../domain/sandbox-network.ts";
import type { Driver } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/previews.ts";
import type { PortList } from "../supervisor/protocol.ts";
import { hashSecret } from "./auth.ts";
import type { SandboxCommands } from "./sandbox-commands.ts";
import type { SandboxGate } from "./sandbox-wake.ts";
import type { SandboxRow, SandboxService } from "./sandboxes.ts";

export type PreviewSandbox = store.PreviewSandbox;
export type Share = store.ShareRow;

export const PREVIEW_CODE_TTL_SECONDS = 60;
/** A browser's preview session after an open; opening the preview again from Outpost renews it. */
export const PREVIEW_SESSION_TTL_SECONDS = 12 * 3600;
export const SHARE_MAX_MINUTES = 30 * 24 * 60;
/** Tunnels one sandbox's previews may hold at once: half of what its link carries. */
export const MAX_PREVIEW_TUNNELS_PER_SANDBOX = 128;

/** A session just opened on a preview origin: the cookie's value and how long it lives. */
export interface OpenedSession {
  token: string;
  maxAgeSeconds: number;
}

/** Who reaches a preview, once their cookie or token checked out. */
export interface PreviewAccess {
  sandbox: PreviewSandbox;
  port: number;
  /** Through a share link rather than a user's own session. */
  shareId: string | null;
}

export interface PreviewServiceDeps {
  pool: pg.Pool;
  sandboxes: SandboxService;
  commands: SandboxCommands;
  driver: Pick<Driver, "connect">;
  maxTunnelsPerSandbox?: number;
  /** Idle stop and wake: a request in flight holds its sandbox busy, and wakes one stopped for idleness. */
  gate?: SandboxGate;
}

const randomSecret = () => randomBytes(32).toString("base64url");
const PREVIEWER: Principal = { userId: "", isAdmin: false };
const mayPreview = (role: store.SessionGrant["role"]) => authorize(PREVIEWER, "sandbox.preview", { role }).allowed;

export class PreviewService {
  readonly #tunnels = new Map<string, number>();
  readonly #maxTunnels: number;

  constructor(private readonly deps: PreviewServiceDeps) {
    this.#maxTunnels = deps.maxTunnelsPerSandbox ?? MAX_PREVIEW_TUNNELS_PER_SANDBOX;
  }

  // ---- the main origin: the API, as the signed-in caller

  /** The sandbox, if the caller may open its previews (nothing is minted). */
  async previewable(principal: Principal, ref: string): Promise<SandboxRow> {
    return this.deps.sandboxes.row(principal, ref, "sandbox.preview");
  }

  /** A one-time code that opens this sandbox's port in the caller's browser. */
  async mintCode(principal: Principal, ref: string, port: number): Promise<{ sandbox: SandboxRow; code: string }> {
    const sandbox = await this.deps.sandboxes.row(principal, ref, "sandbox.preview");
    const code = randomSecret();
    await store.insertCode(this.deps.pool, {
      hash: hashSecret(code),
      target: { sandboxId: sandbox.id, port },
      userId: principal.userId,
      ttlSeconds: PREVIEW_CODE_TTL_SECONDS,
    });
    return { sandbox, code };
  }

  /** A link anyone may open until it expires or is deleted; the token is in this answer only. */
  async createShare(principal: Principal, ref: string, port: number, minutes: number): Promise<{ sandbox: SandboxRow; share: Share; token: string }> {
    const sandbox = await this.deps.sandboxes.row(principal, ref, "sandbox.preview");
    const token = randomSecret();
    const share = await withTransaction(this.deps.pool, async (tx) => {
      const created = await store.insertShare(tx, {
        id: newId("share"),
        hash: hashSecret(token),
        target: { sandboxId: sandbox.id, port },
        createdBy: principal.userId,
        ttlSeconds: minutes * 60,
      });
      await appendEvent(tx, {
        type: "preview.shared",
        ownerId: principal.userId,
        projectId: sandbox.projectId,
        data: { sandboxId: sandbox.id, name: sandbox.name, port, shareId: created.id, expiresAt: created.expiresAt.toISOString() },
      });
      return created;
    });
    return { sandbox, share, token };
  }

  async listShares(principal: Principal, ref: string, port: number): Promise<{ sandbox: SandboxRow; shares: Share[] }> {
    const sandbox = await this.deps.sandboxes.row(principal, ref, "sandbox.preview");
    return { sandbox, shares: await store.listShares(this.deps.pool, { sandboxId: sandbox.id, port }) };
  }

  /** Deletes a share: its link stops working, and so do the sessions it opened. */
  async deleteShare(principal: Principal, ref: string, port: number, shareId: string): Promise<void> {
    const sandbox = await this.deps.sandboxes.row(principal, ref, "sandbox.preview");
    await withTransaction(this.deps.pool, async (tx) => {
      const deleted = await store.deleteShare(tx, { sandboxId: sandbox.id, port }, shareId);
      if (!deleted) {
        throw new OutpostError("PREVIEW_SHARE_NOT_FOUND", `No share '${shareId}' for port ${port} of sandbox ${sandbox.name}.`, { details: { shareId } });
      }
      await appendEvent(tx, {
        type: "preview.unshared",
        ownerId: principal.userId,
        projectId: sandbox.projectId,
        data: { sandboxId: sandbox.id, name: sandbox.name, port, shareId },
      });
    });
  }

  /** The listening ports inside a running sandbox (as its supervisor reads /proc/net/tcp*). */
  async ports(principal: Principal, ref: string, signal?: AbortSignal): Promise<{ sandbox: SandboxRow; ports: PortList["items"] }> {
    const { client, sandbox } = await this.deps.commands.connect(principal, ref, "sandbox.process.read", signal);
    const list = await this.deps.commands.call(() => client.ports(signal));
    // 3128 and 3129 are the supervisor's own bridges (egress proxy, model gateway): not an app.
    return { sandbox, ports: list.items.filter((item) => item.port !== PROXY_PORT && item.port !== GATEWAY_PORT) };
  }

  /** For the bearer path: the sandbox, if this caller may open its previews. */
  async bearerAccess(principal: Principal, ref: string, port: number): Promise<PreviewAccess> {
    const row = await this.deps.sandboxes.row(principal, ref, "sandbox.preview");
    return { sandbox: { id: row.id, name: row.name, projectId: row.projectId, phase: row.phase }, port, shareId: null };
  }

  // ---- a preview's own origin: no user yet, only what the browser brings

  /** A live sandbox by name (a preview host names it), or null. */
  async sandboxNamed(name: string): Promise<PreviewSandbox | null> {
    return store.sandboxByName(this.deps.pool, name);
  }

  /** Exchanges a one-time code minted for this sandbox and port for a session; null when it is unknown, used or expired. */
  async exchangeCode(code: string, sandboxName: string, port: number): Promise<OpenedSession | null> {
    const sandbox = await store.sandboxByName(this.deps.pool, sandboxName);
    if (!sandbox || !/^[A-Za-z0-9_-]{16,128}$/.test(code)) return null;
    const target = { sandboxId: sandbox.id, port };
    const userId = await store.takeCode(this.deps.pool, hashSecret(code), target);
    if (!userId) return null;
    const token = randomSecret();
    const expiresAt = new Date(Date.now() + PREVIEW_SESSION_TTL_SECONDS * 1000);
    await store.insertSession(this.deps.pool, { hash: hashSecret(token), target, userId, expiresAt });
    return { token, maxAgeSeconds: PREVIEW_SESSION_TTL_SECONDS };
  }

  /** Opens a session from a share link (it may be opened many times, by anyone, until it expires or is deleted). */
  async openShare(shareToken: string, sandboxName: string, port: number): Promise<OpenedSession | null> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(shareToken)) return null;
    const found = await store.shareByToken(this.deps.pool, hashSecret(shareToken), sandboxName, port);
    if (!found || !mayPreview(found.role)) return null;
    const token = randomSecret();
    await store.insertSession(this.deps.pool, {
      hash: hashSecret(token),
      target: { sandboxId: found.sandbox.id, port },
      shareId: found.share.id,
      expiresAt: found.share.expiresAt,
    });
    return { token, maxAgeSeconds: (found.share.expiresAt.getTime() - Date.now()) / 1000 };
  }

  /** What the preview cookies a browser sent grant for this sandbox and port; null: nothing. */
  async access(cookieValues: string[], sandboxName: string, port: number): Promise<PreviewAccess | null> {
    const grant = await store.sessionGrant(this.deps.pool, cookieValues.map(hashSecret), sandboxName, port);
    if (!grant || !mayPreview(grant.role)) return null;
    return { sandbox: grant.sandbox, port, shareId: grant.shareId };
  }

  // ---- both: the bytes

  /**
   * A byte stream to 127.0.0.1:<port> inside the sandbox. A sandbox stopped for idleness is
   * woken first; refused when the sandbox is otherwise not running, when nothing listens there
   * (PORT_NOT_LISTENING) or when its previews hold their share of the link already
   * (PREVIEW_BUSY). The sandbox counts as busy until the stream closes.
   */
  async tunnel(access: PreviewAccess, signal?: AbortSignal): Promise<Duplex> {
    const { sandbox } = access;
    const gate = this.deps.gate;
    if (!gate) return this.#tunnel(access, () => {}, signal);
    const release = await gate.hold(sandbox.id);
    try {
      // The phase as of the access check, which read it for this very request.
      if (!(await gate.awake(sandbox, signal))) throw notRunning(sandbox);
      return await this.#tunnel({ ...access, sandbox: { ...sandbox, phase: "running" } }, release, signal);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The tunnel itself; `done` is called when it closes. */
  async #tunnel(access: PreviewAccess, done: () => void, signal?: AbortSignal): Promise<Duplex> {
    const { sandbox, port } = access;
    if (sandbox.phase !== "running") throw notRunning(sandbox);
    const open = this.#tunnels.get(sandbox.id) ?? 0;
    if (open >= this.#maxTunnels) {
      throw new OutpostError("PREVIEW_BUSY", `Sandbox ${sandbox.name}'s previews hold ${open} connections, the most they may.`, {
        details: { sandbox: sandbox.name, connections: open },
      });
    }
    this.#tunnels.set(sandbox.id, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.#tunnels.get(sandbox.id) ?? 1) - 1;
      if (left > 0) this.#tunnels.set(sandbox.id, left);
      else this.#tunnels.delete(sandbox.id);
    };
    try {
      const link = await this.deps.commands.call(() => this.deps.driver.connect(sandbox.id));
      const stream = await this.deps.commands.call(() => link.client.tunnel(port, { signal }));
      stream.once("close", release);
      stream.once("close", done);
      return stream;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Tunnels open right now for one sandbox (tests and metrics). */
  openTunnels(sandboxId: string): number {
    return this.#tunnels.get(sandboxId) ?? 0;
  }
}

function notRunning(sandbox: PreviewSandbox): OutpostError {
  return new OutpostError("SANDBOX_WRONG_PHASE", `Sandbox ${sandbox.name} is ${sandbox.phase}, not running; start it to see its preview.`, {
    details: { phase: sandbox.phase },
  });
}
