// Cgroups for sandboxes: limits (cpu, memory, pids) and a reliable kill-all. Works with
// cgroup v2, v1, and the hybrid layout (v1 controllers + an empty v2 hierarchy, as here),
// and does nothing when not root or when the host does not let us write.
//   v2:     <unified>/outpost/<id>  with cpu.max, memory.max, memory.swap.max, pids.max, cgroup.kill
//   v1:     <mount of each controller>/outpost/<id>  with cpu.cfs_quota_us, memory.limit_in_bytes
//           (+ memsw: no swap beyond the limit), pids.max; kill-all through the freezer
//   hybrid: v1 for the limits, and the v2 hierarchy only for cgroup.kill
// Units: cpus in cores (quota per 100 ms period), bytes, processes.
// Limits: the sandbox's pid-1 is moved in right after clone, so its cgroup namespace
// root is the host's root cgroup (it sees "/outpost/<id>" in /proc/self/cgroup; it has no
// /sys/fs/cgroup to act on). Sub-cgroups are created under the mount root, not under the
// control plane's own cgroup, so sandboxes do not share the control plane's limits.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SandboxLimits } from "../driver.ts";
import { DriverError } from "../errors.ts";
import { PollTimeout, pollUntil } from "./poll.ts";
import { signalPid } from "./processes.ts";

export const V1_CONTROLLERS = ["cpu", "memory", "pids", "freezer"] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/** The v2 controllers we use for limits (the freezer is built into v2 as cgroup.freeze). */
const V2_CONTROLLERS = ["cpu", "memory", "pids"] as const;

/** CFS period: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;

export interface CgroupMounts {
  /** Mount point of the cgroup2 hierarchy, if any. */
  unified?: string;
  /** Mount point of each v1 controller we care about. */
  v1: Partial<Record<V1Controller, string>>;
}

/** One hierarchy the driver uses: the v2 tree, or one v1 controller's tree. */
export interface Hierarchy {
  name: "unified" | V1Controller;
  /** <mount>/<parent name>, e.g. /sys/fs/cgroup/memory/outpost */
  parentDir: string;
  /** Controllers that limit through this hierarchy (for v2: those enabled for our children). */
  controllers: string[];
}

export interface CgroupSupport {
  usable: boolean;
  /** Why nothing (or less than everything) is used; for logs and the isolation stage message. */
  reason?: string;
  mode: "v2" | "hybrid" | "v1" | "none";
  hierarchies: Hierarchy[];
  /** Which limits this host can enforce. */
  limitable: Array<keyof SandboxLimits>;
}

/** Finds cgroup mounts in /proc/self/mountinfo text (pure). The first mount of each wins. */
export function parseMountinfo(text: string): CgroupMounts {
  const mounts: CgroupMounts = { v1: {} };
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const mountPoint = left.split(" ")[4];
    const [fsType, , superOptions = ""] = right.split(" ");
    if (!mountPoint) continue;
    if (fsType === "cgroup2") mounts.unified ??= mountPoint;
    if (fsType !== "cgroup") continue;
    const options = superOptions.split(",");
    for (const controller of V1_CONTROLLERS) {
      if (options.includes(controller)) mounts.v1[controller] ??= mountPoint;
    }
  }
  return mounts;
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);

function mkdirOk(path: string): string | null {
  try {
    mkdirSync(path);
    return null;
  } catch (error) {
    return errnoOf(error) === "EEXIST" ? null : errnoOf(error);
  }
}

