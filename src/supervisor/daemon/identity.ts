// Who the commands of this sandbox run as. In a sandbox on the host's /usr the supervisor is
// the sandbox user, and so is everything it starts: there is no root to ask for. In an image
// sandbox (started with --run-as <uid>:<gid>) the supervisor is root inside its user
// namespace: commands, terminals and agents run as the sandbox user unless a request asks
// for "root", and what the file API creates is given to the sandbox user, so files people
// upload look the same as files the agent writes.
import { lchown } from "node:fs/promises";
import { SupervisorError } from "./errors.ts";

export type CommandUser = "root" | "user";

export interface RunAs {
  uid: number;
  gid: number;
}

let runAs: RunAs | undefined;

/** Set once at start from --run-as. */
export function setRunAs(ids: RunAs | undefined): void {
  runAs = ids;
}

export function hasRoot(): boolean {
  return runAs !== undefined;
}

/** spawn()'s uid/gid and the environment that goes with them, for a command of `user`
 *  (a request's own env still wins over it). */
export function commandIdentity(user: CommandUser | undefined): { uid?: number; gid?: number; env: Record<string, string> } {
  if (user === "root") {
    if (!runAs)
      throw new SupervisorError(
        "ROOT_UNAVAILABLE",
        "This sandbox has no root: its environment uses the host's /usr. Give the project an environment with an image.",
      );
    // Root's tools live in the sbin folders too (groupadd, dpkg-statoverride…).
    const path = process.env.PATH ?? "/usr/bin:/bin";
    // No uid/gid: the command is the supervisor's own (root), with its supplementary group,
    // through which it reads /run/outpost (the CA bundle, the SSH agent); spawn() with ids
    // would drop every supplementary group.
    return { env: { HOME: "/root", USER: "root", LOGNAME: "root", PATH: `/usr/local/sbin:/usr/sbin:/sbin:${path}` } };
  }
  return runAs ? { uid: runAs.uid, gid: runAs.gid, env: {} } : { env: {} };
}

/** Gives what the file API just made to the sandbox user (no-op outside image sandboxes).
 *  lchown: never through a symlink. */
export async function giveToUser(path: string): Promise<void> {
  if (runAs) await lchown(path, runAs.uid, runAs.gid);
}
