// A real OpenSSH server for git tests: Debian's /usr/sbin/sshd on 127.0.0.1:<free port>,
// with its own config, host key and authorized_keys in a temp dir, logging in as the user
// running the tests (root on CI), and bare repositories under that dir. Sandboxes reach it
// as host.outpost.internal:<port> through the egress proxy.
//   const sshd = await startSshd();
//   sshd.createRepo("repo", { "README.md": "hi\n" });
//   sshd.authorize(publicKeyLine);
//   sshd.url("repo")  → ssh://root@host.outpost.internal:<port>/<dir>/repos/repo.git
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";

export const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  port: number;
  /** Where the bare repositories live (`<root>/<name>.git`). */
  root: string;
  user: string;
  /** The repository's URL as a sandbox uses it. */
  url(name: string): string;
  /** A bare repository with one commit on `main` holding `files`. */
  createRepo(name: string, files: Record<string, string>): string;
  /** Lets this OpenSSH public key line log in. */
  authorize(publicKey: string): void;
  /** Everything sshd logged so far (`Accepted publickey for … SHA256:…` per login). */
  log(): string;
  /** Resolves once the log matches (sshd logs each login as it happens). */
  waitForLog(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Host git with a fixed identity and no user or system config. */
function git(args: string[], cwd?: string): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: tmpdir(),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Fixture",
      GIT_AUTHOR_EMAIL: "fixture@example.test",
      GIT_COMMITTER_NAME: "Fixture",
      GIT_COMMITTER_EMAIL: "fixture@example.test",
    },
  });
}

export { git as hostGit };

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), "outpost-sshd-"));
  const root = join(dir, "repos");
  mkdirSync(root);
  const hostKey = join(dir, "host_ed25519");
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, "", { mode: 0o600 });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-sshd", "-f", hostKey]);
  // sshd refuses to start without its privilege separation folder (absent in containers).
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const user = userInfo().username;
  const config = join(dir, "sshd_config");

  let child: ChildProcess | undefined;
  let output = "";
  const waiters: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  let port = 0;
  // A port found free can be taken before sshd binds it: try a few.
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "StrictModes no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        `AllowUsers ${user}`,
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    const started = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    const listening = await new Promise<boolean>((resolve) => {
      started.stderr?.setEncoding("utf8");
      started.stderr?.on("data", (chunk: string) => {
        output += chunk;
        if (/Server listening on 127\.0\.0\.1 port/.test(output)) resolve(true);
        for (const waiter of [...waiters]) {
          const match = waiter.pattern.exec(output);
          if (match) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(match[0]);
          }
        }
      });
      started.once("exit", () => resolve(false));
      started.once("error", () => resolve(false));
    });
    if (listening) child = started;
    else if (!/Address already in use/.test(output)) throw new Error(`sshd did not start:\n${output}`);
  }
  if (!child) throw new Error(`sshd found no free port:\n${output}`);
  const running = child;

  return {
    port,
    root,
    user,
    url: (name) => `ssh://${user}@host.outpost.internal:${port}${join(root, `${name}.git`)}`,
    createRepo(name, files) {
      const bare = join(root, `${name}.git`);
      git(["init", "-q", "--bare", "-b", "main", bare]);
      const work = mkdtempSync(join(tmpdir(), "outpost-sshd-work-"));
      try {
        git(["init", "-q", "-b", "main"], work);
        for (const [path, content] of Object.entries(files)) {
          mkdirSync(dirname(join(work, path)), { recursive: true });
          writeFileSync(join(work, path), content);
        }
        git(["add", "-A"], work);
        git(["commit", "-q", "-m", "initial"], work);
        git(["push", "-q", bare, "main"], work);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
      return bare;
    },
    authorize(publicKey) {
      appendFileSync(authorizedKeys, `restrict ${publicKey.trim()}\n`);
    },
    log: () => output,
    waitForLog(pattern) {
      const match = pattern.exec(output);
      if (match) return Promise.resolve(match[0]);
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
    async stop() {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
