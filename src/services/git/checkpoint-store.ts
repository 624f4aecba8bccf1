// The host's copy of every sandbox's checkpoints: one bare repository per sandbox, owned by
// the control plane (<data dir>/checkpoints/<sandbox id>.git), because the agent can delete
// refs and run `git gc` inside the sandbox. Running git on the host is safe here because of
// what these repositories are: the control plane made them, they never have a working tree,
// host git runs with hooks off, no user or system config and no inherited GIT_* variables,
// and objects only come in as bundles checked object by object (what comes out of a sandbox
// is untrusted) before any ref points at them.

import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OutpostError } from "../../domain/errors.ts";
import { HOST_GIT_OPTIONS, isSha, type ParsedCheckpoint, parseBundleHeader, parseCheckpointCommit } from "../../domain/git/checkpoints.ts";
import { randomLowerAlnum } from "../../domain/ids.ts";

const DEFAULT_MAX_BUNDLE_BYTES = 2 * 1024 ** 3;
const DEFAULT_HOST_TIMEOUT_MS = 10 * 60_000;
/** Enough of a bundle to hold its header (a few prerequisites and one ref). */
const BUNDLE_HEADER_BYTES = 1024 * 1024;

export interface CheckpointStoreOptions {
  /** The control plane's data dir; checkpoint repositories live in <dataDir>/checkpoints. */
  dataDir: string;
  /** A bundle (what is new since the last checkpoint) larger than this is refused. */
  maxBundleBytes?: number;
  /** Bound on each host git command. */
  hostTimeoutMs?: number;
}

/** A checkpoint commit as the host repository has it. */
export type StoredCheckpoint = ParsedCheckpoint & { indexTree: string };

interface HostGitResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export class CheckpointStore {
  readonly #root: string;

