// The seam between the control plane and the machines that run sandboxes. A driver only
// knows how to make a sandbox exist on its substrate and how to reach its supervisor; it
// knows nothing about projects, users or agents, and nothing outside a driver's folder
// knows about its sockets, pids, host uids or namespaces. Every method is idempotent, so
// the reconciler can call it again after being killed at any line. The same behaviour is
// asserted for every driver by test/drivers/conformance/.
// Types only: no behaviour lives here.
import type { Socket } from "node:net";
import type { SupervisorClient } from "../supervisor/client.ts";
import type { LinkEvent } from "../supervisor/link/registry.ts";
import type { LinkInfo } from "../supervisor/link/session.ts";

/**
 * The control plane's side of a sandbox's way out (egress proxy, model gateway, ssh agent,
 * project database), which a driver connects its sandboxes to: the local driver by unix
 * sockets in each sandbox's link folder, the Kubernetes driver by bridged connections to its
 * link endpoint. Either way the driver knows which sandbox a connection belongs to.
 */
export interface EgressEndpoint {
  accept(kind: "proxy" | "gateway" | "ssh-agent" | "database", sandboxId: string, socket: Socket): void;
  /** The installation CA (for intercepted credential hosts). */
  caPem: string;
  /** The host's CA bundle plus the installation CA. */
  caBundlePem: string;
}

/** What the control plane asks for. Units: cpus in cores (0.5 = half a core), bytes, processes. */
export interface SandboxSpec {
  /** Opaque id (`sbx_…`): names the sandbox's compute and storage on the substrate. */
  sandboxId: string;
  /** DNS label; becomes the sandbox's hostname. */
  name: string;
  limits?: SandboxLimits;
  /** Id of a deleted sandbox whose kept workspace this one takes over on its first ensure. */
  workspaceFrom?: string;
  /** The sandbox's own root filesystem (an environment's image and its setup), instead of
   *  the substrate's default. Local driver: folders on this host, bottom layer first, each
   *  with the ids of an image (root 0, the sandbox user 1000); the sandbox gets a writable
   *  layer of its own over them and a root inside. */
  image?: SandboxImage;
}

export interface SandboxImage {
  /** Names the image for people and logs (e.g. "env_…@<hash>"). */
  id: string;
  layers: string[];
}

export interface SandboxLimits {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
}

/** Stage names are the driver's own (listed in Driver.stages and documented per driver). */
export type StageState = "running" | "done" | "failed";

export interface EnsureOptions {
  onStage(stage: string, state: StageState, message?: string): void;
  signal: AbortSignal;
}

/** A live connection to a sandbox's supervisor. */
export interface SupervisorLink {
  client: SupervisorClient;
  info: LinkInfo;
}

/** What ensure() hands back once the supervisor is connected. */
export interface SandboxHandle {
  sandboxId: string;
  /** "started" when this call launched it, "adopted" when it was already running. */
  outcome: "started" | "adopted";
  link: SupervisorLink;
  /** Limits that the substrate could not enforce (e.g. no cgroups when not root), by name. */
  unenforcedLimits: Array<keyof SandboxLimits>;
  /** The driver's own record of this sandbox (host uid, pod name…), kept by the control
   *  plane for people to look at; the driver never depends on getting it back. */
  driverState: Record<string, unknown>;
}

export type SandboxState = "running" | "stopped" | "missing";

export interface SandboxInspection {
  state: SandboxState;
  /** Whether this control plane holds a link to its supervisor right now. */
  linked: boolean;
  /** Why the sandbox last ended on its own, when the driver knows (e.g. "out of memory"). */
  lastExit?: { reason: string; oomKilled: boolean };
}

export interface StopOptions {
  signal: AbortSignal;
  /** How long the supervisor gets after SIGTERM before everything is killed (ms, default 10 000). */
  graceMs?: number;
}

export interface RemoveOptions {
  /** Keep the workspace (the repository) on its volume; everything else goes. */
  keepWorkspace: boolean;
  signal: AbortSignal;
  graceMs?: number;
}

export interface ConnectOptions {
  signal?: AbortSignal;
  /** How long to wait for a supervisor that is not connected (yet); default 5 000 ms. */
  timeoutMs?: number;
}

export interface Driver {
  readonly name: string;
  /** The stages ensure() reports, in order (documented per driver in docs/). */
  readonly stages: readonly string[];
  /** Throws a DriverError on a bad spec. No I/O. */
  validate(spec: SandboxSpec): void;
  /** Creates storage if missing, starts the sandbox if not running, adopts it if running;
   *  resolves once its supervisor is connected and answers. */
  ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle>;
  /** The sandbox's supervisor link, waiting (bounded) when it is not connected yet;
   *  rejects with code SUPERVISOR_UNAVAILABLE when it does not come. */
  connect(sandboxId: string, options?: ConnectOptions): Promise<SupervisorLink>;
  /** Processes end, files stay. */
  stop(sandboxId: string, options: StopOptions): Promise<void>;
  /** Compute and storage go (the workspace is kept if asked); afterwards nothing of the
   *  sandbox runs. */
  remove(sandboxId: string, options: RemoveOptions): Promise<void>;
  inspect(sandboxId: string): Promise<SandboxInspection>;
  /** Ids of the sandboxes that exist on this substrate (for adoption and orphans). */
  list(): Promise<string[]>;
  /** Links coming up, going down, or refused (wrong sandbox, token, protocol). */
  onLinkEvent(listener: (event: LinkEvent) => void): () => void;
  /** Called once at control-plane start, before any ensure: tidy what a kill left behind
   *  and start accepting links of running sandboxes. */
  start(): Promise<void>;
  /** Stops accepting links (control-plane shutdown); sandboxes keep running. */
  close(): Promise<void>;
}
