// Which terminals this browser had open in a sandbox, so a reload (or coming back tomorrow)
// reattaches to the same shells instead of opening new ones. Terminals opened elsewhere
// (another browser, `outpost shell`) are not attached by themselves: attaching resizes a
// terminal, which would disturb whoever uses it; they are offered in the Attach menu.
const key = (sandboxId: string) => `outpost.terminals.${sandboxId}`;

export interface Remembered {
  tids: string[];
  selected: string | null;
  /** Those of `tids` opened as root (the API's Terminal does not say whom a shell runs as). */
  root: string[];
}

const TID = /^trm_[a-z0-9]{12}$/;

export function recall(sandboxId: string): Remembered {
  try {
    const value = JSON.parse(localStorage.getItem(key(sandboxId)) ?? "null") as Partial<Remembered> | null;
    const tids = Array.isArray(value?.tids) ? value.tids.filter((t): t is string => typeof t === "string" && TID.test(t)) : [];
    const selected = typeof value?.selected === "string" && tids.includes(value.selected) ? value.selected : null;
    const root = Array.isArray(value?.root) ? value.root.filter((t): t is string => typeof t === "string" && tids.includes(t)) : [];
    return { tids, selected, root };
  } catch {
    return { tids: [], selected: null, root: [] };
  }
}

export function remember(sandboxId: string, value: Remembered): void {
  try {
    if (value.tids.length === 0) localStorage.removeItem(key(sandboxId));
    else localStorage.setItem(key(sandboxId), JSON.stringify(value));
  } catch {
    // private mode or full: a reload then offers the terminals in the Attach menu instead
  }
}
