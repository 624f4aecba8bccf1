// The hardening of bwrap-args.ts, seccomp.ts and launcher.ts, enforced by the real bwrap
// and kernel: no user namespaces inside (two independent layers: --disable-userns and
// the seccomp filter), clone3 → ENOSYS, the listed syscalls refused, /tmp and /dev/shm
// capped, /dev read-only, /etc/localtime a link, the link folder read-only yet dialable,
// and bwrap's exit status in its file. The sandboxes are started with launch() and the
// argv of bwrapArgs, only the command after "--" replaced (the local driver is not
// involved). bwrap runs as the current user: works as root and unprivileged alike.
// Raw syscalls come from perl's syscall(): perl-base is Essential on Debian, so there
// is always a way to make them without a compiler.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { bwrapArgs, tmpfsSizes } from "../../src/drivers/local/bwrap-args.ts";
import { etcFiles, writeEtcFiles } from "../../src/drivers/local/etc-files.ts";
import { readExitStatus } from "../../src/drivers/local/exit-status.ts";
import { probeHostFs, zoneinfoLink } from "../../src/drivers/local/host-fs.ts";
import { BLOCK_FD, INFO_FD, launch, SECCOMP_FD, STATUS_FD } from "../../src/drivers/local/launcher.ts";
import { SYSCALL_NUMBERS, seccompArchFor, seccompFilter } from "../../src/drivers/local/seccomp.ts";

const MiB = 1024 * 1024;
const arch = seccompArchFor(process.arch);
assert.ok(arch, `the suite runs on x86_64 or aarch64, not ${process.arch}`);
const NR = SYSCALL_NUMBERS[arch];
const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;
const isRoot = process.getuid?.() === 0;
/** An unprivileged host account for bwrap when the tests run as root (the folders are 0755). */
const NOBODY = { uid: 65534, gid: 65534 };

const base = mkdtempSync(join(tmpdir(), "outpost-seccomp-"));
// Inside, uid 1000 is the current user (root here): reachable folders suffice.
chmodSync(base, 0o755);
after(() => rmSync(base, { recursive: true, force: true }));
const host = probeHostFs();
let runs = 0;

interface Layers {
  /** Hand bwrap the seccomp filter (default true). */
  seccomp?: boolean;
  /** bwrapArgs' allowNestedUserns: false adds --disable-userns (default false). */
  allowNestedUserns?: boolean;
  /** What the filter is built with (default: same as allowNestedUserns). */
  filterAllowsNestedUserns?: boolean;
  memoryBytes?: number;
  /** Run bwrap as this host uid/gid, as the driver does when it is root. */
  owner?: { uid: number; gid: number };
}

interface Run {
  /** From bwrap's status file. */
  exitCode: number | undefined;
  output: string;
  dir: string;
}

/** Runs `script` with /bin/sh inside a sandbox built like the driver's; `prepare` may put
 *  things into its folders first (the link folder: <dir>/link). */
