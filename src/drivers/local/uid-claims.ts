// Host uids are a machine-wide resource: two Outpost installations on one machine (or two
// test servers) each keep their own store, and must still never hand out the same uid,
// because the driver's last-resort cleanup kills every process of a sandbox's uid. Each
// assignment is claimed with an exclusively created file `<dir>/<uid>` naming its owner
// (data dir + sandbox id). A claim whose data dir no longer exists is stale and reused.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_HOST_UID_RANGE, pickHostBlock, pickHostUid, type UidRange } from "./host-users.ts";

export const DEFAULT_CLAIMS_DIR = "/var/lib/outpost/host-uids";

/** "user": the uid a sandbox's files and commands have; "root": root inside an image sandbox. */
export type UidRole = "user" | "root";

interface Claim {
  dataDir: string;
  sandboxId: string;
  /** Absent in claims written before image sandboxes: "user". */
  role?: UidRole;
  /** How many uids from the file's name on (a root block); absent: 1. */
  size?: number;
}

export class HostUidClaims {
  constructor(
    private readonly dataDir: string,
    private readonly dir = DEFAULT_CLAIMS_DIR,
    private readonly range: UidRange = DEFAULT_HOST_UID_RANGE,
  ) {}

  /** Claims the lowest uid that neither this store (`used`) nor any installation holds. */
  claim(sandboxId: string, used: Iterable<number>, role: UidRole = "user"): number {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const taken = new Set(used);
    for (const uid of this.#claimed()) taken.add(uid);
    while (true) {
      const uid = pickHostUid(taken, this.range);
      const path = join(this.dir, String(uid));
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, JSON.stringify({ dataDir: this.dataDir, sandboxId, role } satisfies Claim));
        closeSync(fd);
        // A block claimed meanwhile by another installation may cover it: step back.
        if (!this.#claimed(uid).includes(uid)) return uid;
        unlinkSync(path);
        taken.add(uid);
      } catch (error) {
        if ((error as { code?: string }).code !== "EEXIST") throw error;
        if (this.#isStale(path)) {
          unlinkSync(path);
          continue;
        }
        taken.add(uid);
      }
    }
  }

  /**
   * Claims `size` uids in a row (root's block of an image sandbox); the file is named after
   * the first. A claim made meanwhile by another installation inside the block makes this
   * one step back and look again.
   */
  claimBlock(sandboxId: string, size: number, role: UidRole, used: Iterable<number>): number {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const taken = new Set(used);
    for (const uid of this.#claimed()) taken.add(uid);
    while (true) {
      const start = pickHostBlock(taken, size, this.range);
      const path = join(this.dir, String(start));
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, JSON.stringify({ dataDir: this.dataDir, sandboxId, role, size } satisfies Claim));
        closeSync(fd);
      } catch (error) {
        if ((error as { code?: string }).code !== "EEXIST") throw error;
        if (this.#isStale(path)) unlinkSync(path);
        else for (let uid = start; uid < start + size; uid++) taken.add(uid);
        continue;
      }
      const others = new Set(this.#claimed(start));
      let clash = false;
      for (let uid = start; uid < start + size && !clash; uid++) clash = others.has(uid);
      if (!clash) return start;
      unlinkSync(path);
      for (let uid = start; uid < start + size; uid++) taken.add(uid);
    }
  }

  /** The uid this installation already claimed for the sandbox (a kill between claiming
   *  and recording it leaves such a claim; the next ensure takes it up again). */
  findFor(sandboxId: string, role: UidRole = "user"): number | null {
    if (!existsSync(this.dir)) return null;
    for (const name of readdirSync(this.dir)) {
      if (!/^\d+$/.test(name)) continue;
      const claim = readClaim(join(this.dir, name));
      if (claim && claim.dataDir === this.dataDir && claim.sandboxId === sandboxId && (claim.role ?? "user") === role) return Number(name);
    }
    return null;
  }

  /** Gives a uid back, only if this sandbox holds it. */
  release(uid: number, sandboxId: string): void {
    const path = join(this.dir, String(uid));
    const claim = readClaim(path);
    if (claim && claim.dataDir === this.dataDir && claim.sandboxId === sandboxId) unlinkSync(path);
  }

  /** Releases this installation's claims for sandboxes that no longer exist (a kill
   *  between removing a sandbox and releasing its uid leaves such a claim). */
  releaseUnknown(knownSandboxIds: Set<string>): number[] {
    if (!existsSync(this.dir)) return [];
    const released: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const claim = readClaim(join(this.dir, name));
      if (claim && claim.dataDir === this.dataDir && !knownSandboxIds.has(claim.sandboxId)) {
        unlinkSync(join(this.dir, name));
        released.push(Number(name));
      }
    }
    return released;
  }

  /** Every claimed uid (a block's every uid), but the claim named `except`. */
  #claimed(except?: number): number[] {
    if (!existsSync(this.dir)) return [];
    const uids: number[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!/^\d+$/.test(name) || Number(name) === except) continue;
      const path = join(this.dir, name);
      if (this.#isStale(path)) continue;
      const size = readClaim(path)?.size ?? 1;
      for (let uid = Number(name); uid < Number(name) + size; uid++) uids.push(uid);
    }
    return uids;
  }

  /** A claim is stale when its installation's data dir is gone (e.g. a deleted test dir). */
  #isStale(path: string): boolean {
    const claim = readClaim(path);
    return claim !== null && !existsSync(claim.dataDir);
  }
}

function readClaim(path: string): Claim | null {
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as Partial<Claim>;
    return typeof value.dataDir === "string" && typeof value.sandboxId === "string" ? (value as Claim) : null;
  } catch {
    return null;
  }
}
