// Host uids are a machine-wide resource: two Outpost installations on one machine (or two
// test servers) each keep their own store, and must still never hand out the same uid,
// because the driver's last-resort cleanup kills every process of a sandbox's uid. Each
// assignment is claimed with an exclusively created file `<dir>/<uid>` naming its owner
// (data dir + sandbox id). A claim whose data dir no longer exists is stale and reused.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_HOST_UID_RANGE, pickHostUid, type UidRange } from "./host-users.ts";

export const DEFAULT_CLAIMS_DIR = "/var/lib/outpost/host-uids";

/** "user": the uid a sandbox's files and commands have; "root": root inside an image sandbox. */
export type UidRole = "user" | "root";

interface Claim {
  dataDir: string;
  sandboxId: string;
  /** Absent in claims written before image sandboxes: "user". */
  role?: UidRole;
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
        return uid;
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

  #claimed(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => /^\d+$/.test(name))
      .filter((name) => !this.#isStale(join(this.dir, name)))
      .map(Number);
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
