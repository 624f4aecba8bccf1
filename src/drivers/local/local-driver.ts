// The local driver: each sandbox is a bubblewrap-isolated process tree on this machine,
// started detached so it outlives the control plane, under its own unprivileged host
// uid when the control plane is root. Layout in layout.ts, argv in bwrap-args.ts,
// spawning in launcher.ts, limits and kill-all in cgroups.ts.
// Every method is idempotent and safe to call again after the caller was killed midway:
// the truth is on disk (spec.json, runtime.json) and in /proc, never only in memory.
// Timeouts (ms): readiness 30 000, stop grace 10 000, kill 5 000; all overridable.
import { existsSync, readdirSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { Driver, EnsureOptions, RemoveOptions, SandboxHandle, SandboxInspection, SandboxLimits, SandboxSpec, StageName, StopOptions } from "../driver.ts";
import { DriverError, isDriverError } from "../errors.ts";
import { bwrapArgs } from "./bwrap-args.ts";
import { type CgroupSupport, describeCgroups, detectCgroups, SandboxCgroup } from "./cgroups.ts";
import { etcFiles, writeEtcFiles } from "./etc-files.ts";
import { type Health, probeHealth } from "./health.ts";
import { type HostFs, probeHostFs } from "./host-fs.ts";
import { assertValidRange, DEFAULT_HOST_UID_RANGE, isInRange, type UidRange } from "./host-users.ts";
import { BLOCK_FD, INFO_FD, type Launched, launch, logTail, markerArgs, startFailed } from "./launcher.ts";
import {
  adoptKeptWorkspace,
  firstUnreachable,
  forceRemove,
  MAX_SOCKET_PATH,
  type Owner,
  prepareRoot,
  prepareSandboxFolders,
  removeSandboxFolders,
  type SandboxPaths,
  sandboxMarker,
  sandboxPaths,
} from "./layout.ts";
import { PollTimeout, pollUntil } from "./poll.ts";
import { checkBubblewrap } from "./preflight.ts";
import { bootId, descendantsOf, identityOf, isRunning, pidsWithArgs, runningPidsOfUid, signalPid } from "./processes.ts";
import { isLive, type RuntimeInfo, readRuntime, readSpec, writeJsonAtomic } from "./runtime.ts";

export interface LocalDriverOptions {
  /** Parent of all sandbox folders: `<data dir>/sandboxes`. */
  root: string;
  /** Host path of the bundled supervisor (`<repo>/dist/supervisor.js`). */
  supervisorBundle: string;
  /** Node binary bound into the sandbox; default process.execPath. */
  nodeBinary?: string;
  /** Default: found on PATH. */
  bwrapPath?: string;
  /** Reserved host uids (validate() rejects others); default 200000–299999. */
  hostUidRange?: UidRange;
  /** How long ensure() waits for GET /v1/health (ms). */
  readyTimeoutMs?: number;
  /** Default grace between SIGTERM and SIGKILL in stop() (ms). */
  stopGraceMs?: number;
  /** How long SIGKILLed processes may take to disappear (ms). */
  killTimeoutMs?: number;
  /** Forbid user namespaces inside sandboxes (see bwrap-args.ts); default false. */
  disableNestedUserns?: boolean;
  /** Folder name under each cgroup hierarchy; default "outpost". */
  cgroupParent?: string;
  log?: (message: string) => void;
  /** Whether host uids can be honoured; default: whether this process is root (tests set it). */
  runningAsRoot?: boolean;
}

const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Floors below which a sandbox cannot even start its supervisor (node alone runs ~10
 *  threads, and pids.max counts threads). */
const MIN_MEMORY_BYTES = 64 * 1024 * 1024;
const MIN_PIDS = 32;

export class LocalDriver implements Driver {
  readonly name = "local" as const;
  readonly root: string;
  readonly #options: LocalDriverOptions;
  readonly #range: UidRange;
  readonly #log: (message: string) => void;
  #hostFs?: HostFs;
  #cgroups?: CgroupSupport;
  /** Cached once bwrap works; a failure is not cached, so fixing the host needs no restart. */
  #bwrapPath?: string;
  /** Operations on one sandbox run one at a time in this process (an ensure still
   *  launching while a remove deletes its folders would leave a half-made sandbox).
   *  Across processes the control plane's leases keep one owner per sandbox. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: LocalDriverOptions) {
    if (!isAbsolute(options.root)) throw new DriverError("INVALID_SANDBOX_SPEC", `the sandboxes root must be an absolute path, not ${options.root}`);
    this.root = options.root;
    this.#options = options;
    this.#range = options.hostUidRange ?? DEFAULT_HOST_UID_RANGE;
    assertValidRange(this.#range);
    this.#log = options.log ?? (() => {});
  }

  /** What cgroups this host lets the driver use (probed once; creates `<mount>/outpost`). */
  cgroupSupport(): CgroupSupport {
    this.#cgroups ??= detectCgroups({ parent: this.#options.cgroupParent });
    return this.#cgroups;
  }

  supervisorSocket(sandboxId: string): string {
    return sandboxPaths(this.root, sandboxId).socket;
  }

  validate(spec: SandboxSpec): void {
    const invalid = (field: string, message: string) => new DriverError("INVALID_SANDBOX_SPEC", message, { details: { field, sandboxId: spec.sandboxId } });
    if (typeof spec.sandboxId !== "string" || !SANDBOX_ID.test(spec.sandboxId)) {
      throw invalid("sandboxId", `sandbox id '${spec.sandboxId}' must be 1–63 letters, digits, '_' or '-'`);
    }
    if (typeof spec.name !== "string" || !DNS_LABEL.test(spec.name)) {
      throw invalid("name", `sandbox name '${spec.name}' must be a DNS label (lowercase letters, digits, '-', at most 63)`);
    }
    const socket = this.supervisorSocket(spec.sandboxId);
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw invalid("sandboxId", `the supervisor socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter data dir`);
    }
    const isRoot = this.#options.runningAsRoot ?? process.getuid?.() === 0;
    if (spec.hostUid === undefined) {
      if (isRoot)
        throw new DriverError("HOST_UID_REQUIRED", "the control plane runs as root, so every sandbox needs an unprivileged hostUid", {
          details: { sandboxId: spec.sandboxId },
        });
      if (spec.hostGid !== undefined) throw invalid("hostGid", "hostGid needs hostUid");
    } else {
      if (!isInRange(spec.hostUid, this.#range))
        throw invalid("hostUid", `hostUid ${spec.hostUid} is outside the reserved range ${this.#range.first}–${this.#range.last}`);
      if (spec.hostGid !== undefined && !isInRange(spec.hostGid, this.#range)) {
        throw invalid("hostGid", `hostGid ${spec.hostGid} is outside the reserved range ${this.#range.first}–${this.#range.last}`);
      }
      if (!isRoot) throw invalid("hostUid", "hostUid needs the control plane to run as root");
    }
    const limits = spec.limits ?? {};
    if (limits.cpus !== undefined && !(Number.isFinite(limits.cpus) && limits.cpus >= 0.01 && limits.cpus <= 1024)) {
      throw invalid("limits.cpus", `limits.cpus must be between 0.01 and 1024 cores, not ${limits.cpus}`);
    }
    if (limits.memoryBytes !== undefined && !(Number.isSafeInteger(limits.memoryBytes) && limits.memoryBytes >= MIN_MEMORY_BYTES)) {
      throw invalid("limits.memoryBytes", `limits.memoryBytes must be a whole number of bytes ≥ ${MIN_MEMORY_BYTES}, not ${limits.memoryBytes}`);
    }
    if (limits.pids !== undefined && !(Number.isSafeInteger(limits.pids) && limits.pids >= MIN_PIDS)) {
      throw invalid("limits.pids", `limits.pids must be a whole number ≥ ${MIN_PIDS} (threads count), not ${limits.pids}`);
    }
  }

  async ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle> {
    this.validate(spec);
    return this.#exclusive(spec.sandboxId, () => this.#ensure(spec, options));
  }

  async stop(sandboxId: string, options: StopOptions): Promise<void> {
    const paths = this.#pathsFor(sandboxId);
    return this.#exclusive(sandboxId, () => this.#stop(sandboxId, paths, options));
  }

  async remove(sandboxId: string, { keepWorkspace, signal, graceMs }: RemoveOptions): Promise<void> {
    const paths = this.#pathsFor(sandboxId);
    return this.#exclusive(sandboxId, async () => {
      await this.#stop(sandboxId, paths, { signal, graceMs });
      const cgroups = this.cgroupSupport();
      if (cgroups.usable) await new SandboxCgroup(cgroups, sandboxId).remove({ signal, timeoutMs: this.#killTimeout });
      removeSandboxFolders(paths, keepWorkspace);
    });
  }

  async #ensure(spec: SandboxSpec, { onStage, signal }: EnsureOptions): Promise<SandboxHandle> {
    signal.throwIfAborted();
    const paths = sandboxPaths(this.root, spec.sandboxId);
    const owner = ownerOf(spec);
    const stage = async <T>(name: StageName, work: () => Promise<{ value: T; message?: string }>): Promise<T> => {
      onStage(name, "running");
      try {
        const { value, message } = await work();
        onStage(name, "done", message);
        return value;
      } catch (error) {
        onStage(name, "failed", (error as Error).message);
        throw error;
      }
    };

    await stage("workspace", async () => {
      this.#hostFs ??= probeHostFs();
      prepareRoot(this.root);
      const adopted = spec.workspaceFrom ? adoptKeptWorkspace(sandboxPaths(this.root, spec.workspaceFrom), paths, owner) : false;
      prepareSandboxFolders(paths, owner);
      writeEtcFiles(paths.etc, etcFiles(spec.name, this.#hostFs.shell));
      writeJsonAtomic(paths.specFile, spec);
      this.#assertReachable(owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, paths);
      return { value: undefined, message: adopted ? `${paths.dir} (workspace kept from ${spec.workspaceFrom})` : paths.dir };
    });

    const isolated = await stage<Isolated>("isolation", async () => {
      const cgroups = this.cgroupSupport();
      const cgroup = cgroups.usable ? new SandboxCgroup(cgroups, spec.sandboxId) : undefined;
      const applyLimits = (): Array<keyof SandboxLimits> => {
        if (!cgroup) return requestedLimits(spec.limits);
        cgroup.create();
        return cgroup.applyLimits(spec.limits);
      };
      const running = this.#liveRuntime(paths);
      if (running) {
        // Adopt: the limits may have changed since it started; they apply to a running cgroup.
        const unenforced = applyLimits();
        return { value: { outcome: "adopted", runtime: running, unenforced }, message: `adopted (pid ${running.init.pid})` };
      }
      const bwrapPath = await this.#preflight(owner);
      // A launch interrupted before it was recorded may have left a sandbox running.
      await this.#killEverything(spec.sandboxId, paths, null, signal);
      forceRemove(paths.socket);
      const unenforced = applyLimits();
      let runtime: RuntimeInfo | undefined;
      const launched = await launch({
        bwrapPath,
        args: this.#argv(spec, paths),
        marker: sandboxMarker(this.root, spec.sandboxId),
        logPath: paths.log,
        owner,
        signal,
        timeoutMs: 10_000,
        beforeRelease: ({ bwrapPid, childPid }) => {
          cgroup?.addProcess(bwrapPid);
          cgroup?.addProcess(childPid);
          const bwrap = identityOf(bwrapPid);
          const init = identityOf(childPid);
          if (!bwrap || !init) throw startFailed("the sandbox exited during setup", paths.log);
          runtime = { version: 1, sandboxId: spec.sandboxId, bootId: bootId(), bwrap, init, startedAt: new Date().toISOString() };
          writeJsonAtomic(paths.runtimeFile, runtime);
        },
      });
      if (!runtime) throw startFailed("the sandbox was not recorded", paths.log);
      const limitsNote = unenforced.length ? `; not enforced here: ${unenforced.join(", ")}` : "";
      this.#log(`sandbox ${spec.sandboxId} started: bwrap ${launched.bwrapPid}, init ${launched.childPid}`);
      return {
        value: { outcome: "started", runtime, launched, unenforced },
        message: `bwrap pid ${launched.bwrapPid}, init pid ${launched.childPid}; ${describeCgroups(cgroups)}${limitsNote}`,
      };
    });

    const health = await stage("supervisor", async () => {
      try {
        const value = await this.#waitForSupervisor(paths, isolated.runtime, isolated.launched, signal);
        return { value, message: `answering on ${paths.socket}` };
      } catch (error) {
        // bwrap reports the supervisor's exit as soon as it happens, while the sandbox's
        // pid-1 may still be on its way out: a failed start leaves nothing running.
        if (isDriverError(error, "SANDBOX_START_FAILED")) await this.#killEverything(spec.sandboxId, paths, isolated.runtime, signal);
        throw error;
      }
    });

    return {
      sandboxId: spec.sandboxId,
      outcome: isolated.outcome,
      pid: isolated.runtime.init.pid,
      supervisorSocket: paths.socket,
      supervisorProtocol: typeof health.protocol === "number" ? health.protocol : undefined,
      unenforcedLimits: isolated.unenforced,
    };
  }

  async #stop(sandboxId: string, paths: SandboxPaths, { signal, graceMs }: StopOptions): Promise<void> {
    const runtime = readRuntime(paths.runtimeFile);
    if (runtime && isLive(runtime)) {
      // The sandbox's pid-1 (bwrap's reaper) ignores signals it has no handler for, and
      // only exits once every process inside is gone, so SIGTERM the whole tree under it
      // (the supervisor is namespace pid 2; daemons it left behind were re-parented to
      // pid-1). Whatever still runs after the grace period is SIGKILLed below.
      for (const pid of descendantsOf(runtime.init.pid)) signalPid(pid, "SIGTERM");
      await pollUntil(() => (isRunning(runtime.init) ? undefined : true), { signal, timeoutMs: graceMs ?? this.#options.stopGraceMs ?? 10_000 }).catch(
        (error) => {
          if (!(error instanceof PollTimeout)) throw error;
          this.#log(`sandbox ${sandboxId} ignored SIGTERM; killing it`);
        },
      );
    }
    await this.#killEverything(sandboxId, paths, runtime, signal);
    forceRemove(paths.runtimeFile);
  }

  async inspect(sandboxId: string): Promise<SandboxInspection> {
    const paths = this.#pathsFor(sandboxId);
    if (!existsSync(paths.specFile)) return { state: "missing" };
    const runtime = this.#liveRuntime(paths);
    if (!runtime) return { state: "stopped" };
    return { state: "running", pid: runtime.init.pid, supervisorSocket: paths.socket };
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return names.filter((name) => SANDBOX_ID.test(name) && existsSync(sandboxPaths(this.root, name).specFile)).sort();
  }

  async #exclusive<T>(sandboxId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(sandboxId) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#queues.set(sandboxId, settled);
    try {
      return await run;
    } finally {
      if (this.#queues.get(sandboxId) === settled) this.#queues.delete(sandboxId);
    }
  }

  get #killTimeout(): number {
    return this.#options.killTimeoutMs ?? 5000;
  }

  #pathsFor(sandboxId: string): SandboxPaths {
    // The id becomes a path: refuse anything that could walk out of the root.
    if (!SANDBOX_ID.test(sandboxId))
      throw new DriverError("INVALID_SANDBOX_SPEC", `sandbox id '${sandboxId}' is not valid`, { details: { field: "sandboxId" } });
    return sandboxPaths(this.root, sandboxId);
  }

  #liveRuntime(paths: SandboxPaths): RuntimeInfo | null {
    const runtime = readRuntime(paths.runtimeFile);
    return runtime && isLive(runtime) ? runtime : null;
  }

  #argv(spec: SandboxSpec, paths: SandboxPaths): string[] {
    return bwrapArgs({
      hostname: spec.name,
      paths,
      nodeBinary: this.#options.nodeBinary ?? process.execPath,
      supervisorBundle: this.#options.supervisorBundle,
      host: this.#hostFs ?? probeHostFs(),
      infoFd: INFO_FD,
      blockFd: BLOCK_FD,
      disableNestedUserns: this.#options.disableNestedUserns,
    });
  }

  async #preflight(owner: Owner | undefined): Promise<string> {
    if (this.#bwrapPath) return this.#bwrapPath;
    const result = await checkBubblewrap({ bwrapPath: this.#options.bwrapPath, owner });
    if (!result.ok) throw result.error;
    this.#log(`bubblewrap ${result.bwrap.version} at ${result.bwrap.path} works`);
    this.#bwrapPath = result.bwrap.path;
    return result.bwrap.path;
  }

  /** bwrap runs as the sandbox's uid, so that uid must reach everything it binds (and a
   *  missing supervisor bundle is better reported here than as a bwrap mount error). */
  #assertReachable(owner: Owner, paths: SandboxPaths): void {
    const needs: Array<[string, boolean]> = [
      [paths.workspace, true],
      [`${paths.etc}/passwd`, true],
      [this.#options.supervisorBundle, true],
      [this.#options.nodeBinary ?? process.execPath, true],
    ];
    for (const [path, read] of needs) {
      const blocked = firstUnreachable(path, owner, { read });
      if (blocked) {
        const why = existsSync(path)
          ? `cannot reach ${path} (stopped at ${blocked}); fix: chmod o+x on the folders above it (or o+r on the file)`
          : `needs ${path}, which does not exist`;
        throw new DriverError("SANDBOX_PATH_UNREACHABLE", `the sandbox's host uid ${owner.uid} ${why}`, {
          details: { path, blocked, uid: owner.uid },
        });
      }
    }
  }

  async #waitForSupervisor(paths: SandboxPaths, runtime: RuntimeInfo, launched: Launched | undefined, signal: AbortSignal): Promise<Health> {
    const timeoutMs = this.#options.readyTimeoutMs ?? 30_000;
    return pollUntil<Health>(
      async () => {
        // An exit is the event that ends the wait early; bwrap's exit is only observable
        // while we are its parent, otherwise the recorded pid-1 tells.
        const exit = launched?.exit();
        if (exit || !isRunning(runtime.init)) {
          const how = exit ? (exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`) : "unknown status";
          throw startFailed(`the sandbox exited before its supervisor answered (${how})`, paths.log, { exitCode: exit?.code });
        }
        return (await probeHealth(paths.socket, { timeoutMs: 1000, signal })) ?? undefined;
      },
      { signal, timeoutMs, minDelayMs: 10, maxDelayMs: 200 },
    ).catch((error) => {
      if (!(error instanceof PollTimeout)) throw error;
      const tail = logTail(paths.log);
      throw new DriverError(
        "SUPERVISOR_NOT_READY",
        `the supervisor did not answer GET /v1/health on ${paths.socket} within ${timeoutMs} ms${tail ? `; log tail:\n${tail}` : ""}`,
        {
          details: { socket: paths.socket, logTail: tail, log: paths.log },
        },
      );
    });
  }

  /** SIGKILLs every process of the sandbox through every handle we have on it — the
   *  recorded pids, bwrap processes found by their marker (a launch that was never
   *  recorded), the cgroups, and the sandbox's own host uid — and waits until none is
   *  left. The uid sweep relies on the control plane's promise of one uid per sandbox. */
  async #killEverything(sandboxId: string, paths: SandboxPaths, runtime: RuntimeInfo | null, signal: AbortSignal): Promise<void> {
    const hostUid = process.getuid?.() === 0 ? readSpec(paths.specFile)?.hostUid : undefined;
    const uidSweep = hostUid !== undefined && isInRange(hostUid, this.#range) ? hostUid : undefined;
    const recorded = runtime && runtime.bootId === bootId() ? [runtime.init, runtime.bwrap] : [];
    const strays = () => pidsWithArgs(markerArgs(sandboxMarker(this.root, sandboxId)));
    const leftovers = () => [
      ...recorded.filter((identity) => isRunning(identity)).map((identity) => identity.pid),
      ...strays(),
      ...(uidSweep === undefined ? [] : runningPidsOfUid(uidSweep)),
    ];
    const cgroups = this.cgroupSupport();
    if (leftovers().length === 0 && (!cgroups.usable || new SandboxCgroup(cgroups, sandboxId).pids().length === 0)) return;

    this.#log(`killing what is left of sandbox ${sandboxId}`);
    if (cgroups.usable) await new SandboxCgroup(cgroups, sandboxId).killAll({ signal, timeoutMs: this.#killTimeout });
    await pollUntil(
      () => {
        const left = [...new Set(leftovers())];
        // Killing a namespace's pid-1 makes the kernel kill every process inside it.
        for (const pid of left) signalPid(pid, "SIGKILL");
        return left.length === 0 ? true : undefined;
      },
      { signal, timeoutMs: this.#killTimeout },
    ).catch((error) => {
      if (!(error instanceof PollTimeout)) throw error;
      throw new DriverError("SANDBOX_STOP_FAILED", `processes ${leftovers().join(", ")} of sandbox ${sandboxId} survived SIGKILL`, { details: { sandboxId } });
    });
  }
}

/** What the isolation stage hands to the supervisor stage and the handle. */
interface Isolated {
  outcome: SandboxHandle["outcome"];
  runtime: RuntimeInfo;
  /** Only when this call started it (then bwrap's exit is observable). */
  launched?: Launched;
  unenforced: Array<keyof SandboxLimits>;
}

function ownerOf(spec: SandboxSpec): Owner | undefined {
  return spec.hostUid === undefined ? undefined : { uid: spec.hostUid, gid: spec.hostGid ?? spec.hostUid };
}

function requestedLimits(limits: SandboxLimits = {}): Array<keyof SandboxLimits> {
  return (Object.keys(limits) as Array<keyof SandboxLimits>).filter((key) => limits[key] !== undefined);
}
