// An in-memory Driver for tests of what sits above the driver seam (reconciler, services,
// API) and a second subject for the conformance suite: no bwrap, no host uids, no
// isolation at all. Each sandbox is the REAL supervisor bundle (dist/supervisor.js) run by
// this Node as a plain child process, linked back through the real link code (a per-sandbox
// unix socket served by LinkSockets, hellos checked by acceptLink, sessions in a
// LinkRegistry), so a test above the seam talks to a real supervisor exactly as in
// production. What the driver knows lives in memory; each sandbox's files (workspace,
// home, state, link) live in a temporary folder, removed by dispose().
// Fault injection: failNextEnsure(id, error) and crash(id) (SIGKILL: the compute is gone).
// Limits: processes are found through the supervisor's process tree, so one that left it
// (a double fork) outlives stop(); nothing is enforced (limits are reported unenforced).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  ConnectOptions,
  Driver,
  EnsureOptions,
  RemoveOptions,
  SandboxHandle,
  SandboxInspection,
  SandboxSpec,
  StopOptions,
  SupervisorLink,
} from "../../src/drivers/driver.ts";
import { DriverError } from "../../src/drivers/errors.ts";
import { MAX_SOCKET_PATH } from "../../src/drivers/local/layout.ts";
import { LinkSockets } from "../../src/drivers/local/link-sockets.ts";
import { pollUntil } from "../../src/drivers/local/poll.ts";
import { descendantsOf, identityOf, isRunning, signalPid } from "../../src/drivers/local/processes.ts";
import { SANDBOX_ID, validateSpec } from "../../src/drivers/validate-spec.ts";
import { packageRoot } from "../../src/package-root.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import { type LinkEvent, LinkRegistry } from "../../src/supervisor/link/registry.ts";

export const FAKE_STAGES = ["process", "supervisor"] as const;
const SUPERVISOR_BUNDLE = join(packageRoot(), "dist", "supervisor.js");

export interface FakeDriverOptions {
  /** How long ensure() waits for the supervisor to connect (ms); default 20 000. */
  readyTimeoutMs?: number;
}

interface FakeSandbox {
  spec: SandboxSpec;
  dir: string;
  child?: ChildProcess;
  /** How the last supervisor ended on its own (a crash(), or any exit stop() did not ask for). */
  lastExit?: { reason: string; oomKilled: boolean };
  stopping?: boolean;
}

const folders = (dir: string) => ({
  workspace: join(dir, "workspace"),
  home: join(dir, "home"),
  state: join(dir, "state"),
  linkSocket: join(dir, "link", "link.sock"),
  linkToken: join(dir, "link", "token"),
  log: join(dir, "supervisor.log"),
});

export class FakeDriver implements Driver {
  readonly name = "fake";
  readonly stages = FAKE_STAGES;
  /** Parent of every sandbox's folder (a fresh temporary folder). */
  readonly root: string;
  readonly #links = new LinkRegistry();
  readonly #sockets = new LinkSockets(this.#links, () => {});
  readonly #sandboxes = new Map<string, FakeSandbox>();
  readonly #failures = new Map<string, Error>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #readyTimeoutMs: number;

  constructor(options: FakeDriverOptions = {}) {
    if (!existsSync(SUPERVISOR_BUNDLE)) throw new Error(`${SUPERVISOR_BUNDLE} is missing: run npm run build`);
    this.root = mkdtempSync(join(tmpdir(), "outpost-fake-driver-"));
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  }

  // ---- fault injection

  /** The next ensure of this sandbox fails with `error` before it starts anything. */
  failNextEnsure(sandboxId: string, error: Error): void {
    this.#failures.set(sandboxId, error);
  }

  /** SIGKILLs the sandbox's supervisor and everything it started: the compute is gone, the
   *  files stay, and the driver is not told (like a machine losing a process). */
  async crash(sandboxId: string): Promise<void> {
    const sandbox = this.#sandboxes.get(sandboxId);
    if (sandbox?.child) await killTree(sandbox.child, "SIGKILL", 0);
  }

  /** The supervisor's host pid, while one runs. */
  supervisorPid(sandboxId: string): number | undefined {
    const child = this.#sandboxes.get(sandboxId)?.child;
    return child && isAlive(child) ? child.pid : undefined;
  }

