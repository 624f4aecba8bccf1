// Everything Outpost runs in a sandbox comes from /opt/outpost: the supervisor runs on the
// Node 22 shipped there even when the sandbox's root has no Node at all (a project's own
// image may have none, or another version). The host's node binaries are masked in a
// sandbox built like the driver's; the real supervisor must still dial in and run commands.
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { bwrapArgs, tmpfsSizes } from "../../src/drivers/local/bwrap-args.ts";
import { etcFiles, writeEtcFiles } from "../../src/drivers/local/etc-files.ts";
import { probeHostFs } from "../../src/drivers/local/host-fs.ts";
import { BLOCK_FD, INFO_FD, launch, SECCOMP_FD, STATUS_FD } from "../../src/drivers/local/launcher.ts";
import { prepareSandboxFolders, sandboxPaths } from "../../src/drivers/local/layout.ts";
import { LinkSockets } from "../../src/drivers/local/link-sockets.ts";
import { builtOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import { seccompFilter } from "../../src/drivers/local/seccomp.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import { LinkRegistry } from "../../src/supervisor/link/registry.ts";
import { execCollect } from "../supervisor/helpers.ts";

const root = mkdtempSync(join(tmpdir(), "outpost-nonode-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("the supervisor runs on /opt/outpost's Node 22 in a sandbox whose root has no node", async (t) => {
  const sandboxId = "sbx_nonode";
  const paths = sandboxPaths(root, sandboxId);
  prepareSandboxFolders(paths);
  const host = probeHostFs();
  writeEtcFiles(paths.etc, etcFiles("no-node", host.shell));
  const registry = new LinkRegistry();
  const sockets = new LinkSockets(registry, () => {});
  await sockets.listen(sandboxId, paths);
  t.after(() => sockets.closeAll("test over"));

  const argv = bwrapArgs({
    hostname: "no-node",
    sandboxId,
    paths,
    outpostDir: builtOutpostDir(),
    host,
    ...tmpfsSizes(undefined),
    infoFd: INFO_FD,
    blockFd: BLOCK_FD,
    statusFd: STATUS_FD,
    seccompFd: SECCOMP_FD,
  });
  // Real files only: a symlink (Debian's /usr/bin/nodejs → /etc/alternatives) leads to one of these.
  const hostNodes = ["/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node"].filter((path) => existsSync(path) && lstatSync(path).isFile());
  const masks = hostNodes.flatMap((path) => ["--ro-bind", "/dev/null", path]);
  const split = argv.indexOf("--");
  mkdirSync(paths.state, { recursive: true });
  const launched = await launch({
    bwrapPath: "bwrap",
    args: [...argv.slice(0, split), ...masks, ...argv.slice(split)],
    seccomp: seccompFilter(),
    statusPath: paths.statusFile,
    marker: `nonode-${process.pid}`,
    logPath: paths.log,
    signal: AbortSignal.timeout(60_000),
    timeoutMs: 20_000,
    beforeRelease: () => {},
  });
  t.after(() => {
    try {
      process.kill(-launched.bwrapPid, "SIGKILL");
    } catch {}
    try {
      process.kill(launched.childPid, "SIGKILL");
    } catch {}
  });

  const session = await registry.wait(sandboxId, { timeoutMs: 30_000 }).catch((error) => {
    throw new Error(`${error.message}; log: ${readFileSync(paths.log, "utf8")}`);
  });
  const client = new SupervisorClient({ transport: session });
  const result = await execCollect(client, {
    command: [
      "/bin/sh",
      "-c",
      'for n in node nodejs; do command -v $n >/dev/null && "$n" --version; done; echo "path:$(command -v node || echo none)"; /opt/outpost/bin/node --version; readlink /proc/$PPID/exe',
    ],
  });
  t.diagnostic(`masked on the host: ${hostNodes.join(", ") || "(none present)"}`);
  assert.match(result.stdout, /path:(none|\/opt\/outpost\/bin\/node)/, `no node of the root answers: ${result.stdout}`);
  assert.doesNotMatch(result.stdout, /^v20\./m, "the host's Node 20 is not reachable");
  assert.match(result.stdout, /^v22\./m, "/opt/outpost/bin/node is Node 22");
  assert.equal(session.info.supervisorVersion.length > 0, true);
});
