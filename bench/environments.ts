// The `environments` group (issue 20): what environments cost the local driver, on the built
// control plane (`node bin/outpost.js serve`, fresh data dir, pools topped up every 200 ms,
// Debian roots copied from OUTPOST_DEBIAN_ROOT_CACHE when it has one). In one run:
//   create → first command  POST …/sandboxes, the `running` event on GET /api/v1/events,
//           POST …/exec `true` answering exit 0; from a warm pool (pool size 1, full before
//           each create, not timed) and cold (pool size 0), on the host image and on
//           debian:bookworm (built once before, not timed); in turn with two baselines: a
//           bare `bwrap --ro-bind / / --dev /dev --proc /proc true` and the sandboxes' Node in
//           the same bwrap (`node -e 0`), spawn to exit. Where the time goes: each sandbox's
//           stages (startedAt/endedAt), medians per stage and gap (bench/environments/create.ts)
//   setup cache  a Debian environment with a trivial setup (`true`): create → running of a
//           first project's sandbox (a miss: a build sandbox runs the script, its layer is
//           kept) and of a second project's (a hit: the layer is there); the setup text is
//           changed between rounds, so each round has one miss
//   idle pool memory  PSS of the members' process trees of a full pool of P on each image
// Sizes: OUTPOST_BENCH_ENV_CREATES (default 10 per kind), OUTPOST_BENCH_ENV_POOL (default 5),
// OUTPOST_BENCH_ENV_SETUP_ROUNDS (default 3). Each sandbox is deleted after its measure (not
// timed); at the end the pools are emptied, and on failure or Ctrl-C a cleanup deletes what
// is left, stops the control plane, then kills any process of the run's sandboxes.
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { type CreateMeasure, createToCommand, createToRunning, type Segment } from "./environments/create.ts";
import { PhaseWatch } from "./environments/events.ts";
import { buildEnvironment, driverSandboxes, type PoolMemory, poolMemory, waitEmpty, waitWarm } from "./environments/pool.ts";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { envInt } from "./lib/env.ts";
import { benchDataDir, type ControlPlane, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { commandOutput, firstLine, timedSpawn } from "./lib/peers.ts";
import { killSandboxes, leftoverPids } from "./lib/sandbox-processes.ts";
import { describe, type Log, Tracker } from "./sandboxes/tracker.ts";

export const ENVIRONMENTS_OPTION_ENV = ["OUTPOST_BENCH_ENV_CREATES", "OUTPOST_BENCH_ENV_POOL", "OUTPOST_BENCH_ENV_SETUP_ROUNDS"];

export interface EnvironmentsOptions {
  /** Timed creates of each kind (warm/cold × host/Debian). */
  creates: number;
  /** Members of the idle pool whose memory is read, per image. */
  pool: number;
  /** Setup-cache rounds: a changed setup, then a miss and a hit. */
  setupRounds: number;
}

export function environmentsBenchOptions(): EnvironmentsOptions {
  return {
    creates: envInt("OUTPOST_BENCH_ENV_CREATES", 10, 1),
    pool: envInt("OUTPOST_BENCH_ENV_POOL", 5, 1),
    setupRounds: envInt("OUTPOST_BENCH_ENV_SETUP_ROUNDS", 3, 1),
  };
}

/** Where a Debian root is kept between runs (CI's path); the bench only reads it. */
const DEBIAN_ROOT_CACHE = process.env.OUTPOST_DEBIAN_ROOT_CACHE || "/var/cache/outpost-ci/debian-roots";
const DEBIAN = "debian:bookworm";
const SETTLE_MS = 3_000;

/** The kinds of create, each an environment and a project of the same name. Projects make
 *  no database of their own (its stage is the project's cost, not the environment's), but
 *  for one kind that shows what a database adds to a warm create. */
export const KINDS = [
  { key: "hostWarm", label: "warm pool, host image", image: "host", poolSize: 1, database: "none" },
  { key: "hostCold", label: "cold, host image", image: "host", poolSize: 0, database: "none" },
  { key: "debianWarm", label: `warm pool, ${DEBIAN}`, image: DEBIAN, poolSize: 1, database: "none" },
  { key: "debianCold", label: `cold, ${DEBIAN}`, image: DEBIAN, poolSize: 0, database: "none" },
  { key: "hostWarmDatabase", label: "warm pool, host image, + project database", image: "host", poolSize: 1, database: "postgres" },
] as const;
export type CreateKind = (typeof KINDS)[number]["key"];
const envName = (kind: CreateKind) => kind.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface SetupMeasure {
  runningMs: number;
  segments: Segment[];
  /** The environment stage's message: "…: built (key)" or "…: cached (key)". */
  message?: string;
}

export interface EnvironmentsResults {
  options: EnvironmentsOptions;
  bwrapVersion: string;
  sandboxNodeVersion: string;
  planeStartMs?: number;
  /** The Debian image built once before timing (debootstrap root copied from the cache, or made). */
  imageBuild?: { ms: number; cached: boolean };
  creates: Record<CreateKind, CreateMeasure[]>;
  baselines: { bwrapTrue: number[]; bwrapNode: number[] };
  setup: { miss: SetupMeasure[]; hit: SetupMeasure[] };
  memory: { host?: PoolMemory; debian?: PoolMemory };
  /** Processes of this run's sandboxes alive after the control plane stopped (should be 0). */
  leftovers: number;
  load: { before: number; after: number };
  failures: string[];
}

const BARE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
const SANDBOX_NODE = join(REPO_ROOT, "dist", "opt-outpost", "bin", "node");
const BASELINES = { bwrapTrue: [...BARE, "true"], bwrapNode: [...BARE, SANDBOX_NODE, "-e", "0"] } as const;

/** Resolves once `serve` printed its banner: /readyz answers 200 as soon as the API listens,
 *  before the environments' start (which fails every build then in flight as cut short by a
 *  stop) and the warm pool's; a build asked for in between would fail. */
function fullyStarted(plane: ControlPlane, timeoutMs = 120_000): Promise<void> {
  const banner = "Outpost is running at";
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      plane.child.stderr?.off("data", check);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      if (plane.output().includes(banner)) done();
    };
    const timer = setTimeout(() => done(new Error(`no start banner within ${timeoutMs} ms:\n${plane.output()}`)), timeoutMs);
    plane.child.stderr?.on("data", check);
    void plane.exited.then(() => done(new Error(`the control plane exited during its start:\n${plane.output()}`)));
    check();
  });
}

