// The seam between the control plane and the machines that run sandboxes. A driver only
// knows how to make a sandbox exist on its substrate and how to reach its supervisor; it
// knows nothing about projects, users or agents. Every method is idempotent, so the
// reconciler can call it again after being killed at any line.
// Types only: no behaviour lives here.

/** What the control plane asks for. Units: cpus in cores (0.5 = half a core), bytes, processes. */
export interface SandboxSpec {
  /** Opaque id (`sbx_…`): names the sandbox's folders, cgroups and runtime files. */
  sandboxId: string;
  /** DNS label; becomes the sandbox's hostname. */
  name: string;
  /** Set when the control plane runs as root: an unprivileged host uid from a reserved
   *  range that owns this sandbox's folders and processes (one uid per sandbox). */
  hostUid?: number;
  /** Defaults to hostUid. */
  hostGid?: number;
  limits?: SandboxLimits;
  /** Id of a deleted sandbox whose kept workspace this one takes over on its first ensure
   *  (the folder is moved, then re-owned by this sandbox's host uid). */
  workspaceFrom?: string;
}

export interface SandboxLimits {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
}

export type StageName = "workspace" | "isolation" | "supervisor";
export type StageState = "running" | "done" | "failed";

export interface EnsureOptions {
  onStage(stage: StageName, state: StageState, message?: string): void;
  signal: AbortSignal;
}

/** What ensure() hands back once the supervisor answers. */
export interface SandboxHandle {
  sandboxId: string;
  /** "started" when this call launched it, "adopted" when it was already running. */
  outcome: "started" | "adopted";
  /** Host pid of the sandbox's pid-namespace init (killing it ends every process inside). */
  pid?: number;
  /** Local driver: the unix socket of the supervisor on the host. */
  supervisorSocket: string;
  /** `protocol` from the supervisor's GET /v1/health, for the control plane to check. */
  supervisorProtocol?: number;
  /** Limits that the host could not enforce (e.g. no cgroups when not root), by name. */
  unenforcedLimits: Array<keyof SandboxLimits>;
}

export type SandboxState = "running" | "stopped" | "missing";

export interface SandboxInspection {
  state: SandboxState;
  pid?: number;
  supervisorSocket?: string;
}

export interface StopOptions {
  signal: AbortSignal;
  /** How long the supervisor gets after SIGTERM before everything is killed (ms, default 10 000). */
  graceMs?: number;
}

export interface RemoveOptions {
  /** Keep the workspace folder (the repository) on disk; everything else goes. */
  keepWorkspace: boolean;
  signal: AbortSignal;
  graceMs?: number;
}

export interface Driver {
  readonly name: "local" | "kubernetes";
  /** Throws a DriverError on a bad spec. No I/O. */
  validate(spec: SandboxSpec): void;
  /** Creates folders if missing, starts the sandbox if not running, adopts it if running;
   *  resolves once the supervisor answers. */
  ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle>;
  /** Processes end, files stay. */
  stop(sandboxId: string, options: StopOptions): Promise<void>;
  /** Compute and folders go (the workspace is kept if asked); afterwards no process of
   *  the sandbox is left on the host. */
  remove(sandboxId: string, options: RemoveOptions): Promise<void>;
  inspect(sandboxId: string): Promise<SandboxInspection>;
  /** Ids of the sandboxes that exist on this substrate (for adoption after a restart). */
  list(): Promise<string[]>;
  /** Where the control plane reaches the supervisor. */
  supervisorSocket(sandboxId: string): string;
}