  /** Kills every sandbox and deletes the temporary folder (end of a test). */
  async dispose(): Promise<void> {
    await this.close();
    await Promise.all([...this.#sandboxes.values()].map((sandbox) => (sandbox.child ? killTree(sandbox.child, "SIGKILL", 0) : undefined)));
    this.#sandboxes.clear();
    rmSync(this.root, { recursive: true, force: true });
  }

  // ---- Driver

  validate(spec: SandboxSpec): void {
    validateSpec(spec, { path: (id) => folders(join(this.root, id)).linkSocket, maxBytes: MAX_SOCKET_PATH });
  }

  async ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle> {
    this.validate(spec);
    return this.#exclusive(spec.sandboxId, () => this.#ensure(spec, options));
  }

  async connect(sandboxId: string, options: ConnectOptions = {}): Promise<SupervisorLink> {
    this.#checkId(sandboxId);
    const session = await this.#links.wait(sandboxId, { signal: options.signal, timeoutMs: options.timeoutMs ?? 5000 });
    return { client: new SupervisorClient({ transport: session }), info: session.info };
  }

  async stop(sandboxId: string, options: StopOptions): Promise<void> {
    this.#checkId(sandboxId);
    return this.#exclusive(sandboxId, () => this.#stop(sandboxId, options));
  }

  async remove(sandboxId: string, options: RemoveOptions): Promise<void> {
    this.#checkId(sandboxId);
    return this.#exclusive(sandboxId, async () => {
      const sandbox = this.#sandboxes.get(sandboxId);
      if (!sandbox) return;
      await this.#stop(sandboxId, { signal: options.signal, graceMs: options.graceMs });
      const paths = folders(sandbox.dir);
      for (const path of [paths.home, paths.state, join(sandbox.dir, "link"), paths.log]) rmSync(path, { recursive: true, force: true });
      if (!options.keepWorkspace) rmSync(sandbox.dir, { recursive: true, force: true });
      this.#sandboxes.delete(sandboxId);
    });
  }

  async inspect(sandboxId: string): Promise<SandboxInspection> {
    this.#checkId(sandboxId);
    const sandbox = this.#sandboxes.get(sandboxId);
    if (!sandbox) return { state: "missing", linked: false };
    const linked = this.#links.current(sandboxId) !== undefined;
    if (sandbox.child && isAlive(sandbox.child)) return { state: "running", linked };
    return { state: "stopped", linked, ...(sandbox.lastExit ? { lastExit: sandbox.lastExit } : {}) };
  }

  async list(): Promise<string[]> {
    return [...this.#sandboxes.keys()].sort();
  }

  onLinkEvent(listener: (event: LinkEvent) => void): () => void {
    return this.#links.onEvent(listener);
  }

  /** Nothing survives this driver's process, but after close() running sandboxes may be
   *  listened for again. */
  async start(): Promise<void> {
    for (const [id, sandbox] of this.#sandboxes) {
      if (sandbox.child && isAlive(sandbox.child)) await this.#sockets.listen(id, folders(sandbox.dir));
    }
  }

  async close(): Promise<void> {
    await this.#sockets.closeAll("the control plane is stopping");
    this.#links.closeAll("the control plane is stopping");
  }

  // ---- internals

  async #ensure(spec: SandboxSpec, { onStage, signal }: EnsureOptions): Promise<SandboxHandle> {
    signal.throwIfAborted();
    const stage = async <T>(name: (typeof FAKE_STAGES)[number], work: () => Promise<T>): Promise<T> => {
      onStage(name, "running");
      try {
        const value = await work();
        onStage(name, "done");
        return value;
      } catch (error) {
        onStage(name, "failed", (error as Error).message);
        throw error;
      }
    };

    const { sandbox, outcome } = await stage("process", async () => {
      const injected = this.#failures.get(spec.sandboxId);
      if (injected) {
        this.#failures.delete(spec.sandboxId);
        throw injected;
      }
      const sandbox = this.#sandboxes.get(spec.sandboxId) ?? { spec, dir: join(this.root, spec.sandboxId) };
      sandbox.spec = spec;
      this.#prepareFolders(sandbox, spec);
      this.#sandboxes.set(spec.sandboxId, sandbox);
      await this.#sockets.listen(spec.sandboxId, folders(sandbox.dir));
      if (sandbox.child && isAlive(sandbox.child)) return { sandbox, outcome: "adopted" as const };
      sandbox.child = this.#spawnSupervisor(sandbox);
      sandbox.lastExit = undefined;
      return { sandbox, outcome: "started" as const };
    });

    const link = await stage("supervisor", async () => {
      const child = sandbox.child as ChildProcess;
      let onExit = () => {};
      const exited = new Promise<never>((_resolve, reject) => {
        onExit = () => reject(new DriverError("SANDBOX_START_FAILED", `the supervisor exited before it connected (see ${folders(sandbox.dir).log})`));
        if (!isAlive(child)) onExit();
        child.once("exit", onExit);
      });
      exited.catch(() => {});
      try {
        const session = await Promise.race([this.#links.wait(spec.sandboxId, { signal, timeoutMs: this.#readyTimeoutMs }), exited]);
        const link = { client: new SupervisorClient({ transport: session }), info: session.info };
        await Promise.race([link.client.assertCompatible(signal), exited]);
        return link;
      } catch (error) {
        if (signal.aborted || error instanceof DriverError) throw error;
        // Like the local driver: a failed start leaves nothing running.
        await killTree(child, "SIGKILL", 0);
        throw new DriverError("SUPERVISOR_NOT_READY", `the supervisor did not connect and answer: ${(error as Error).message}`);
      } finally {
        child.off("exit", onExit);
      }
    });

    return {
      sandboxId: spec.sandboxId,
      outcome,
      link,
      unenforcedLimits: (Object.keys(spec.limits ?? {}) as Array<keyof NonNullable<SandboxSpec["limits"]>>).filter((key) => spec.limits?.[key] !== undefined),
      driverState: { supervisorPid: sandbox.child?.pid },
    };
  }

  #prepareFolders(sandbox: FakeSandbox, spec: SandboxSpec): void {
    const paths = folders(sandbox.dir);
    // A removed sandbox's kept workspace moves over when this one has none yet (its first
    // ensure), like the local driver's.
    if (spec.workspaceFrom && !this.#sandboxes.has(spec.workspaceFrom)) {
      const kept = folders(join(this.root, spec.workspaceFrom)).workspace;
      if (existsSync(kept) && !existsSync(paths.workspace)) {
        mkdirSync(sandbox.dir, { recursive: true });
        renameSync(kept, paths.workspace);
        rmSync(join(this.root, spec.workspaceFrom), { recursive: true, force: true });
      }
    }
    for (const path of [paths.workspace, paths.home, paths.state, join(sandbox.dir, "link")]) mkdirSync(path, { recursive: true, mode: 0o700 });
    if (!existsSync(paths.linkToken)) writeFileSync(paths.linkToken, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
  }

  #spawnSupervisor(sandbox: FakeSandbox): ChildProcess {
    const paths = folders(sandbox.dir);
    const log = openSync(paths.log, "a", 0o600);
    try {
      // biome-ignore format: one option and its value per line
      const child = spawn(process.execPath, [
        SUPERVISOR_BUNDLE,
        "--link", paths.linkSocket,
        "--token-file", paths.linkToken,
        "--sandbox-id", sandbox.spec.sandboxId,
        "--state", paths.state,
        "--workspace", paths.workspace,
        "--kill-grace-ms", "1000",
      ], {
        cwd: paths.workspace,
        // Its own process group, so a Ctrl-C of the test run is not delivered to it twice.
        detached: true,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: paths.home, LANG: "C.UTF-8" },
        stdio: ["ignore", log, log],
      });
      child.unref();
      child.once("exit", (code, signal) => {
        if (sandbox.child === child && !sandbox.stopping)
          sandbox.lastExit = { reason: `the supervisor ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`, oomKilled: false };
      });
      return child;
    } finally {
      closeSync(log);
    }
  }

