// What `outpost doctor` checks: each check says ok, or what is wrong and the one line that
// fixes it. The same checks guard start-up, so a missing piece is named, not a stack trace.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { dataPaths } from "./config/data-dir.ts";
import type { Settings } from "./config/settings.ts";
import { locatePgBinaries } from "./db/binaries.ts";
import { agentAdapter, availableAgents, parseAgentVersions } from "./domain/agents/registry.ts";
import { StartupError } from "./domain/errors.ts";
import { checkBubblewrap, INSTALL_FIX, preflightOwner } from "./drivers/local/preflight.ts";
import { AgentInstaller } from "./services/agent-installer.ts";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export const MIN_NODE = [20, 10] as const;

export function checkNode(version = process.versions.node): CheckResult {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return { name: "node", ok, detail: `Node.js ${version}`, fix: ok ? undefined : `install Node.js ${MIN_NODE.join(".")} or newer (22 or 24 recommended)` };
}

export function checkPostgres(settings: Settings): CheckResult {
  if (settings.databaseUrl) return { name: "postgres", ok: true, detail: "using DATABASE_URL (embedded server not needed)" };
  try {
    const binaries = locatePgBinaries(settings.pgBin);
    const version = execFileSync(binaries.postgres, ["--version"], { encoding: "utf8" }).trim();
    return { name: "postgres", ok: true, detail: `${version} in ${binaries.binDir}` };
  } catch (error) {
    if (error instanceof StartupError) return { name: "postgres", ok: false, detail: error.message, fix: error.fix };
    return {
      name: "postgres",
      ok: false,
      detail: `the PostgreSQL binaries do not run: ${(error as Error).message.split("\n")[0]}`,
      fix: "run `npm install` again, or set OUTPOST_PG_BIN",
    };
  }
}

export function checkDataDir(settings: Settings): CheckResult {
  const dir = settings.dataDir;
  if (!existsSync(dir)) {
    let parent = dirname(dir);
    while (!existsSync(parent)) parent = dirname(parent);
    try {
      accessSync(parent, constants.W_OK);
      return { name: "data dir", ok: true, detail: `${dir} will be created on first start` };
    } catch {
      return { name: "data dir", ok: false, detail: `cannot create ${dir}: ${parent} is not writable`, fix: "set OUTPOST_DATA_DIR to a folder you can write" };
    }
  }
  const info = statSync(dir);
  if (info.uid !== process.getuid?.()) {
    return {
      name: "data dir",
      ok: false,
      detail: `${dir} belongs to uid ${info.uid}, not to you`,
      fix: `run Outpost as its owner, or: chown -R $(id -u) ${dir}`,
    };
  }
  if ((info.mode & 0o066) !== 0) {
    return {
      name: "data dir",
      ok: false,
      detail: `${dir} is readable or writable by others (mode ${(info.mode & 0o777).toString(8)})`,
      fix: `chmod 700 ${dir}`,
    };
  }
  const token = dataPaths(dir).adminToken;
  if (existsSync(token) && (statSync(token).mode & 0o077) !== 0) {
    return { name: "data dir", ok: false, detail: `${token} is readable by others`, fix: `chmod 600 ${token}` };
  }
  return { name: "data dir", ok: true, detail: `${dir} (mode ${(info.mode & 0o777).toString(8)})` };
}

/** Sandboxes on this machine need bubblewrap and unprivileged user namespaces. */
export async function checkSandboxRuntime(settings: Settings): Promise<CheckResult> {
  const result = await checkBubblewrap({ bwrapPath: settings.bwrapPath, owner: preflightOwner() });
  if (result.ok) return { name: "bubblewrap", ok: true, detail: `bwrap ${result.bwrap.version} at ${result.bwrap.path}, user namespaces allowed` };
  const fix =
    result.error.code === "BWRAP_MISSING"
      ? INSTALL_FIX
      : (result.error.message.split("fix: ")[1] ?? "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)");
  return { name: "bubblewrap", ok: false, detail: result.error.message.split("; fix:")[0] ?? result.error.message, fix };
}

/** Which agent CLIs are installed (a missing one is fetched with npm by its first run). */
export function checkAgents(settings: Settings): CheckResult {
  const dir = settings.agentsDir ?? join(settings.dataDir, "agents");
  const installer = new AgentInstaller({ dir, versions: parseAgentVersions(settings.agentVersions), log: () => {} });
  const adapters = availableAgents().flatMap((name) => agentAdapter(name) ?? []);
  const statuses = installer.status(adapters);
  const detail = statuses.map((s) => `${s.agent} ${s.version} ${s.installed ? "installed" : "not installed yet (its first run fetches it)"}`).join("; ");
  const needsNpm = statuses.some((s) => !s.installed);
  if (needsNpm && !commandExists("npm")) {
    return { name: "agents", ok: false, detail: `${detail}; npm is not on PATH`, fix: "install npm (it comes with Node.js) so Outpost can fetch agent CLIs" };
  }
  return { name: "agents", ok: true, detail: `${detail || "none"} (in ${dir})` };
}

function commandExists(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Checks added by other parts (bubblewrap, kubeconfig, …) register here. */
export type Check = (settings: Settings) => CheckResult | Promise<CheckResult>;
export const CHECKS: Check[] = [() => checkNode(), checkPostgres, checkDataDir, checkSandboxRuntime, checkAgents];