function readWords(path: string): string[] {
  try {
    return readFileSync(path, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

export interface DetectOptions {
  /** Name of our folder under each hierarchy (default "outpost"). */
  parent?: string;
  /** For tests: mountinfo text instead of /proc/self/mountinfo. */
  mountinfo?: string;
  /** For tests: pretend to be (or not be) root. */
  isRoot?: boolean;
}

/** Works out what this host lets us do, creating `<mount>/outpost` on the way (that is
 *  the probe: a read-only cgroupfs or missing rights show up as a failed mkdir). */
export function detectCgroups(options: DetectOptions = {}): CgroupSupport {
  const parent = options.parent ?? "outpost";
  const none = (reason: string): CgroupSupport => ({ usable: false, reason, mode: "none", hierarchies: [], limitable: [] });
  if (!(options.isRoot ?? process.getuid?.() === 0)) return none("not running as root: no cgroups, limits are not enforced");
  let mounts: CgroupMounts;
  try {
    mounts = parseMountinfo(options.mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8"));
  } catch (error) {
    return none(`cannot read /proc/self/mountinfo: ${errnoOf(error)}`);
  }
  const hierarchies: Hierarchy[] = [];
  const problems: string[] = [];

  if (mounts.unified) {
    const parentDir = join(mounts.unified, parent);
    const failed = mkdirOk(parentDir);
    if (failed) problems.push(`cgroup2 at ${mounts.unified}: ${failed}`);
    else {
      const available = readWords(join(mounts.unified, "cgroup.controllers"));
      for (const controller of V2_CONTROLLERS) {
        if (!available.includes(controller)) continue;
        // Enabling in the mount's root fails with EBUSY when that root is a container's
        // cgroup holding processes ("no internal processes"); then we live without it.
        for (const dir of [mounts.unified, parentDir]) {
          try {
            writeFileSync(join(dir, "cgroup.subtree_control"), `+${controller}`);
          } catch (error) {
            problems.push(`cannot enable ${controller} in ${dir}: ${errnoOf(error)}`);
            break;
          }
        }
      }
      const enabled = readWords(join(parentDir, "cgroup.subtree_control")).filter((c) => (V2_CONTROLLERS as readonly string[]).includes(c));
      hierarchies.push({ name: "unified", parentDir, controllers: enabled });
    }
  }
  const v2Controllers = new Set(hierarchies[0]?.controllers ?? []);
  for (const controller of V1_CONTROLLERS) {
    const mount = mounts.v1[controller];
    if (!mount || v2Controllers.has(controller)) continue;
    const parentDir = join(mount, parent);
    const failed = mkdirOk(parentDir);
    if (failed) problems.push(`cgroup v1 ${controller} at ${mount}: ${failed}`);
    else hierarchies.push({ name: controller, parentDir, controllers: controller === "freezer" ? [] : [controller] });
  }

  const has = (controller: string) => hierarchies.some((h) => h.controllers.includes(controller));
  const limitable: Array<keyof SandboxLimits> = [];
  if (has("cpu")) limitable.push("cpus");
  if (has("memory")) limitable.push("memoryBytes");
  if (has("pids")) limitable.push("pids");
  const usesV1 = hierarchies.some((h) => h.name !== "unified");
  const usesV2 = hierarchies.some((h) => h.name === "unified");
  const mode = usesV1 && usesV2 ? "hybrid" : usesV1 ? "v1" : usesV2 ? "v2" : "none";
  if (hierarchies.length === 0) return { ...none(problems.join("; ") || "no cgroup hierarchy is mounted"), mode };
  return { usable: true, reason: problems.length ? problems.join("; ") : undefined, mode, hierarchies, limitable };
}

/** One line for logs and the isolation stage. */
export function describeCgroups(support: CgroupSupport): string {
  if (!support.usable) return `no cgroups (${support.reason})`;
  const limits = support.limitable.length ? support.limitable.join(", ") : "none";
  return `cgroups ${support.mode} (limits: ${limits}; kill-all via ${killStrategy(support)})`;
}

export interface LimitWrite {
  hierarchy: Hierarchy["name"];
  file: string;
  value: string;
  /** Skip when the file does not exist (swap accounting is optional in the kernel). */
  optional?: boolean;
}

/** The files to write for `limits` (pure). Absent limits are written as "unlimited" so
 *  removing a limit from the spec takes effect on the next ensure. */
export function limitWrites(hierarchies: Pick<Hierarchy, "name" | "controllers">[], limits: SandboxLimits = {}): LimitWrite[] {
  const writes: LimitWrite[] = [];
  const quota = limits.cpus === undefined ? undefined : Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
  for (const h of hierarchies) {
    if (h.name === "unified") {
      if (h.controllers.includes("cpu")) writes.push({ hierarchy: h.name, file: "cpu.max", value: `${quota ?? "max"} ${CPU_PERIOD_US}` });
      if (h.controllers.includes("memory")) {
        writes.push({ hierarchy: h.name, file: "memory.max", value: String(limits.memoryBytes ?? "max") });
        // Without this a memory-limited sandbox could page out to swap without bound.
        writes.push({ hierarchy: h.name, file: "memory.swap.max", value: limits.memoryBytes === undefined ? "max" : "0", optional: true });
      }
      if (h.controllers.includes("pids")) writes.push({ hierarchy: h.name, file: "pids.max", value: String(limits.pids ?? "max") });
    } else if (h.name === "cpu") {
      writes.push({ hierarchy: h.name, file: "cpu.cfs_period_us", value: String(CPU_PERIOD_US) });
      writes.push({ hierarchy: h.name, file: "cpu.cfs_quota_us", value: String(quota ?? -1) });
    } else if (h.name === "memory") {
      // memsw (memory + swap) must stay ≥ the memory limit at every step: open it first,
      // set the limit, then close it to the same value (no swap beyond the limit).
      writes.push({ hierarchy: h.name, file: "memory.memsw.limit_in_bytes", value: "-1", optional: true });
      writes.push({ hierarchy: h.name, file: "memory.limit_in_bytes", value: String(limits.memoryBytes ?? -1) });
      if (limits.memoryBytes !== undefined) {
        writes.push({ hierarchy: h.name, file: "memory.memsw.limit_in_bytes", value: String(limits.memoryBytes), optional: true });
      }
    } else if (h.name === "pids") {
      writes.push({ hierarchy: h.name, file: "pids.max", value: String(limits.pids ?? "max") });
    }
  }
  return writes;
}

export function killStrategy(support: Pick<CgroupSupport, "hierarchies">): "cgroup.kill" | "freezer" | "signals" {
  const unified = support.hierarchies.find((h) => h.name === "unified");
  if (unified && existsSync(join(unified.parentDir, "cgroup.kill"))) return "cgroup.kill";
  if (support.hierarchies.some((h) => h.name === "freezer")) return "freezer";
  return "signals";
}

/** The cgroups of one sandbox (one folder per hierarchy). All methods are idempotent. */
export class SandboxCgroup {
  constructor(
    readonly support: CgroupSupport,
    readonly sandboxId: string,
  ) {}

  dir(hierarchy: Hierarchy): string {
    return join(hierarchy.parentDir, this.sandboxId);
  }

  dirs(): string[] {
    return this.support.hierarchies.map((h) => this.dir(h));
  }

  create(): void {
    for (const h of this.support.hierarchies) {
      const failed = mkdirOk(this.dir(h));
      if (failed) throw new DriverError("CGROUP_SETUP_FAILED", `cannot create cgroup ${this.dir(h)}: ${failed}`, { details: { sandboxId: this.sandboxId } });
    }
  }

  /** Writes the limits; returns the names of requested limits this host cannot enforce. */
  applyLimits(limits: SandboxLimits = {}): Array<keyof SandboxLimits> {
    for (const write of limitWrites(this.support.hierarchies, limits)) {
      const hierarchy = this.support.hierarchies.find((h) => h.name === write.hierarchy);
      if (!hierarchy) continue;
      const file = join(this.dir(hierarchy), write.file);
      if (write.optional && !existsSync(file)) continue;
      try {
        writeFileSync(file, write.value);
      } catch (error) {
        throw new DriverError("CGROUP_SETUP_FAILED", `cannot write ${write.value} to ${file}: ${errnoOf(error)}`, {
          details: { sandboxId: this.sandboxId, file, value: write.value },
        });
      }
    }
    const requested = (Object.keys(limits) as Array<keyof SandboxLimits>).filter((key) => limits[key] !== undefined);
    return requested.filter((key) => !this.support.limitable.includes(key));
  }

  /** Moves a process (all its threads) into every hierarchy. */
  addProcess(pid: number): void {
    for (const dir of this.dirs()) {
      try {
        writeFileSync(join(dir, "cgroup.procs"), String(pid));
      } catch (error) {
        // Gone already (bwrap failed its setup): the caller sees the exit and its log.
        if (errnoOf(error) === "ESRCH") return;
        throw new DriverError("CGROUP_SETUP_FAILED", `cannot move pid ${pid} into ${dir}: ${errnoOf(error)}`, { details: { sandboxId: this.sandboxId } });
      }
    }
  }

  /** How many times the kernel's OOM killer killed a process of this sandbox (0 when unknown). */
  oomKills(): number {
    for (const h of this.support.hierarchies) {
      if (h.name !== "unified" && h.name !== "memory") continue;
      const file = join(this.dir(h), h.name === "unified" ? "memory.events" : "memory.oom_control");
      try {
        const match = /^oom_kill (\d+)$/m.exec(readFileSync(file, "utf8"));
        if (match) return Number(match[1]);
      } catch {
        // no such cgroup (yet)
      }
    }
    return 0;
  }

  /** Pids in any of the sandbox's cgroups (empty when none exist). */
  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.dirs()) for (const word of readWords(join(dir, "cgroup.procs"))) all.add(Number(word));
    return [...all];
  }

  /** SIGKILLs everything in the cgroups and waits until they are empty. Freezing first
   *  (v1) or cgroup.kill (v2) means a fork bomb cannot outrun the kill loop. */
  async killAll(options: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    if (this.pids().length === 0) return;
    const strategy = killStrategy(this.support);
    const unified = this.support.hierarchies.find((h) => h.name === "unified");
    const freezer = this.support.hierarchies.find((h) => h.name === "freezer");
    if (strategy === "cgroup.kill" && unified) {
      writeFileSync(join(this.dir(unified), "cgroup.kill"), "1");
    } else if (strategy === "freezer" && freezer) {
      const state = join(this.dir(freezer), "freezer.state");
      writeFileSync(state, "FROZEN");
      try {
        await pollUntil(() => (readFileSync(state, "utf8").trim() === "FROZEN" ? true : undefined), { ...options, timeoutMs: 2000 }).catch((error) => {
          if (!(error instanceof PollTimeout)) throw error;
        });
        for (const pid of this.pids()) signalPid(pid, "SIGKILL");
      } finally {
        // Frozen tasks only act on SIGKILL once thawed; never leave the cgroup frozen.
        writeFileSync(state, "THAWED");
      }
    }
    await pollUntil(() => {
      const left = this.pids();
      // Also the fallback strategy: keep killing until nothing is left.
      for (const pid of left) signalPid(pid, "SIGKILL");
      return left.length === 0 ? true : undefined;
    }, options).catch((error) => {
      if (error instanceof PollTimeout) {
        throw new DriverError("SANDBOX_STOP_FAILED", `processes ${this.pids().join(", ")} of sandbox ${this.sandboxId} survived SIGKILL`, {
          details: { sandboxId: this.sandboxId },
        });
      }
      throw error;
    });
  }

  /** Removes the folders (they must be empty: call killAll first). */
  async remove(options: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    for (const dir of this.dirs()) {
      await pollUntil(() => {
        try {
          rmdirSync(dir);
          return true;
        } catch (error) {
          const code = errnoOf(error);
          if (code === "ENOENT") return true;
          // EBUSY: the last process is still leaving; try again shortly.
          if (code === "EBUSY") return undefined;
          throw new DriverError("CGROUP_SETUP_FAILED", `cannot remove cgroup ${dir}: ${code}`, { details: { sandboxId: this.sandboxId } });
        }
      }, options).catch((error) => {
        if (error instanceof PollTimeout) throw new DriverError("CGROUP_SETUP_FAILED", `cgroup ${dir} stayed busy`, { details: { sandboxId: this.sandboxId } });
        throw error;
      });
    }
  }
}
