// The few /etc files a sandbox gets that are generated rather than taken from the host
// (pure: content only; the driver writes them under <root>/<id>/etc and ro-binds them).
// The host's own passwd/group would leak account names and are wrong inside anyway:
// inside, the sandbox user is `outpost` (uid/gid 1000) with home /home/outpost, and every
// host-owned file shows up as the overflow id 65534 (nobody/nogroup).
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SANDBOX_USER = "outpost";
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_HOME = "/home/outpost";

export interface EtcFiles {
  passwd: string;
  group: string;
  hosts: string;
}

/** `shell` is the login shell recorded for the sandbox user (e.g. /bin/bash when the host has it). */
export function etcFiles(hostname: string, shell: string): EtcFiles {
  return {
    passwd: [
      "root:x:0:0:root:/root:/usr/sbin/nologin",
      `${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:Outpost sandbox:${SANDBOX_HOME}:${shell}`,
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "",
    ].join("\n"),
    group: ["root:x:0:", `${SANDBOX_USER}:x:${SANDBOX_GID}:`, "nogroup:x:65534:", ""].join("\n"),
    hosts: ["127.0.0.1\tlocalhost", `127.0.0.1\t${hostname}`, "::1\tlocalhost ip6-localhost ip6-loopback", ""].join("\n"),
  };
}

/** Writes the files into `dir` (0644 each), atomically so a running sandbox never reads half a file. */
export function writeEtcFiles(dir: string, files: EtcFiles): void {
  for (const [name, content] of Object.entries(files)) {
    const target = join(dir, name);
    const temporary = `${target}.tmp`;
    writeFileSync(temporary, content, { mode: 0o644 });
    chmodSync(temporary, 0o644);
    renameSync(temporary, target);
  }
}
