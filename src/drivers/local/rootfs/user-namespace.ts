// The user namespace of an image sandbox, made by the control plane (root) before bwrap
// runs: inside 0–999 (root and the system users and groups) are the sandbox's root block of
// host uids, inside 1000 its user host uid, and nothing else is mapped. bwrap alone maps one
// id, which would make root and the user the same host uid; writing a map of several ranges
// needs CAP_SETUID in the parent namespace, which only the root control plane has.
//   1. a holder process, running as the root host uid, unshares a user namespace and waits
//      (`unshare` from util-linux): the namespace's owner is that uid, so bwrap, started as
//      the same uid, may enter it (--userns) and gets every capability in it;
//   2. the control plane writes uid_map and gid_map (each in one write(2), as the kernel wants);
//   3. the namespace is held open by a descriptor: bwrap's --userns fd, and the idmapped
//      mounts of the image layers (the same mapping shifts the image's ids).
// The holder is killed once bwrap runs (or goes with the control plane: it reads a pipe
// only the control plane holds); the namespace lives as long as the sandbox does.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { SANDBOX_GID, SANDBOX_UID } from "../etc-files.ts";

export interface UserNamespaceIds {
  /** The first of root's block: inside 0…rootCount-1 (root and the system ids). */
  rootUid: number;
  rootCount: number;
  userUid: number;
}

export interface HeldUserNamespace {
  /** Open on /proc/<holder>/ns/user; hand it to bwrap and to mount_setattr. */
  fd: number;
  /** Kills the holder and closes the descriptor (idempotent). */
  release(): void;
}

/** The map written for both uids and gids (the sandbox's groups are its uids). */
export function idMap(ids: UserNamespaceIds, userInside = SANDBOX_UID): string {
  return `0 ${ids.rootUid} ${ids.rootCount}\n${userInside} ${ids.userUid} 1\n`;
}

export async function holdUserNamespace(
  ids: UserNamespaceIds,
  options: { signal: AbortSignal; timeoutMs?: number; unsharePath?: string },
): Promise<HeldUserNamespace> {
  options.signal.throwIfAborted();
  // It waits on its stdin, a pipe only this process writes to: a control plane killed at any
  // point takes the holder with it (end of file), so none is ever left behind.
  const holder = spawn(options.unsharePath ?? "unshare", ["--user", "--", "/bin/sh", "-c", "echo ready; read _"], {
    uid: ids.rootUid,
    gid: ids.rootUid,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let fd: number | undefined;
  const release = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    if (holder.exitCode === null && holder.signalCode === null) holder.kill("SIGKILL");
  };
  try {
    await readyLine(holder, options.signal, options.timeoutMs ?? 5000);
    const pid = holder.pid as number;
    // The kernel takes a map only whole, in one write, and only once.
    writeFileSync(`/proc/${pid}/uid_map`, idMap(ids));
    writeFileSync(`/proc/${pid}/gid_map`, idMap(ids, SANDBOX_GID));
    fd = openSync(`/proc/${pid}/ns/user`, "r");
    if (readFileSync(`/proc/${pid}/uid_map`, "utf8").trim() === "") throw new Error("the user namespace has no map");
    const held = fd;
    return { fd: held, release };
  } catch (error) {
    release();
    throw error;
  }
}

function readyLine(holder: ReturnType<typeof spawn>, signal: AbortSignal, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    let errors = "";
    const done = (error?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      holder.stdout?.off("data", onData);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready\n")) done();
    };
    const onAbort = () => done(signal.reason as Error);
    const timer = setTimeout(() => done(new Error(`unshare did not make a user namespace within ${timeoutMs} ms: ${errors.trim()}`)), timeoutMs);
    holder.stdout?.on("data", onData);
    holder.stderr?.on("data", (chunk: Buffer) => {
      errors = (errors + chunk.toString()).slice(-2000);
    });
    holder.once("error", (error) => done(error));
    holder.once("exit", (code) => done(new Error(`unshare exited (${code}) before making a user namespace: ${errors.trim()}`)));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