  constructor(private readonly options: CheckpointStoreOptions) {
    this.#root = join(options.dataDir, "checkpoints");
    // Bundles on their way in or out when the last control plane was killed: nobody reads them now.
    if (existsSync(this.#root)) {
      for (const name of readdirSync(this.#root)) if (/^\.(incoming|outgoing)-/.test(name)) rmSync(join(this.#root, name), { force: true });
    }
  }

  /** The host repository that keeps a sandbox's checkpoint objects. */
  repository(sandboxId: string): string {
    return join(this.#root, `${sandboxId}.git`);
  }

  /**
   * Keeps a bundle that came out of the sandbox (one ref, `want.ref` at `want.commit`, and
   * the objects new since the last checkpoint): creates the repository if needed, copies the
   * bundle in within the size bound, checks it and points the ref at the commit.
   */
  async import(sandboxId: string, bundle: AsyncIterable<Buffer>, want: { ref: string; commit: string }, signal?: AbortSignal): Promise<void> {
    const repo = await this.#open(sandboxId);
    const local = join(this.#root, `.incoming-${randomLowerAlnum(10)}.bundle`);
    try {
      await this.#receive(bundle, local, signal);
      await this.#unbundle(repo, local, want.ref, want.commit, signal);
    } finally {
      await rm(local, { force: true });
    }
  }

  /** The checkpoint as the host keeps it: trusted, unlike the sandbox's copy. */
  async read(sandboxId: string, checkpoint: { id: string; commitSha: string }): Promise<StoredCheckpoint> {
    const repo = this.repository(sandboxId);
    const raw = existsSync(repo) ? await this.#git(repo, ["cat-file", "commit", checkpoint.commitSha]) : null;
    const parsed = raw?.code === 0 ? parseCheckpointCommit(raw.stdout.toString("utf8")) : null;
    if (!parsed) {
      throw new OutpostError("CHECKPOINT_NOT_FOUND", `Checkpoint ${checkpoint.id}'s objects are missing from the host's store.`, {
        details: { checkpoint: checkpoint.id },
      });
    }
    const indexTree = (await this.#gitOk(repo, ["rev-parse", "--verify", `${parsed.indexCommit}^{tree}`])).toString("utf8").trim();
    if (!isSha(indexTree)) throw new OutpostError("CHECKPOINT_REJECTED", "The sandbox's git answered something that is not an object name.");
    return { ...parsed, indexTree };
  }

  /**
   * Bundles `ref` (without what `have`, a commit the receiver holds, already brings) and
   * hands it to `send`; the bundle file is gone once `send` settles.
   */
  async export(sandboxId: string, ref: string, have: string | null, send: (bundle: Readable) => Promise<void>, signal?: AbortSignal): Promise<void> {
    const repo = this.repository(sandboxId);
    const local = join(this.#root, `.outgoing-${randomLowerAlnum(10)}.bundle`);
    try {
      await this.#gitOk(repo, ["bundle", "create", "-q", local, ref, ...(have ? [`^${have}`] : [])], signal);
      await send(createReadStream(local));
    } finally {
      await rm(local, { force: true });
    }
  }

  /** Drops a sandbox's repository. */
  async forget(sandboxId: string): Promise<void> {
    await rm(this.repository(sandboxId), { recursive: true, force: true });
  }

  async #open(sandboxId: string): Promise<string> {
    const repo = this.repository(sandboxId);
    if (!existsSync(join(repo, "HEAD"))) {
      await mkdir(this.#root, { recursive: true, mode: 0o700 });
      await this.#gitOk(null, ["init", "-q", "--bare", repo]);
    }
    return repo;
  }

  /** Streams a bundle into `local`, refusing more than the bound. */
  async #receive(body: AsyncIterable<Buffer>, local: string, signal?: AbortSignal): Promise<void> {
    const max = this.options.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
    let size = 0;
    const bounded = async function* () {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > max) {
          throw new OutpostError("CHECKPOINT_TOO_LARGE", `The checkpoint's new objects are larger than ${Math.round(max / 1024 ** 2)} MiB.`);
        }
        yield chunk;
      }
    };
    await pipeline(Readable.from(bounded()), createWriteStream(local, { mode: 0o600 }), { signal });
  }

  /**
   * Puts a bundle's objects into the host repository and points `ref` at `commit`. Not
   * `git fetch <bundle>`: git 2.39 does not fsck bundled objects. Instead the pack goes
   * through `index-pack --strict` (every object checked, every link present), then a
   * connectivity check, then the ref.
   */
  async #unbundle(repo: string, local: string, ref: string, commit: string, signal?: AbortSignal): Promise<void> {
    const handle = await open(local, "r");
    let head: Buffer;
    try {
      const buffer = Buffer.alloc(BUNDLE_HEADER_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    const header = parseBundleHeader(head);
    if (!header || header.refs.length !== 1 || header.refs[0]?.name !== ref || header.refs[0].sha !== commit) {
      throw new OutpostError("CHECKPOINT_REJECTED", "The sandbox's checkpoint bundle is not what was asked for.");
    }
    const indexed = await this.#git(repo, ["index-pack", "--stdin", "--fix-thin", "--strict"], signal, createReadStream(local, { start: header.packOffset }));
    if (indexed.code !== 0) {
      throw new OutpostError("CHECKPOINT_REJECTED", `The sandbox's checkpoint objects failed git's checks: ${lastLines(indexed.stderr)}`);
    }
    const connected = await this.#git(repo, ["rev-list", "--objects", "--quiet", commit, "--not", "--all"], signal);
    if (connected.code !== 0) throw new OutpostError("CHECKPOINT_REJECTED", `The sandbox's checkpoint is missing objects: ${lastLines(connected.stderr)}`);
    await this.#gitOk(repo, ["update-ref", ref, commit], signal);
    // One pack per checkpoint otherwise; `--auto` repacks only past git's thresholds.
    await this.#git(repo, ["gc", "--auto", "--quiet"], signal);
  }

  async #gitOk(repo: string | null, args: string[], signal?: AbortSignal): Promise<Buffer> {
    const out = await this.#git(repo, args, signal);
    if (out.code !== 0) throw new OutpostError("INTERNAL", `host git ${args[0]} failed: ${lastLines(out.stderr)}`);
    return out.stdout;
  }

  /** Host git: no inherited GIT_* variables, no user or system config, no hooks, bounded in time. */
  #git(repo: string | null, args: string[], signal?: AbortSignal, stdin?: Readable): Promise<HostGitResult> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("GIT_") && value !== undefined) env[key] = value;
    Object.assign(env, { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" });
    const timeout = AbortSignal.timeout(this.options.hostTimeoutMs ?? DEFAULT_HOST_TIMEOUT_MS);
    const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
    return new Promise((resolve, reject) => {
      const child = spawn("git", [...(repo ? ["--git-dir", repo] : []), ...HOST_GIT_OPTIONS, ...args], {
        env,
        cwd: this.options.dataDir,
        stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
        signal: abort,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
      child.on("error", (error) => reject(abort.aborted && timeout.aborted ? new OutpostError("INTERNAL", `host git ${args[0]} timed out`) : error));
      child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8").slice(-8192) }));
      if (stdin && child.stdin) {
        // index-pack may stop reading early (a broken pack): its exit code tells why.
        child.stdin.on("error", () => {});
        stdin.on("error", (error) => {
          child.kill("SIGKILL");
          reject(error);
        });
        stdin.pipe(child.stdin);
      }
    });
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-4).join("\n").slice(0, 1000);
}
