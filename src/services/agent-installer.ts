// Installs agent CLIs on the host with npm, once per pinned version, into a folder every
// sandbox sees read-only at /opt/agents (local driver: a read-only bind). Never into a
// workspace: the agent's own files must not end up in the project's commits, and a sandbox
// must not be able to change the binary the next run starts.
//   <agents dir>/<agent>/<version>/            node_modules/… as npm laid it out
//   <agents dir>/<agent>/<version>/.installed  written last: the install is complete
// An install goes to a temporary folder first and is renamed into place, so a crash midway
// leaves nothing that looks installed. One install per version runs at a time in a process.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AgentAdapter } from "../domain/agents/adapter.ts";
import { OutpostError } from "../domain/errors.ts";
import { randomLowerAlnum } from "../random.ts";

export const AGENTS_INSIDE = "/opt/agents";
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const STALE_STAGING_MS = 2 * INSTALL_TIMEOUT_MS;

export interface InstalledAgent {
  version: string;
  /** Paths inside a sandbox. */
  installDir: string;
  executable: string;
  viaNode: boolean;
}

export interface AgentStatus {
  agent: string;
  package: string;
  version: string;
  installed: boolean;
}

export class AgentInstaller {
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly options: {
      /** Host folder, bound at /opt/agents inside sandboxes. */
      dir: string;
      /** Versions that replace the pinned ones (OUTPOST_AGENT_VERSIONS). */
      versions: Map<string, string>;
      log: (message: string) => void;
      npm?: string;
    },
  ) {}

  get dir(): string {
    return this.options.dir;
  }

  versionOf(adapter: AgentAdapter): string | null {
    if (!adapter.install) return null;
    return this.options.versions.get(adapter.name) ?? adapter.install.version;
  }

  status(adapters: AgentAdapter[]): AgentStatus[] {
    return adapters.flatMap((adapter) => {
      const version = this.versionOf(adapter);
      if (!adapter.install || !version) return [];
      return [{ agent: adapter.name, package: adapter.install.package, version, installed: existsSync(join(this.#hostDir(adapter, version), ".installed")) }];
    });
  }

  /** The agent's pinned version, installed (now, if it was not). */
  async ensure(adapter: AgentAdapter, signal?: AbortSignal): Promise<InstalledAgent> {
    const version = this.versionOf(adapter);
    if (!adapter.install || !version) throw new OutpostError("INTERNAL", `agent ${adapter.name} has nothing to install`);
    const hostDir = this.#hostDir(adapter, version);
    if (!existsSync(join(hostDir, ".installed"))) {
      const key = `${adapter.name}@${version}`;
      let pending = this.#inFlight.get(key);
      if (!pending) {
        pending = this.#install(adapter, version, hostDir, signal).finally(() => this.#inFlight.delete(key));
        this.#inFlight.set(key, pending);
      }
      await pending;
    }
    const installDir = `${AGENTS_INSIDE}/${adapter.name}/${version}`;
    const bin = adapter.install.bin.replaceAll("{arch}", process.arch === "arm64" ? "arm64" : "x64");
    return { version, installDir, executable: `${installDir}/${bin}`, viaNode: adapter.install.viaNode };
  }

  #hostDir(adapter: AgentAdapter, version: string): string {
    return join(this.options.dir, adapter.name, version);
  }

  async #install(adapter: AgentAdapter, version: string, hostDir: string, signal?: AbortSignal): Promise<void> {
    const spec = `${adapter.install!.package}@${version}`;
    const parent = join(this.options.dir, adapter.name);
    await mkdir(parent, { recursive: true, mode: 0o755 });
    // Sandboxes run as other uids: every folder on the way must let them through.
    await chmod(this.options.dir, 0o755);
    await chmod(parent, 0o755);
    const staging = join(parent, `.staging-${version}-${randomLowerAlnum(8)}`);
    await mkdir(staging, { mode: 0o755 });
    this.options.log(`installing agent ${spec} into ${hostDir}`);
    try {
      // Scripts are not run: the platform packages carry the binaries, and a package's
      // install script has no business running on the control plane's host.
      await run(
        this.options.npm ?? "npm",
        [
          "install",
          "--prefix",
          staging,
          "--no-save",
          "--no-package-lock",
          "--no-audit",
          "--no-fund",
          "--ignore-scripts",
          "--omit=dev",
          "--loglevel=error",
          spec,
        ],
        signal,
      );
      const bin = adapter.install!.bin.replaceAll("{arch}", process.arch === "arm64" ? "arm64" : "x64");
      if (!existsSync(join(staging, bin))) {
        throw new OutpostError(
          "AGENT_INSTALL_FAILED",
          `npm installed ${spec} but ${bin} is not in it (is this platform, ${process.platform}-${process.arch}, supported?)`,
        );
      }
      await writeFile(join(staging, ".installed"), `${spec}\n`, { mode: 0o644 });
      try {
        await rename(staging, hostDir);
      } catch (error) {
        // Another process (sharing the folder) finished the same install first: use theirs.
        if (!existsSync(join(hostDir, ".installed"))) throw error;
        await rm(staging, { recursive: true, force: true });
      }
      this.options.log(`installed agent ${spec}`);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (error instanceof OutpostError) throw error;
      throw new OutpostError("AGENT_INSTALL_FAILED", `Could not install ${spec} with npm: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Removes staging folders an earlier process left behind (killed mid-install). Only old
   * ones: another control plane sharing the folder may be installing right now. */
  async tidy(): Promise<void> {
    if (!existsSync(this.options.dir)) return;
    for (const agent of await readdir(this.options.dir)) {
      const parent = join(this.options.dir, agent);
      for (const name of await readdir(parent).catch(() => [] as string[])) {
        if (!name.startsWith(".staging-")) continue;
        const info = await stat(join(parent, name)).catch(() => null);
        if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await rm(join(parent, name), { recursive: true, force: true });
      }
    }
  }
}

function run(command: string, args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], signal, timeout: INSTALL_TIMEOUT_MS });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`npm ${sig ? `was killed by ${sig}` : `exited with code ${code}`}: ${stderr.trim().split("\n").slice(-3).join(" ")}`));
    });
  });
}