  async #stop(sandboxId: string, { graceMs }: StopOptions): Promise<void> {
    const sandbox = this.#sandboxes.get(sandboxId);
    if (sandbox?.child && isAlive(sandbox.child)) {
      sandbox.stopping = true;
      try {
        await killTree(sandbox.child, "SIGTERM", graceMs ?? 10_000);
      } finally {
        sandbox.stopping = false;
      }
      sandbox.lastExit = undefined;
    }
    await this.#sockets.close(sandboxId, "the sandbox was stopped");
  }

  #checkId(sandboxId: string): void {
    if (!SANDBOX_ID.test(sandboxId))
      throw new DriverError("INVALID_SANDBOX_SPEC", `sandbox id '${sandboxId}' is not valid`, { details: { field: "sandboxId" } });
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
}

const isAlive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Signals the supervisor (which stops its own processes on SIGTERM), then SIGKILLs it
 *  and whatever it left after `graceMs`, and waits for its exit. */
async function killTree(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isAlive(child) || !child.pid) return;
  const pid = child.pid;
  // Unreferenced since spawn (sandboxes must not hold the test process open); waiting for
  // its exit needs it referenced, or an otherwise idle event loop ends before the exit.
  child.ref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Its commands run in process groups of their own and are re-parented once it is gone:
  // find them first, and kill them later only by identity (a pid may be reused meanwhile).
  const family = descendantsOf(pid)
    .map(identityOf)
    .filter((identity) => identity !== null);
  signalPid(pid, signal);
  if (signal !== "SIGKILL") {
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([exited, graceOver]);
    clearTimeout(timer);
  }
  if (isAlive(child)) signalPid(pid, "SIGKILL");
  for (const identity of family) if (isRunning(identity)) signalPid(identity.pid, "SIGKILL");
  await exited;
  // A SIGKILLed process takes a moment to be gone; "stopped" must mean nothing runs.
  await pollUntil(() => (family.some(isRunning) ? undefined : true), { signal: AbortSignal.timeout(5000), timeoutMs: 5000 });
}