async function sandboxed(script: string, layers: Layers = {}, prepare: (dir: string) => void | Promise<void> = () => {}): Promise<Run> {
  runs += 1;
  const dir = join(base, `run${runs}`);
  const paths = { workspace: "workspace", home: "home", state: "state", link: "link", etc: "etc" };
  for (const [key, name] of Object.entries(paths)) {
    mkdirSync(join(dir, name), { recursive: true });
    paths[key as keyof typeof paths] = join(dir, name);
  }
  writeEtcFiles(paths.etc, etcFiles("seccomp-test", host.shell));
  // The driver's Outpost folder holds bin/node; here the running node is bound over a placeholder.
  const outpostDir = join(dir, "outpost");
  mkdirSync(join(outpostDir, "bin"), { recursive: true });
  writeFileSync(join(outpostDir, "bin", "node"), "");
  await prepare(dir);

  const seccomp = layers.seccomp ?? true;
  const allowNestedUserns = layers.allowNestedUserns ?? false;
  const argv = bwrapArgs({
    hostname: "seccomp-test",
    sandboxId: `sbx_seccomp_${runs}`,
    paths,
    outpostDir,
    host,
    ...tmpfsSizes(layers.memoryBytes),
    infoFd: INFO_FD,
    blockFd: BLOCK_FD,
    statusFd: STATUS_FD,
    ...(seccomp ? { seccompFd: SECCOMP_FD } : {}),
    allowNestedUserns,
  });
  const split = argv.indexOf("--");
  const args = [...argv.slice(0, split), "--ro-bind", process.execPath, "/opt/outpost/bin/node", "--", "/bin/sh", "-c", script];
  const logPath = join(dir, "sandbox.log");
  const statusPath = join(dir, "status.json");
  const filter = seccompFilter({ allowNestedUserns: layers.filterAllowsNestedUserns ?? allowNestedUserns });
  // An unfinished exit promise does not keep Node running; this guard does, and bounds the wait.
  const guard = setTimeout(() => {}, 60_000);
  try {
    const launched = await launch({
      bwrapPath: "bwrap",
      args,
      ...(seccomp ? { seccomp: filter } : {}),
      statusPath,
      ...(layers.owner ? { owner: layers.owner } : {}),
      marker: `seccomp-test-${process.pid}-${runs}`,
      logPath,
      signal: AbortSignal.timeout(60_000),
      timeoutMs: 20_000,
      beforeRelease: () => {},
    });
    const exit = await launched.exited;
    assert.equal(exit.error, undefined);
  } finally {
    clearTimeout(guard);
  }
  const output = readFileSync(logPath, "utf8").replace(/^--- .* starting sandbox\n/, "");
  return { exitCode: readExitStatus(statusPath)?.exitCode, output, dir };
}

/** perl one-liner printing "<name> <return value> <errno>" for a raw syscall. */
const rawSyscall = (name: string, nr: number, ...args: Array<number | string>) =>
  `perl -e '$r = syscall(${[nr, ...args].join(", ")}); print "${name} ", $r, " ", 0 + $!, "\\n"; exit 0 if $r == 0'`;
const CLONE_NEWUSER_SIGCHLD = "0x10000011";

test("control: on this host, outside bwrap, this user can create a user namespace", () => {
  // If this fails, the host forbids unprivileged user namespaces (sysctl, AppArmor) and
  // bwrap could not run unprivileged either.
  const control = spawnSync("unshare", ["-Ur", "id", "-u"], { encoding: "utf8" });
  assert.equal(control.status, 0, control.stderr);
  assert.equal(control.stdout.trim(), "0");
});

test("inside the sandbox, the seccomp filter is active and unshare -Ur fails", async () => {
  const script = 'grep "^Seccomp:" /proc/self/status; unshare -Ur id; echo "unshare exited $?"';
  const run = await sandboxed(script, isRoot ? { owner: NOBODY } : {});
  assert.match(run.output, /^Seccomp:\s+2$/m, "filter mode");
  assert.match(run.output, /unshare exited 1/);
  assert.match(run.output, /Operation not permitted/, "the filter answers first");
  assert.equal(run.exitCode, 0);
});

test("each layer refuses user namespaces on its own, and without both they work", async () => {
  const script = 'unshare -Ur id -u; echo "unshare exited $?"';
  const filterOnly = await sandboxed(script, { allowNestedUserns: true, filterAllowsNestedUserns: false });
  assert.match(filterOnly.output, /Operation not permitted[\s\S]*unshare exited 1/, filterOnly.output);
  // --disable-userns lowers user.max_user_namespaces to 0 in the sandbox's namespace.
  const disableOnly = await sandboxed(script, { seccomp: false });
  assert.match(disableOnly.output, /No space left on device[\s\S]*unshare exited 1/, disableOnly.output);
  const neither = await sandboxed(script, { seccomp: false, allowNestedUserns: true });
  assert.match(neither.output, /^0\nunshare exited 0$/m, `the two checks above would see a working unshare: ${neither.output}`);
  // The filter built for nested namespaces leaves them alone too.
  const permissiveFilter = await sandboxed(script, { allowNestedUserns: true });
  assert.match(permissiveFilter.output, /^0\nunshare exited 0$/m, permissiveFilter.output);
});

