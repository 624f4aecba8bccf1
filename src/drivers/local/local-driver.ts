// The local driver: each sandbox is a bubblewrap-isolated process tree on this machine,
// started detached so it outlives the control plane, under its own unprivileged host uid
// (claimed machine-wide, uid-claims.ts) when the control plane is root. Layout in
// layout.ts, argv in bwrap-args.ts, spawning in launcher.ts, limits and kill-all in
// cgroups.ts, the supervisor links in link-sockets.ts.
// Every method is idempotent and safe to call again after the caller was killed midway:
// the truth is on disk (spec.json, runtime.json) and in /proc, never only in memory.
// Stages: workspace → isolation → supervisor (connected). Timeouts (ms): readiness 30 000,
// stop grace 10 000, kill 5 000; all overridable.
import { existsSync, readdirSync, renameSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { LinkEvent } from "../../supervisor/link/registry.ts";
import { LinkRegistry } from "../../supervisor/link/registry.ts";
import { connectLink } from "../connect-link.ts";
import type {
  ConnectOptions,
  Driver,
  EgressEndpoint,
  EnsureOptions,
  RemoveOptions,
  SandboxHandle,
  SandboxInspection,
  SandboxLimits,
  SandboxSpec,
  StopOptions,
  SupervisorLink,
} from "../driver.ts";
import { DriverError, isDriverError } from "../errors.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { SANDBOX_ID, validateSpec } from "../validate-spec.ts";
import { bwrapArgs, tmpfsSizes } from "./bwrap-args.ts";
import { type CgroupSupport, describeCgroups, detectCgroups, SandboxCgroup } from "./cgroups.ts";
import { etcFiles, writeEtcFiles } from "./etc-files.ts";
import { describeLastExit, readExitStatus } from "./exit-status.ts";
import { type HostFs, probeHostFs } from "./host-fs.ts";
import { assertValidRange, DEFAULT_HOST_UID_RANGE, isInRange, ROOT_BLOCK_SIZE, type UidRange } from "./host-users.ts";
import { killEverything, terminate } from "./kill.ts";
import { BLOCK_FD, INFO_FD, type Launched, SECCOMP_FD, STATUS_FD, USERNS_FD } from "./launcher.ts";
import {
  adoptKeptWorkspace,
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
import { LinkSockets } from "./link-sockets.ts";
import { checkBubblewrap } from "./preflight.ts";
import { assertReachable } from "./reachability.ts";
import { mountRootfs, rootfsPaths, unmountRootfs } from "./rootfs/rootfs.ts";
import { type HeldUserNamespace, holdUserNamespace } from "./rootfs/user-namespace.ts";
import { isLive, type RecordedSpec, type RuntimeInfo, readRuntime, readSpec, writeJsonAtomic } from "./runtime.ts";
import { seccompFilter } from "./seccomp.ts";
import { startSandbox } from "./start-sandbox.ts";
import { HostUidClaims } from "./uid-claims.ts";
import { waitForSupervisor } from "./wait-for-supervisor.ts";

export const LOCAL_STAGES = ["workspace", "isolation", "supervisor"] as const;
type LocalStage = (typeof LOCAL_STAGES)[number];

export interface LocalDriverOptions {
  /** Parent of all sandbox folders: `<data dir>/sandboxes`. */
  root: string;
  /** Host folder bound read-only at /opt/outpost (bin/node, supervisor.js, native modules),
   *  or how to find one the sandbox's host uid can reach (see outpost-dir.ts). */
  outpostDir: string | ((owner: Owner | undefined) => string);
  /** Default: found on PATH. */
  bwrapPath?: string;
  /** Reserved host uids; default 200000–299999. */
  hostUidRange?: UidRange;
  /** Where host uids are claimed machine-wide; default /var/lib/outpost/host-uids. */
  hostUidClaimsDir?: string;
  /** How long ensure() waits for the supervisor to connect (ms). */
  readyTimeoutMs?: number;
  /** Default grace between SIGTERM and SIGKILL in stop() (ms). */
  stopGraceMs?: number;
  /** How long SIGKILLed processes may take to disappear (ms). */
  killTimeoutMs?: number;
  /** Allow user namespaces inside sandboxes (nested sandboxes, rootless containers); default false. */
  allowNestedUserns?: boolean;
  /** Folder name under each cgroup hierarchy; default "outpost". */
  cgroupParent?: string;
  log?: (message: string) => void;
  /** Whether host uids are used; default: whether this process is root (tests set it). */
  runningAsRoot?: boolean;
  /** The host side of the sandboxes' way out (egress proxy, model gateway); absent: loopback only. */
  egress?: EgressEndpoint;
  /** Host folder of the agent CLIs the control plane installs, bound read-only at /opt/agents. */
  agentsDir?: string;
}

export class LocalDriver implements Driver {
  readonly name = "local";
  readonly stages = LOCAL_STAGES;
  readonly root: string;
  readonly #options: LocalDriverOptions;
  readonly #range: UidRange;
  readonly #log: (message: string) => void;
  readonly #claims: HostUidClaims;
  readonly #links = new LinkRegistry();
  readonly #sockets: LinkSockets;
  #hostFs?: HostFs;
  #cgroups?: CgroupSupport;
  /** Cached once bwrap works; a failure is not cached, so fixing the host needs no restart. */
  #bwrapPath?: string;
  /** Operations on one sandbox run one at a time in this process. */
  readonly #queue = new KeyedQueue();

  constructor(options: LocalDriverOptions) {
    if (!isAbsolute(options.root)) throw new DriverError("INVALID_SANDBOX_SPEC", `the sandboxes root must be an absolute path, not ${options.root}`);
    this.root = options.root;
    this.#options = options;
    this.#range = options.hostUidRange ?? DEFAULT_HOST_UID_RANGE;
    assertValidRange(this.#range);
    this.#log = options.log ?? (() => {});
    this.#claims = new HostUidClaims(dirname(options.root), options.hostUidClaimsDir, this.#range);
    this.#sockets = new LinkSockets(this.#links, this.#log, options.egress);
  }

  get #isRoot(): boolean {
    return this.#options.runningAsRoot ?? process.getuid?.() === 0;
  }

  /** What cgroups this host lets the driver use (probed once; creates `<mount>/outpost`). */
  cgroupSupport(): CgroupSupport {
    this.#cgroups ??= detectCgroups({ parent: this.#options.cgroupParent });
    return this.#cgroups;
  }

  validate(spec: SandboxSpec): void {
    validateSpec(spec, { path: (id) => sandboxPaths(this.root, id).linkSocket, maxBytes: MAX_SOCKET_PATH });
  }

  onLinkEvent(listener: (event: LinkEvent) => void): () => void {
    return this.#links.onEvent(listener);
  }

  async start(): Promise<void> {
    const ids = await this.list();
    if (this.#isRoot) {
      const released = this.#claims.releaseUnknown(new Set(ids));
      if (released.length) this.#log(`released host uid claims of sandboxes that no longer exist: ${released.join(", ")}`);
    }
    // Running sandboxes dial back as soon as their socket is there again.
    for (const id of ids) {
      const paths = sandboxPaths(this.root, id);
      if (this.#liveRuntime(paths) && existsSync(paths.linkToken)) await this.#sockets.listen(id, paths).catch((error) => this.#log(String(error)));
    }
  }

  async close(): Promise<void> {
    await this.#sockets.closeAll("the control plane is stopping");
    this.#links.closeAll("the control plane is stopping");
  }

  connect(sandboxId: string, options: ConnectOptions = {}): Promise<SupervisorLink> {
    return connectLink(this.#links, sandboxId, options);
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
      const recorded = readSpec(paths.specFile);
      const hostUid = recorded?.hostUid ?? this.#claims.findFor(sandboxId);
      const hostRootUid = recorded?.hostRootUid ?? this.#claims.findFor(sandboxId, "root");
      await this.#stop(sandboxId, paths, { signal, graceMs });
      const cgroups = this.cgroupSupport();
      if (cgroups.usable) await new SandboxCgroup(cgroups, sandboxId).remove({ signal, timeoutMs: this.#killTimeout });
      if (this.#isRoot) unmountRootfs(rootfsPaths(paths.dir));
      removeSandboxFolders(paths, keepWorkspace);
      // Last: only once nothing of the sandbox runs may its uids go to another sandbox.
      if (hostUid !== null && hostUid !== undefined) this.#claims.release(hostUid, sandboxId);
      if (hostRootUid !== null && hostRootUid !== undefined) this.#claims.release(hostRootUid, sandboxId);
    });
  }

  /** The image layers the sandboxes here were last started on (none may be removed while
   *  a sandbox may run on it: an overlay's lower layer is not a copy). */
  async imageLayersInUse(): Promise<string[]> {
    const layers = new Set<string>();
    for (const id of await this.list()) for (const layer of readSpec(sandboxPaths(this.root, id).specFile)?.image?.layers ?? []) layers.add(layer);
    return [...layers];
  }

  /** Moves a stopped image sandbox's writable layer to `target` (an environment's setup
   *  result, services/environments/builder.ts); the host uids its files carry. */
  takeWritableLayer(sandboxId: string, target: string): { rootUid: number; rootCount: number; userUid: number } {
    const paths = this.#pathsFor(sandboxId);
    const recorded = readSpec(paths.specFile);
    if (recorded?.hostRootUid === undefined || recorded.hostUid === undefined)
      throw new DriverError("INVALID_SANDBOX_SPEC", `sandbox ${sandboxId} has no image of its own`);
    if (this.#liveRuntime(paths)) throw new DriverError("SANDBOX_START_FAILED", `sandbox ${sandboxId} still runs; stop it first`);
    const rootfs = rootfsPaths(paths.dir);
    unmountRootfs(rootfs);
    renameSync(rootfs.upper, target);
    return { rootUid: recorded.hostRootUid, rootCount: ROOT_BLOCK_SIZE, userUid: recorded.hostUid };
  }

  async inspect(sandboxId: string): Promise<SandboxInspection> {
    const paths = this.#pathsFor(sandboxId);
    if (!existsSync(paths.specFile)) return { state: "missing", linked: false };
    const linked = this.#links.current(sandboxId) !== undefined;
    if (this.#liveRuntime(paths)) return { state: "running", linked };
    return { state: "stopped", linked, ...(existsSync(paths.runtimeFile) ? { lastExit: this.#lastExit(sandboxId, paths) } : {}) };
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

  async #ensure(spec: SandboxSpec, { onStage, signal }: EnsureOptions): Promise<SandboxHandle> {
    signal.throwIfAborted();
    const paths = sandboxPaths(this.root, spec.sandboxId);
    const stage = async <T>(name: LocalStage, work: () => Promise<{ value: T; message?: string }>): Promise<T> => {
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

    const { owner, outpostDir, rootUid } = await stage("workspace", async () => {
      this.#hostFs ??= probeHostFs();
      prepareRoot(this.root);
      const owner = this.#ownerFor(spec.sandboxId, paths);
      const rootUid = spec.image ? this.#rootUidFor(spec.sandboxId, paths, owner) : undefined;
      const adopted = spec.workspaceFrom ? adoptKeptWorkspace(sandboxPaths(this.root, spec.workspaceFrom), paths, owner) : false;
      prepareSandboxFolders(paths, owner);
      writeEtcFiles(paths.etc, etcFiles(spec.name, this.#hostFs.shell));
      const recorded: RecordedSpec = { ...spec, ...(owner ? { hostUid: owner.uid } : {}), ...(rootUid !== undefined ? { hostRootUid: rootUid } : {}) };
      writeJsonAtomic(paths.specFile, recorded);
      const outpostDir = typeof this.#options.outpostDir === "string" ? this.#options.outpostDir : this.#options.outpostDir(owner);
      assertReachable(owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, paths, outpostDir);
      return { value: { owner, outpostDir, rootUid }, message: adopted ? `${paths.dir} (workspace kept from ${spec.workspaceFrom})` : paths.dir };
    });

    const isolated = await stage<Isolated>("isolation", async () => {
      const cgroups = this.cgroupSupport();
      const cgroup = cgroups.usable ? new SandboxCgroup(cgroups, spec.sandboxId) : undefined;
      const applyLimits = (): Array<keyof SandboxLimits> => {
        if (!cgroup) return requestedLimits(spec.limits);
        cgroup.create();
        return cgroup.applyLimits(spec.limits);
      };
      let running = this.#liveRuntime(paths);
      if (running && existsSync(join(paths.dir, "run"))) {
        // Started by protocol 1 (its supervisor listens on <sandbox>/run and never dials):
        // restarted once, files kept.
        this.#log(`sandbox ${spec.sandboxId} runs the protocol 1 supervisor; restarting it once for protocol 2`);
        await this.#stop(spec.sandboxId, paths, { signal, graceMs: this.#options.stopGraceMs });
        forceRemove(join(paths.dir, "run"));
        running = null;
      }
      if (running) {
        // Adopt: listen again so its supervisor dials back; limits may have changed and
        // apply to a running cgroup.
        await this.#sockets.listen(spec.sandboxId, paths);
        const unenforced = applyLimits();
        // A control plane killed while starting an image sandbox may have left the host's
        // copy of its mounts; the sandbox has its own.
        if (this.#isRoot) unmountRootfs(rootfsPaths(paths.dir));
        return { value: { outcome: "adopted", runtime: running, unenforced }, message: `adopted (pid ${running.init.pid})` };
      }
      const bwrapPath = await this.#preflight(owner);
      // A launch interrupted before it was recorded, or a sandbox that ended on its own,
      // may have left processes behind; a fresh sandbox has nothing to sweep (the sweep
      // scans every process of the host).
      if (existsSync(paths.launchingFile) || existsSync(paths.runtimeFile))
        await this.#killEverything(spec.sandboxId, paths, readRuntime(paths.runtimeFile), signal);
      await this.#sockets.listen(spec.sandboxId, paths);
      const unenforced = applyLimits();
      // An image sandbox: its user namespace and root filesystem are made here, and the
      // host lets go of both once bwrap holds them (see rootfs/).
      let userns: HeldUserNamespace | undefined;
      const rootfs = rootfsPaths(paths.dir);
      let started: Awaited<ReturnType<typeof startSandbox>>;
      try {
        let image: { root: string; usernsFd: number } | undefined;
        if (spec.image && owner && rootUid !== undefined) {
          userns = await holdUserNamespace({ rootUid, rootCount: ROOT_BLOCK_SIZE, userUid: owner.uid }, { signal });
          image = { root: mountRootfs(rootfs, spec.image.layers, userns.fd, rootUid), usernsFd: USERNS_FD };
        }
        started = await startSandbox({
          sandboxId: spec.sandboxId,
          paths,
          bwrapPath,
          args: this.#argv(spec, paths, outpostDir, image),
          marker: sandboxMarker(this.root, spec.sandboxId),
          // Nested user namespaces stay refused in an image sandbox whatever the option:
          // its root holds capabilities that a nested namespace would widen.
          seccomp: seccompFilter({ allowNestedUserns: image ? false : this.#options.allowNestedUserns }),
          owner: image && rootUid !== undefined ? { uid: rootUid, gid: rootUid } : owner,
          usernsFd: userns?.fd,
          cgroup,
          signal,
        });
      } finally {
        if (userns) {
          unmountRootfs(rootfs);
          userns.release();
        }
      }
      const { runtime, launched } = started;
      const limitsNote = unenforced.length ? `; not enforced here: ${unenforced.join(", ")}` : "";
      this.#log(`sandbox ${spec.sandboxId} started: bwrap ${launched.bwrapPid}, init ${launched.childPid}`);
      return {
        value: { outcome: "started", runtime, launched, unenforced },
        message: `bwrap pid ${launched.bwrapPid}, init pid ${launched.childPid}; ${describeCgroups(cgroups)}${limitsNote}`,
      };
    });

    const link = await stage("supervisor", async () => {
      try {
        const link = await waitForSupervisor({
          sandboxId: spec.sandboxId,
          links: this.#links,
          runtime: isolated.runtime,
          launched: isolated.launched,
          logPath: paths.log,
          timeoutMs: this.#options.readyTimeoutMs ?? 30_000,
          signal,
        });
        return { value: link, message: `connected (protocol ${link.info.protocol}, supervisor ${link.info.supervisorVersion})` };
      } catch (error) {
        // A failed start leaves nothing running (bwrap reports the supervisor's exit while
        // the sandbox's pid-1 may still be on its way out).
        if (isDriverError(error, "SANDBOX_START_FAILED") || isDriverError(error, "SUPERVISOR_NOT_READY")) {
          await this.#sockets.close(spec.sandboxId, "the sandbox failed to start");
          await this.#killEverything(spec.sandboxId, paths, isolated.runtime, signal);
        }
        throw error;
      }
    });

    return {
      sandboxId: spec.sandboxId,
      outcome: isolated.outcome,
      link,
      unenforcedLimits: isolated.unenforced,
      driverState: { ...(owner ? { hostUid: owner.uid } : {}), ...(rootUid !== undefined ? { hostRootUid: rootUid } : {}), initPid: isolated.runtime.init.pid },
    };
  }

  async #stop(sandboxId: string, paths: SandboxPaths, { signal, graceMs }: StopOptions): Promise<void> {
    const runtime = readRuntime(paths.runtimeFile);
    if (runtime && isLive(runtime)) {
      const ended = await terminate(runtime, { signal, graceMs: graceMs ?? this.#options.stopGraceMs ?? 10_000 });
      if (!ended) this.#log(`sandbox ${sandboxId} ignored SIGTERM; killing it`);
    }
    await this.#sockets.close(sandboxId, "the sandbox was stopped");
    await this.#killEverything(sandboxId, paths, runtime, signal);
    forceRemove(paths.runtimeFile);
    forceRemove(paths.launchingFile);
  }

  /** The uid that owns this sandbox when we are root: the one recorded, else the one
   *  claimed before a kill, else a new machine-wide claim. */
  #ownerFor(sandboxId: string, paths: SandboxPaths): Owner | undefined {
    if (!this.#isRoot) return undefined;
    const recorded = readSpec(paths.specFile)?.hostUid;
    const uid = recorded !== undefined && isInRange(recorded, this.#range) ? recorded : (this.#claims.findFor(sandboxId) ?? this.#claims.claim(sandboxId, []));
    return { uid, gid: uid };
  }

  /** The second host uid of an image sandbox (root inside its user namespace); only as root:
   *  without it there is no user namespace of two ids to make. */
  #rootUidFor(sandboxId: string, paths: SandboxPaths, owner: Owner | undefined): number {
    if (!owner)
      throw new DriverError("INVALID_SANDBOX_SPEC", "image sandboxes need a control plane that runs as root; without it sandboxes use the host's /usr", {
        details: { field: "image" },
      });
    const recorded = readSpec(paths.specFile)?.hostRootUid;
    if (recorded !== undefined && isInRange(recorded, this.#range)) return recorded;
    return this.#claims.findFor(sandboxId, "root") ?? this.#claims.claimBlock(sandboxId, ROOT_BLOCK_SIZE, "root", [owner.uid]);
  }

  /** Why a sandbox that was running is not any more (its supervisor exited, the OOM killer). */
  #lastExit(sandboxId: string, paths: SandboxPaths): { reason: string; oomKilled: boolean } {
    const cgroups = this.cgroupSupport();
    return describeLastExit(readExitStatus(paths.statusFile), cgroups.usable ? new SandboxCgroup(cgroups, sandboxId).oomKills() : 0);
  }

  #exclusive<T>(sandboxId: string, work: () => Promise<T>): Promise<T> {
    return this.#queue.run(sandboxId, work);
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

  #argv(spec: SandboxSpec, paths: SandboxPaths, outpostDir: string, image?: { root: string; usernsFd: number }): string[] {
    return bwrapArgs({
      hostname: spec.name,
      sandboxId: spec.sandboxId,
      paths,
      outpostDir,
      host: this.#hostFs ?? probeHostFs(),
      infoFd: INFO_FD,
      blockFd: BLOCK_FD,
      seccompFd: SECCOMP_FD,
      statusFd: STATUS_FD,
      allowNestedUserns: this.#options.allowNestedUserns,
      egress: this.#options.egress !== undefined,
      agentsDir: this.#options.agentsDir,
      image,
      ...tmpfsSizes(spec.limits?.memoryBytes),
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

  /** Kills whatever is left of the sandbox (kill.ts), with its own host uid for the last sweep. */
  async #killEverything(sandboxId: string, paths: SandboxPaths, runtime: RuntimeInfo | null, signal: AbortSignal): Promise<void> {
    const recorded = this.#isRoot ? readSpec(paths.specFile) : null;
    const hostUids = recorded?.hostUid === undefined ? [] : [recorded.hostUid];
    if (recorded?.hostRootUid !== undefined) for (let uid = recorded.hostRootUid; uid < recorded.hostRootUid + ROOT_BLOCK_SIZE; uid++) hostUids.push(uid);
    const context = { root: this.root, cgroups: this.cgroupSupport(), hostUids, uidRange: this.#range, killTimeoutMs: this.#killTimeout, log: this.#log };
    await killEverything(context, sandboxId, runtime, signal);
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

function requestedLimits(limits: SandboxLimits = {}): Array<keyof SandboxLimits> {
  return (Object.keys(limits) as Array<keyof SandboxLimits>).filter((key) => limits[key] !== undefined);
}
