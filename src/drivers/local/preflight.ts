// Can this host run sandboxes? checkBubblewrap() finds the bwrap binary and runs a trial
// sandbox with the same kinds of options the driver uses (all namespaces, uid mapping,
// /proc, a tmpfs with --perms) as the uid sandboxes will run under. The answer is either
// ok or a DriverError whose message ends with a one-line fix. Limits: the trial gets
// 10 s; ACL- or LSM-specific denials are reported with bwrap's own words.
import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { DriverError } from "../errors.ts";
import { probeHostFs } from "./host-fs.ts";
import type { Owner } from "./layout.ts";

export const INSTALL_FIX = "apt-get install -y bubblewrap";

/** As root, the trial runs as an unprivileged uid (the top of the reserved range, never
 *  assigned first), because that is what sandboxes get; a check as root proves little. */
export function preflightOwner(): Owner | undefined {
  return process.getuid?.() === 0 ? { uid: 299_999, gid: 299_999 } : undefined;
}

export interface BubblewrapInfo {
  path: string;
  /** e.g. "0.8.0" */
  version: string;
}

export type PreflightResult = { ok: true; bwrap: BubblewrapInfo } | { ok: false; error: DriverError };

export interface PreflightOptions {
  /** Explicit path; default: PATH, then /usr/bin and /usr/local/bin. */
  bwrapPath?: string;
  /** Run the trial as this uid/gid (what the sandboxes will run as). */
  owner?: Owner;
  timeoutMs?: number;
}

/** Kernel switches that decide whether unprivileged user namespaces are allowed; null when the host lacks the file. */
export interface UsernsSysctls {
  maxUserNamespaces: string | null;
  unprivilegedUsernsClone: string | null;
  apparmorRestrictUnprivilegedUserns: string | null;
}

export function findBwrap(explicit?: string): string | null {
  const candidates = explicit
    ? [explicit]
    : [
        ...(process.env.PATH ?? "")
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, "bwrap")),
        "/usr/bin/bwrap",
        "/usr/local/bin/bwrap",
      ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

export function readUsernsSysctls(): UsernsSysctls {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return null;
    }
  };
  return {
    maxUserNamespaces: read("/proc/sys/user/max_user_namespaces"),
    unprivilegedUsernsClone: read("/proc/sys/kernel/unprivileged_userns_clone"),
    apparmorRestrictUnprivilegedUserns: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
  };
}

/** Turns a failed trial's stderr into an error with the fix that applies here (pure). */
export function classifyBwrapFailure(stderr: string, sysctls: UsernsSysctls): DriverError {
  const firstLine = stderr.trim().split("\n")[0] ?? "";
  const details = { stderr: stderr.trim().slice(0, 2000), sysctls };
  if (/unknown option|unrecognized option/i.test(stderr)) {
    return new DriverError("BWRAP_FAILED", `bubblewrap is too old for Outpost (${firstLine}); fix: install bubblewrap 0.8 or newer (${INSTALL_FIX})`, {
      details,
    });
  }
  const userns = /no permissions to creat|new namespace|uid map|gid map|setgroups|unshare|user namespace/i.test(stderr);
  if (userns) {
    let fix = "allow unprivileged user namespaces on this host (sysctl user.max_user_namespaces, and the container's seccomp/AppArmor profile if any)";
    if (sysctls.apparmorRestrictUnprivilegedUserns === "1")
      fix = "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give bwrap an AppArmor profile that allows userns)";
    else if (sysctls.unprivilegedUsernsClone === "0") fix = "sysctl -w kernel.unprivileged_userns_clone=1";
    else if (sysctls.maxUserNamespaces === "0") fix = "sysctl -w user.max_user_namespaces=15000";
    return new DriverError("USERNS_DENIED", `this host does not allow unprivileged user namespaces (${firstLine}); fix: ${fix}`, { details });
  }
  return new DriverError(
    "BWRAP_FAILED",
    `bubblewrap cannot create a sandbox here (${firstLine || "no message"}); fix: run Outpost on a host or VM, or in a container allowed to create mount and user namespaces`,
    { details },
  );
}

function run(file: string, args: string[], options: { owner?: Owner; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs,
        cwd: "/",
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
        ...(options.owner ? { uid: options.owner.uid, gid: options.owner.gid } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && code === null ? error.message : "")) });
      },
    );
  });
}

export async function checkBubblewrap(options: PreflightOptions = {}): Promise<PreflightResult> {
  const path = findBwrap(options.bwrapPath);
  if (!path) {
    const where = options.bwrapPath ? `at ${options.bwrapPath}` : "on PATH";
    return { ok: false, error: new DriverError("BWRAP_MISSING", `bubblewrap (bwrap) is not installed ${where}; fix: ${INSTALL_FIX}`) };
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const versionRun = await run(path, ["--version"], { timeoutMs });
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(versionRun.stdout)?.[1] ?? "unknown";

  // The options sandboxes need that older bwraps lack (--disable-userns and --size came with
  // 0.8): trying them here turns "unknown option" into the upgrade fix before any sandbox.
  const args = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"];
  for (const entry of probeHostFs().topLevel) {
    if (entry.kind === "symlink") args.push("--symlink", entry.target, `/${entry.name}`);
    else args.push("--ro-bind", `/${entry.name}`, `/${entry.name}`);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", String(16 * 1024 * 1024), "--tmpfs", "/tmp", "--", "/usr/bin/true");
  const trial = await run(path, args, { owner: options.owner, timeoutMs });
  if (trial.code !== 0) return { ok: false, error: classifyBwrapFailure(trial.stderr, readUsernsSysctls()) };
  return { ok: true, bwrap: { path, version } };
}