async function baseline(which: keyof typeof BASELINES, into: number[] | undefined): Promise<void> {
  // A clean environment: the host's NODE_* variables would change what Node does at start.
  const result = await timedSpawn("bwrap", BASELINES[which], { env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" } });
  if (result.code !== 0) throw new Error(`baseline ${which}: bwrap exited with ${result.code ?? result.signal}: ${firstLine(result.stderr)}`);
  into?.push(result.ms);
}

export async function benchEnvironments(options: EnvironmentsOptions, log: Log): Promise<EnvironmentsResults> {
  if (!existsSync(SANDBOX_NODE)) throw new Error("dist/opt-outpost is missing: run `npm run build` first (npm run bench does)");
  const results: EnvironmentsResults = {
    options,
    bwrapVersion: (await commandOutput("bwrap", ["--version"])) || "?",
    sandboxNodeVersion: (await commandOutput(SANDBOX_NODE, ["--version"])) || "?",
    creates: { hostWarm: [], hostCold: [], debianWarm: [], debianCold: [], hostWarmDatabase: [] },
    baselines: { bwrapTrue: [], bwrapNode: [] },
    setup: { miss: [], hit: [] },
    memory: {},
    leftovers: 0,
    load: { before: loadavg()[0]!, after: 0 },
    failures: [],
  };
  const dataDir = benchDataDir("outpost-bench-env-");
  const { plane, ms } = await startTimed(dataDir, {
    OUTPOST_POOL_CHECK_MS: "200",
    OUTPOST_DEBIAN_ROOT_CACHE: DEBIAN_ROOT_CACHE,
    // Room for the pools and the measured sandboxes: limits are ceilings, idle members far below.
    OUTPOST_MAX_SANDBOXES: "64",
    OUTPOST_MAX_SANDBOX_MEMORY_MB: String(64 * 4096),
  });
  await fullyStarted(plane);
  results.planeStartMs = ms;
  const api = new OutpostApi(plane.url, readFileSync(join(dataDir, "admin-token"), "utf8").trim());
  const watch = new PhaseWatch();
  const run = new Tracker();
  const environments: string[] = [];

  // Pools first (their members are no project's: only their size brings them down), then the
  // project sandboxes; both through the API while the control plane runs, whose own cleanup
  // comes after this one. Then whatever process of this run's sandboxes survived is killed.
  const emptyEverything = async () => {
    for (const name of environments) await api.call("PATCH", `/api/v1/environments/${name}`, { poolSize: 0 }).catch(() => {});
    const live = run.live();
    await Promise.allSettled(live.map((id) => api.call("DELETE", `/api/v1/sandboxes/${id}`)));
    for (const name of environments) await waitEmpty(api, new Tracker(), name).catch(() => {});
    const deadline = Date.now() + 60_000;
    for (const id of live) {
      while (Date.now() < deadline && (await api.call<{ phase: string }>("GET", `/api/v1/sandboxes/${id}`).catch(() => undefined))?.body.phase !== "deleted") {
        await sleep(100);
      }
    }
  };
  const cleanupDone = deferCleanup("sandboxes and pools of the environments bench", async () => {
    run.stopping = true;
    watch.close();
    const ids = new Set([...run.created, ...driverSandboxes(dataDir)]);
    if (plane.child.exitCode === null) await emptyEverything();
    for (const id of driverSandboxes(dataDir)) ids.add(id);
    await stopGracefully(plane).catch(() => {});
    const killed = await killSandboxes([...ids]);
    if (killed.length) process.stderr.write(`bench: killed ${killed.length} leftover process(es) of this run's sandboxes\n`);
    api.close();
  });

  try {
    await watch.open(plane.url, api.token);
    log(`control plane ready in ${ms.toFixed(0)} ms; event stream open`);

    // The Debian image, built once through an environment that keeps no pool.
    for (const kind of KINDS.filter((k) => k.poolSize === 0)) {
      await api.expect(201, "POST", "/api/v1/environments", { name: envName(kind.key), image: kind.image, poolSize: 0 });
      environments.push(envName(kind.key));
    }
    log(`building ${DEBIAN} (not timed; from ${DEBIAN_ROOT_CACHE} when it holds one)`);
    results.imageBuild = await buildEnvironment(api, run, envName("debianCold"));
    for (const kind of KINDS.filter((k) => k.poolSize > 0)) {
      await api.expect(201, "POST", "/api/v1/environments", { name: envName(kind.key), image: kind.image, poolSize: kind.poolSize });
      environments.push(envName(kind.key));
    }
    for (const kind of KINDS) {
      await api.expect(201, "POST", "/api/v1/projects", { name: envName(kind.key), environment: envName(kind.key), database: kind.database });
    }

    // One untimed round warms the control plane's code paths and the page cache; then the
    // timed rounds, each kind in turn with the baselines, so drifting load slows all alike.
    for (let round = 0; round <= options.creates; round++) {
      const timed = round > 0;
      for (const kind of KINDS) {
        if (kind.poolSize > 0) await waitWarm(api, run, envName(kind.key), kind.poolSize);
        const measure = await createToCommand(api, watch, run, envName(kind.key));
        if (kind.poolSize > 0 && !/^adopted/.test(measure.messages.isolation ?? "")) {
          throw new Error(`a ${kind.label} create was not served by the pool (isolation: ${measure.messages.isolation ?? "no message"})`);
        }
        if (timed) results.creates[kind.key].push(measure);
      }
      await baseline("bwrapTrue", timed ? results.baselines.bwrapTrue : undefined);
      await baseline("bwrapNode", timed ? results.baselines.bwrapNode : undefined);
      log(timed ? `creates ${round}/${options.creates} (${KINDS.length} kinds, then the 2 baselines)` : "warm-up round done");
    }
    // The pools of the timed creates go before the next parts.
    for (const kind of KINDS.filter((k) => k.poolSize > 0)) {
      await api.expect(200, "PATCH", `/api/v1/environments/${envName(kind.key)}`, { poolSize: 0 });
      await waitEmpty(api, run, envName(kind.key));
    }

    await measureSetupCache(api, watch, run, options, results, environments, log);

    for (const [which, kind] of [
      ["host", "hostWarm"],
      ["debian", "debianWarm"],
    ] as const) {
      const name = envName(kind);
      log(`idle pool of ${options.pool} on ${which === "host" ? "the host image" : DEBIAN}: filling, then ${SETTLE_MS / 1000} s to settle`);
      await api.expect(200, "PATCH", `/api/v1/environments/${name}`, { poolSize: options.pool });
      await waitWarm(api, run, name, options.pool);
      await sleep(SETTLE_MS);
      const memory = await poolMemory(api, dataDir);
      if (memory.members.length !== options.pool) throw new Error(`expected ${options.pool} pool members on disk, found ${memory.members.length}`);
      results.memory[which] = memory;
      await api.expect(200, "PATCH", `/api/v1/environments/${name}`, { poolSize: 0 });
      await waitEmpty(api, run, name);
    }
  } catch (error) {
    results.failures.push(describe(error));
    log(`failed: ${describe(error)}`);
  } finally {
    results.load.after = loadavg()[0]!;
    // Interrupted: the cleanup does it all.
    if (!run.stopping) {
      const ids = new Set([...run.created, ...driverSandboxes(dataDir)]);
      await emptyEverything().catch((error) => results.failures.push(`emptying pools and sandboxes: ${describe(error)}`));
      // Whatever is still on disk now is what the control plane failed to remove.
      for (const id of driverSandboxes(dataDir)) ids.add(id);
      watch.close();
      await stopGracefully(plane).catch((error) => results.failures.push(`stopping the control plane: ${describe(error)}`));
      results.leftovers = leftoverPids([...ids]).length;
      cleanupDone();
      await killSandboxes([...ids]);
      api.close();
    }
  }
  return results;
}

/** Rounds of: a changed setup text, a first project's create (miss), a second's (hit). */
async function measureSetupCache(
  api: OutpostApi,
  watch: PhaseWatch,
  run: Tracker,
  options: EnvironmentsOptions,
  results: EnvironmentsResults,
  environments: string[],
  log: Log,
): Promise<void> {
  const name = "setup-cache";
  await api.expect(201, "POST", "/api/v1/environments", { name, image: DEBIAN, setup: "true", poolSize: 0 });
  environments.push(name);
  for (const project of ["setup-miss", "setup-hit"]) await api.expect(201, "POST", "/api/v1/projects", { name: project, environment: name, database: "none" });
  for (let round = 1; round <= options.setupRounds; round++) {
    // A new text is a new cache key: the next start builds again.
    if (round > 1) await api.expect(200, "PATCH", `/api/v1/environments/${name}`, { setup: `true # round ${round}` });
    for (const [project, into, expected] of [
      ["setup-miss", results.setup.miss, "built"],
      ["setup-hit", results.setup.hit, "cached"],
    ] as const) {
      const measure = await createToRunning(api, watch, run, project);
      const message = measure.messages.environment;
      if (!message?.includes(`: ${expected} (`)) throw new Error(`setup round ${round}, ${project}: the environment stage says '${message}', not ${expected}`);
      into.push({ runningMs: measure.runningMs, segments: measure.segments, message });
    }
    log(`setup cache round ${round}/${options.setupRounds}: miss, hit`);
  }
}
