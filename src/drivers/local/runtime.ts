// The driver's two small records per sandbox, both JSON, 0600, written atomically:
//   spec.json     the spec as last ensured, with the host uid (needed to stop and clean up)
//   runtime.json  the running instance: which host processes are the sandbox, as
//                 (boot id, pid, start time) so a reused pid is never mistaken for it.
// Both live in <root>/<id>/, owned by the control plane and out of the sandbox's reach.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { SandboxSpec } from "../driver.ts";
import { bootId, isRunning, type ProcessIdentity } from "./processes.ts";

export interface RuntimeInfo {
  version: 1;
  sandboxId: string;
  /** /proc/sys/kernel/random/boot_id when it started: after a reboot every pid is stale. */
  bootId: string;
  /** The bwrap process we spawned (outside all namespaces but the user one). */
  bwrap: ProcessIdentity;
  /** pid 1 of the sandbox's pid namespace ({"child-pid"} from bwrap's info fd). */
  init: ProcessIdentity;
  startedAt: string;
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch {
    // Missing, or half-written by a crash before the rename (cannot happen with
    // writeJsonAtomic, but a hand-edited file must not wedge the driver): treat as absent.
    return null;
  }
}

export function readRuntime(path: string): RuntimeInfo | null {
  const value = readJson(path) as Partial<RuntimeInfo> | null;
  if (!value || value.version !== 1 || !value.init?.pid || !value.bwrap?.pid) return null;
  return value as RuntimeInfo;
}

/** spec.json: the spec as last ensured, plus what the driver chose for it. */
export interface RecordedSpec extends SandboxSpec {
  /** The unprivileged host uid (and gid) that owns the sandbox's folders and processes,
   *  when the control plane runs as root. */
  hostUid?: number;
  /** An image sandbox's root block: host uids hostRootUid… (ROOT_BLOCK_SIZE of them) are
   *  root and the system ids (0–999) inside its user namespace. */
  hostRootUid?: number;
}

export function readSpec(path: string): RecordedSpec | null {
  const value = readJson(path) as Partial<RecordedSpec> | null;
  return value && typeof value.sandboxId === "string" ? (value as RecordedSpec) : null;
}

/**
 * True when the recorded sandbox still runs (same boot, same pids, same start times). Both
 * processes must be there: bwrap (outside) exits as soon as the supervisor does, while the
 * sandbox's pid-1 lingers as long as anything inside runs; a sandbox without its supervisor
 * is not running, it is remains to clean up.
 */
export function isLive(runtime: RuntimeInfo): boolean {
  return runtime.bootId === bootId() && isRunning(runtime.init) && isRunning(runtime.bwrap);
}
