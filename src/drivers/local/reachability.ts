// Before a sandbox starts: can its host uid reach everything bwrap will bind for it? bwrap
// runs as that uid, and a closed folder above the data dir (e.g. a repo under /root) is
// better reported with its fix here than as a bwrap mount error.
import { existsSync } from "node:fs";
import { DriverError } from "../errors.ts";
import { firstUnreachable, type Owner, type SandboxPaths } from "./layout.ts";

/** bwrap runs as the sandbox's uid, so that uid must reach everything it binds (and a
 *  missing /opt/outpost is better reported here than as a bwrap mount error). */
export function assertReachable(owner: Owner, paths: SandboxPaths, outpostDir: string): void {
  const needs = [paths.workspace, `${paths.etc}/passwd`, paths.linkToken, `${outpostDir}/supervisor.js`, `${outpostDir}/bin/node`];
  for (const path of needs) {
    const blocked = firstUnreachable(path, owner, { read: true });
    if (blocked) {
      const why = existsSync(path)
        ? `cannot reach ${path} (stopped at ${blocked}); fix: chmod o+x on the folders above it (or o+r on the file)`
        : `needs ${path}, which does not exist${path.startsWith(outpostDir) ? "; fix: npm run build" : ""}`;
      throw new DriverError("SANDBOX_PATH_UNREACHABLE", `the sandbox's host uid ${owner.uid} ${why}`, {
        details: { path, blocked, uid: owner.uid },
      });
    }
  }
}
