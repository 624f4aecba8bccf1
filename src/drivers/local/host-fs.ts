// What of the host's root filesystem a sandbox needs, probed once per driver: the
// merged-/usr links (/bin → usr/bin …) and the few /etc entries programs read. The probe
// is the only I/O; bwrap-args.ts turns its result into argv without touching the disk.
import { existsSync, lstatSync, readlinkSync } from "node:fs";

/** Top-level folders that live in /usr on a merged-usr host, or are real folders on an old one. */
export const TOP_LEVEL_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] as const;

/** /etc entries that programs need and that hold no host secret. passwd, group and hosts
 *  are generated instead (etc-files.ts). */
export const CURATED_ETC = ["alternatives", "ld.so.cache", "ssl", "ca-certificates", "localtime"] as const;

export type TopLevelEntry = { name: string; kind: "symlink"; target: string } | { name: string; kind: "dir" };

export interface HostFs {
  /** In TOP_LEVEL_LINKS order; entries missing on the host are left out. */
  topLevel: TopLevelEntry[];
  /** Names from CURATED_ETC that exist on the host, in that order. */
  etc: string[];
  /** Login shell for the sandbox user: /bin/bash if the host has it. */
  shell: string;
}

export function probeHostFs(): HostFs {
  const topLevel: TopLevelEntry[] = [];
  for (const name of TOP_LEVEL_LINKS) {
    const path = `/${name}`;
    try {
      const info = lstatSync(path);
      if (info.isSymbolicLink()) topLevel.push({ name, kind: "symlink", target: readlinkSync(path) });
      else if (info.isDirectory()) topLevel.push({ name, kind: "dir" });
    } catch {
      // absent on this host (lib32, libx32 usually are)
    }
  }
  // existsSync follows symlinks: /etc/localtime is a link into /usr/share/zoneinfo and is
  // only worth binding when its target exists.
  const etc = CURATED_ETC.filter((name) => existsSync(`/etc/${name}`));
  const shell = existsSync("/usr/bin/bash") || existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
  return { topLevel, etc, shell };
}
