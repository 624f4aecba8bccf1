// Writes one commit into a bare repository with `git fast-import`: the files (and gitlinks
// for submodules) are streamed to a single git process, so a tree of 50 000 files takes
// seconds rather than the minutes a working tree plus `git add` would. Used by the test
// git server (createRepo) and by bench/git.ts.
import { spawn } from "node:child_process";
import { once } from "node:events";

/** A file's content, or a submodule pointer (gitlink, mode 160000) at a commit of another repository. */
export type ImportEntry = string | Uint8Array | { gitlink: string };

export interface ImportOptions {
  branch: string;
  message: string;
  /** Author and committer of the commit. */
  identity?: { name: string; email: string };
  /** Environment for git (HOME, config isolation); defaults to the caller's. */
  env?: NodeJS.ProcessEnv;
}

export const IMPORT_IDENTITY = { name: "Outpost Test", email: "test@outpost.local" };

/** fast-import takes unquoted paths unless they start with '"' or hold a newline; tests never need those. */
function checkedPath(path: string): string {
  if (
    !path ||
    path.startsWith("/") ||
    path.startsWith('"') ||
    /[\n\0]/.test(path) ||
    path.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    throw new Error(`importFiles: unsupported path ${JSON.stringify(path)}`);
  }
  return path;
}

/**
 * One commit with exactly `files` on `refs/heads/<branch>` of the bare repository at
 * `gitDir` (whose HEAD is pointed at the branch). Returns the commit's sha.
 */
export async function importFiles(gitDir: string, files: Iterable<[string, ImportEntry]>, options: ImportOptions): Promise<string> {
  const child = spawn("git", ["--git-dir", gitDir, "fast-import", "--quiet", "--done"], { env: options.env ?? process.env, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = once(child, "close") as Promise<[number | null]>;
  // An early exit (bad input) breaks the pipe: its stderr says why, not EPIPE.
  child.stdin.on("error", () => {});
  const write = async (data: string | Uint8Array) => {
    if (!child.stdin.write(data)) await Promise.race([once(child.stdin, "drain"), exited]);
  };

  const { name, email } = options.identity ?? IMPORT_IDENTITY;
  const when = `${Math.floor(Date.now() / 1000)} +0000`;
  const message = Buffer.from(options.message);
  await write(`commit refs/heads/${options.branch}\nauthor ${name} <${email}> ${when}\ncommitter ${name} <${email}> ${when}\ndata ${message.length}\n`);
  await write(message);
  await write("\n");
  for (const [path, entry] of files) {
    if (typeof entry === "object" && "gitlink" in entry) {
      if (!/^[0-9a-f]{40}$/.test(entry.gitlink)) throw new Error(`importFiles: gitlink of ${path} is not a sha: ${entry.gitlink}`);
      await write(`M 160000 ${entry.gitlink} ${checkedPath(path)}\n`);
      continue;
    }
    const data = typeof entry === "string" ? Buffer.from(entry) : entry;
    await write(`M 100644 inline ${checkedPath(path)}\ndata ${data.length}\n`);
    await write(data);
    await write("\n");
  }
  await write("\ndone\n");
  child.stdin.end();
  const [code] = await exited;
  if (code !== 0) throw new Error(`git fast-import into ${gitDir} exited ${code}: ${stderr.trim()}`);

  const head = spawn("git", ["--git-dir", gitDir, "symbolic-ref", "HEAD", `refs/heads/${options.branch}`], {
    env: options.env ?? process.env,
    stdio: "ignore",
  });
  const [headCode] = (await once(head, "close")) as [number | null];
  if (headCode !== 0) throw new Error(`git symbolic-ref HEAD in ${gitDir} exited ${headCode}`);
  return await revParse(gitDir, `refs/heads/${options.branch}`, options.env);
}

async function revParse(gitDir: string, ref: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn("git", ["--git-dir", gitDir, "rev-parse", "--verify", ref], { env: env ?? process.env, stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`git rev-parse ${ref} in ${gitDir} exited ${code}`);
  return out.trim();
}