test("raw syscalls: clone3 answers ENOSYS, clone with CLONE_NEWUSER and the listed ones EPERM, plain forks still work", async () => {
  const script = [
    rawSyscall("clone3", NR.clone3, 0, 0),
    rawSyscall("clone-newuser", NR.clone, CLONE_NEWUSER_SIGCHLD, 0, 0, 0, 0),
    rawSyscall("unshare-newuser", NR.unshare, "0x10000000"),
    rawSyscall("keyctl", NR.keyctl, 0, 0),
    rawSyscall("bpf", NR.bpf, 0, 0, 0),
    rawSyscall("io_uring_setup", NR.io_uring_setup, 1, 0),
    rawSyscall("userfaultfd", NR.userfaultfd, 0),
    // fork() is clone without namespace flags; sh runs every command through it anyway.
    `perl -e 'my $pid = fork(); exit 0 if $pid == 0; waitpid($pid, 0); print "fork ok\\n"'`,
  ].join("; ");
  const run = await sandboxed(script);
  const results = run.output;
  assert.match(results, new RegExp(`^clone3 -1 ${ENOSYS}$`, "m"), results);
  assert.match(results, new RegExp(`^clone-newuser -1 ${EPERM}$`, "m"), results);
  assert.match(results, new RegExp(`^unshare-newuser -1 ${EPERM}$`, "m"), results);
  for (const name of ["keyctl", "bpf", "io_uring_setup", "userfaultfd"]) assert.match(results, new RegExp(`^${name} -1 ${EPERM}$`, "m"), results);
  assert.match(results, /^fork ok$/m);

  // Without the filter the kernel itself answers clone3(NULL, 0) with EINVAL: the ENOSYS above is the filter's.
  const unfiltered = await sandboxed(rawSyscall("clone3", NR.clone3, 0, 0), { seccomp: false });
  assert.match(unfiltered.output, new RegExp(`^clone3 -1 ${EINVAL}$`, "m"), unfiltered.output);
});

test("Node, the supervisor's runtime, works under the filter: files, child processes, threads", async () => {
  const check = `
    const fs = require("fs"), cp = require("child_process"), { Worker } = require("worker_threads");
    fs.promises.readFile("/etc/passwd", "utf8").then((text) => {
      const echoed = cp.execFileSync("/bin/echo", ["child ok"]).toString().trim();
      new Worker('require("worker_threads").parentPort.postMessage("worker ok")', { eval: true })
        .on("message", (message) => console.log(text.includes("outpost") ? "read ok" : "read wrong", echoed, message));
    });
  `;
  const run = await sandboxed("/opt/outpost/bin/node /workspace/check.js", {}, (dir) => writeFileSync(join(dir, "workspace", "check.js"), check));
  assert.match(run.output, /^read ok child ok worker ok$/m, run.output);
  assert.equal(run.exitCode, 0);
});

test("/tmp and /dev/shm are capped at half and a quarter of the memory limit, and /dev takes no files", async () => {
  const { tmpSizeBytes, shmSizeBytes } = tmpfsSizes(64 * MiB);
  assert.deepEqual([tmpSizeBytes, shmSizeBytes], [32 * MiB, 16 * MiB]);
  const script = [
    "df -B1 --output=target,size /tmp /dev/shm",
    `dd if=/dev/zero of=/dev/shm/fill bs=1M count=${shmSizeBytes / MiB + 10} 2>&1; echo "shm dd exited $?"`,
    `dd if=/dev/zero of=/tmp/fill bs=1M count=${tmpSizeBytes / MiB + 10} 2>&1; echo "tmp dd exited $?"`,
    'touch /dev/planted 2>&1; echo "dev touch exited $?"',
    "stat -c '%n %a' /tmp /dev/shm",
  ].join("; ");
  const run = await sandboxed(script, { memoryBytes: 64 * MiB });
  assert.match(run.output, new RegExp(`^/tmp\\s+${tmpSizeBytes}$`, "m"), run.output);
  assert.match(run.output, new RegExp(`^/dev/shm\\s+${shmSizeBytes}$`, "m"), run.output);
  assert.match(run.output, /No space left on device[\s\S]*shm dd exited 1/, run.output);
  assert.match(run.output, /No space left on device[\s\S]*tmp dd exited 1/, run.output);
  assert.match(run.output, /Read-only file system[\s\S]*dev touch exited 1/, run.output);
  assert.match(run.output, /^\/tmp 1777$/m);
  assert.match(run.output, /^\/dev\/shm 1777$/m);
});

