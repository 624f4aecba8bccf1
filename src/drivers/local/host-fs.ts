// What of the host's root filesystem a sandbox needs, probed once per driver: the
// merged-/usr links (/bin → usr/bin …) and the few /etc entries programs read. The probe
// is the only I/O; bwrap-args.ts turns its result into argv without touching the disk.
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { resolve } from "node:path";

/** Top-level folders that live in /usr on a merged-usr host, or are real folders on an old one. */
export const TOP_LEVEL_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] as const;

/** /etc entries that programs need and that hold no host secret. passwd, group and hosts
 *  are generated instead (etc-files.ts). */
export const CURATED_ETC = ["alternatives", "ld.so.cache", "ssl", "ca-certificates", "localtime"] as const;

export type TopLevelEntry = { name: string; kind: "symlink"; target: string } | { name: string; kind: "dir" };

export interface HostFs {
  /** In TOP_LEVEL_LINKS order; entries missing on the host are left out. */
  topLevel: TopLevelEntry[];
  /** Names from CURATED_ETC that exist on the host, in that order, to bind read-only
   *  (localtime only when it is not recreated as a link, below). */
  etc: string[];
  /** Where the host's /etc/localtime links to, when that is a zone under
   *  /usr/share/zoneinfo: the sandbox gets the same link instead of a bound file. Given a
   *  plain file, glibc is fine but ICU (Node's Intl) cannot tell the zone's name and scans
   *  all of /usr/share/zoneinfo for a match in every process (~3.6 ms vs 0.2 ms). */
  localtimeLink?: string;
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
  let localtimeLink: string | undefined;
  try {
    localtimeLink = zoneinfoLink(readlinkSync("/etc/localtime"));
  } catch {
    // absent, or a plain file (bound below)
  }
  // existsSync follows symlinks: a dangling /etc/localtime is left out (glibc then uses UTC).
  if (localtimeLink && !existsSync(localtimeLink)) localtimeLink = undefined;
  const etc = CURATED_ETC.filter((name) => !(name === "localtime" && localtimeLink) && existsSync(`/etc/${name}`));
  const shell = existsSync("/usr/bin/bash") || existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
  return { topLevel, etc, shell, ...(localtimeLink ? { localtimeLink } : {}) };
}

/** The absolute target of an /etc/localtime link if it names a zone under
 *  /usr/share/zoneinfo (the sandbox sees the host's /usr), else undefined. */
export function zoneinfoLink(target: string): string | undefined {
  const absolute = resolve("/etc", target);
  return absolute.startsWith("/usr/share/zoneinfo/") ? absolute : undefined;
}
