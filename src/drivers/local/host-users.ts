// Host uids for sandboxes (pure). When the control plane runs as root, every sandbox runs
// under its own unprivileged host uid (gid = uid by convention) taken from a reserved
// range far above normal accounts, so that one sandbox cannot touch another's files even
// through a mistake in the mounts. The control plane records which uid each sandbox holds
// and passes the used set here; nothing on the host (no /etc/passwd entry) is needed.
import { DriverError } from "../errors.ts";

export interface UidRange {
  /** inclusive */
  first: number;
  /** inclusive */
  last: number;
}

/** 200000–299999: above systemd's dynamic users (61184–65519) and the usual subuid
 *  ranges start (100000 + 65536 per user is common, so keep clear of 100000–165535). */
export const DEFAULT_HOST_UID_RANGE: Readonly<UidRange> = Object.freeze({ first: 200_000, last: 299_999 });

export function isInRange(uid: number, range: UidRange = DEFAULT_HOST_UID_RANGE): boolean {
  return Number.isInteger(uid) && uid >= range.first && uid <= range.last;
}

/** Checks a range given in configuration: positive integers, first ≤ last, never 0. */
export function assertValidRange(range: UidRange): void {
  const ok = Number.isInteger(range.first) && Number.isInteger(range.last) && range.first > 0 && range.first <= range.last && range.last < 2 ** 32 - 1;
  if (!ok) throw new DriverError("INVALID_SANDBOX_SPEC", `invalid host uid range ${range.first}–${range.last}`, { details: { range } });
}

/** How many ids root's block of an image sandbox maps: root and the system users and groups
 *  (0–999 inside, as Debian allots them), so packages that add a system user or give a file
 *  to a system group (`_ssh`, `shadow`, `postgres`) install. The sandbox user (1000) is a
 *  uid of its own, claimed apart. */
export const ROOT_BLOCK_SIZE = 1000;

/** The lowest start, aligned to `size`, of `size` uids of the range none of which is in
 *  `used`. Aligned starts keep blocks from interleaving with each other. */
export function pickHostBlock(used: Iterable<number>, size: number, range: UidRange = DEFAULT_HOST_UID_RANGE): number {
  assertValidRange(range);
  const taken = new Set(used);
  const first = Math.ceil(range.first / size) * size;
  for (let start = first; start + size - 1 <= range.last; start += size) {
    let free = true;
    for (let uid = start; uid < start + size && free; uid++) free = !taken.has(uid);
    if (free) return start;
  }
  throw new DriverError(
    "HOST_UIDS_EXHAUSTED",
    `no ${size} free host uids in a row in ${range.first}–${range.last} for an image sandbox; remove sandboxes or widen the range`,
    {
      details: { range, size },
    },
  );
}

/** The lowest uid of the range that is not in `used`. Lowest-first keeps assignments
 *  predictable and dense, which makes them easy to read in `ps`. */
export function pickHostUid(used: Iterable<number>, range: UidRange = DEFAULT_HOST_UID_RANGE): number {
  assertValidRange(range);
  const taken = new Set<number>();
  for (const uid of used) if (isInRange(uid, range)) taken.add(uid);
  for (let uid = range.first; uid <= range.last; uid++) {
    if (!taken.has(uid)) return uid;
  }
  throw new DriverError("HOST_UIDS_EXHAUSTED", `every host uid in ${range.first}–${range.last} is assigned to a sandbox; remove sandboxes or widen the range`, {
    details: { range },
  });
}