test("/etc/localtime inside is the host's link into /usr/share/zoneinfo, and Node sees the host's zone", async () => {
  let hostLink: string | undefined;
  try {
    hostLink = zoneinfoLink(readlinkSync("/etc/localtime"));
  } catch {
    // no link on this host: a plain file is bound (or nothing, when absent)
  }
  const run = await sandboxed("readlink /etc/localtime || echo 'not a link'; /opt/outpost/bin/node -p 'Intl.DateTimeFormat().resolvedOptions().timeZone'");
  const [inside, zone] = run.output.trim().split("\n");
  if (hostLink) assert.equal(inside, hostLink);
  else assert.equal(inside, "not a link");
  const hostZone = spawnSync(process.execPath, ["-p", "Intl.DateTimeFormat().resolvedOptions().timeZone"], { encoding: "utf8", env: {} });
  assert.equal(zone, hostZone.stdout.trim());
});

/** Listens on a unix socket; resolves once listening, with what the first client sends. */
async function acceptOne(path: string): Promise<{ received: Promise<string> }> {
  const server = createServer();
  const received = new Promise<string>((resolve) => {
    server.once("connection", (socket) => {
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
      });
      socket.on("end", () => {
        server.close();
        resolve(text);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, resolve);
  });
  return { received };
}

test("the link folder is read-only inside, its token readable and its socket dialable; no launcher fd reaches the sandbox", async () => {
  const dial = "require('net').connect('/run/outpost/link.sock', function () { this.end(require('fs').readFileSync('/run/outpost/token', 'utf8')); })";
  const script = [
    `/opt/outpost/bin/node -e "${dial}"`,
    'touch /run/outpost/planted 2>&1; echo "touch exited $?"',
    // bwrap's info, block, args, seccomp and status fds (3-7) stay outside.
    'for fd in 3 4 5 6 7; do [ -e /proc/$$/fd/$fd ] && echo "fd $fd is open"; done; echo "fds checked"',
  ].join("; ");
  let link: { received: Promise<string> } | undefined;
  const run = await sandboxed(script, {}, async (dir) => {
    writeFileSync(join(dir, "link", "token"), "the-token\n", { mode: 0o644 });
    link = await acceptOne(join(dir, "link", "link.sock"));
  });
  assert.ok(link);
  assert.equal(await link.received, "the-token\n");
  assert.match(run.output, /Read-only file system[\s\S]*touch exited 1/, run.output);
  assert.doesNotMatch(run.output, /is open/, run.output);
  assert.match(run.output, /^fds checked$/m);
});

test("bwrap's status file holds the command's exit code, and is the control plane's, 0600", async () => {
  // As root, bwrap runs as another uid, like a sandbox's: it writes through the fd it was handed.
  const run = await sandboxed("exit 7", isRoot ? { owner: NOBODY } : {});
  assert.equal(run.exitCode, 7);
  const status = statSync(join(run.dir, "status.json"));
  assert.equal(status.mode & 0o777, 0o600);
  assert.equal(status.uid, process.getuid?.());
  assert.match(readFileSync(join(run.dir, "status.json"), "utf8"), /"child-pid": \d+/);
});
