// Where the file routes may reach: the workspace and the sandbox user's home, never what a
// symlink in them points at elsewhere. The supervisor runs as the sandbox's own uid, so
// this is not about privilege: a viewer may read files through the API but not run
// commands, and /proc/<pid>/environ, /run/outpost/token or /etc must stay out of reach.
//
// How: a request's path is made absolute lexically (relative → under the workspace, `..`
// refused outright), realpath'd (every symlink followed, the result must lie in a root),
// then opened with O_NOFOLLOW and checked once more through /proc/self/fd/N, which names
// what the kernel actually opened. That last check closes the race in which a component is
// swapped for a symlink between the realpath and the open. Everything below a folder is
// then reached through "/proc/self/fd/<dir fd>/<name>": the kernel resolves the folder
// from the descriptor (like openat), so renaming or replacing the folder's path meanwhile
// cannot redirect a write, and the final name is never followed (O_NOFOLLOW, rename and
// unlink act on the link itself).
import { constants, realpathSync, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readlink, realpath, stat } from "node:fs/promises";
import { posix } from "node:path";
import { MAX_FILE_PATH_CHARS } from "../../protocol-schemas.ts";
import { invalid, SupervisorError } from "../errors.ts";
import { giveToUser } from "../identity.ts";

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
/** Opening must never block or take a terminal: FIFOs and devices are refused after fstat. */
export const OPEN_READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
export const OPEN_DIRECTORY = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** The path of `name` inside the folder open as `dir`, resolved by the kernel from the descriptor. */
export const inDir = (dir: FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`;
export const fdPath = (handle: FileHandle): string => `/proc/self/fd/${handle.fd}`;

export const outside = (message: string): SupervisorError => new SupervisorError("PATH_OUTSIDE_SANDBOX", message);

export class Confinement {
  /** Relative paths start here. */
  readonly workspace: string;
  /** As configured (lexical checks) and as the kernel names them (checks of opened files). */
  readonly #roots: string[];
  readonly #realRoots: string[];

  private constructor(roots: string[], realRoots: string[]) {
    this.workspace = roots[0] as string;
    this.#roots = roots;
    this.#realRoots = realRoots;
  }

  /** The workspace first; a home of "/" (or none) would confine nothing and is left out. */
  static create(workspace: string, home: string | undefined): Confinement {
    const roots = [workspace, home]
      .filter((root): root is string => typeof root === "string" && posix.isAbsolute(root))
      .map((root) => posix.normalize(root).replace(/(.)\/$/, "$1"))
      .filter((root, index, all) => root !== "/" && all.indexOf(root) === index);
    const realRoots = roots.map((root) => {
      try {
        return realpathSync(root);
      } catch {
        return root;
      }
    });
    return new Confinement(roots, realRoots);
  }

  /** Names the roots for messages: "/workspace and /home/outpost". */
  get described(): string {
    return this.#roots.join(" and ");
  }

  /**
   * A path from a request made absolute and normal without touching the disk: relative
   * paths start at the workspace; `..` anywhere, NUL, and anything outside the roots are
   * refused.
   */
  lexical(input: unknown, field = "path"): string {
    if (typeof input !== "string" || input === "") throw invalid(`'${field}' is required.`);
    if (input.length > MAX_FILE_PATH_CHARS) throw invalid(`'${field}' must be at most ${MAX_FILE_PATH_CHARS} characters long.`);
    if (input.includes("\0")) throw invalid(`'${field}' must not contain NUL characters.`);
    if (input.split("/").includes("..")) throw outside(`${short(input)}: '..' is not allowed in paths; name the file from ${this.described}.`);
    const absolute = posix.normalize(input.startsWith("/") ? input : `${this.workspace}/${input}`).replace(/(.)\/$/, "$1");
    if (!this.#within(absolute, this.#roots)) throw outside(`${short(absolute)} is outside ${this.described}.`);
    return absolute;
  }

  isRoot(absolute: string): boolean {
    return this.#roots.includes(absolute);
  }

  /** Whether a path the kernel gave (realpath, /proc/self/fd) lies in a root. */
  isInside(real: string): boolean {
    return this.#within(real, this.#realRoots);
  }

  /** Follows every symlink; the result must exist and lie in a root. */
  async resolve(absolute: string): Promise<string> {
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") await this.#refuseLinkOut(absolute);
      throw fsError(error, absolute);
    }
    if (!this.isInside(real)) throw this.#leadsOut(absolute);
    return real;
  }

  /**
   * A path that does not resolve may still go through a symlink that points out (to a
   * place this sandbox cannot even see, such as another sandbox's folder): that is said as
   * such rather than as "not found".
   */
  async #refuseLinkOut(absolute: string): Promise<void> {
    let current = "";
    for (const part of absolute.split("/").filter(Boolean)) {
      current = `${current}/${part}`;
      const stats = await lstat(current).catch(() => null);
      if (!stats?.isSymbolicLink()) {
        if (stats) continue;
        return;
      }
      const target = await readlink(current).catch(() => null);
      const where = target === null ? current : posix.resolve(posix.dirname(current), target);
      if (!this.#within(where, this.#roots) && !this.isInside(where)) throw this.#leadsOut(absolute);
      return;
    }
  }

  /** Opens an existing path (through symlinks that stay inside) and checks what was opened. */
  async open(absolute: string, flags = OPEN_READ): Promise<FileHandle> {
    const real = await this.resolve(absolute);
    let handle: FileHandle;
    try {
      handle = await open(real, flags);
    } catch (error) {
      throw fsError(error, absolute);
    }
    await this.verify(handle, absolute);
    return handle;
  }

  /** An existing folder, opened. */
  async openDirectory(absolute: string): Promise<FileHandle> {
    return this.open(absolute, OPEN_DIRECTORY);
  }

  /** Closes and refuses a descriptor that is not in a root (a component was swapped meanwhile). */
  async verify(handle: FileHandle, absolute: string): Promise<void> {
    let where: string;
    try {
      where = await readlink(fdPath(handle));
    } catch (error) {
      await handle.close();
      throw fsError(error, absolute);
    }
    if (this.isInside(where)) return;
    await handle.close();
    throw this.#leadsOut(absolute);
  }

  /**
   * A folder, created with its missing parents (mkdir -p) when needed. The deepest part
   * that exists is resolved like any path; each missing folder is then made and opened
   * through its parent's descriptor, so nothing created can land outside a root.
   */
  async ensureDirectory(absolute: string): Promise<FileHandle> {
    const missing: string[] = [];
    let base = absolute;
    for (;;) {
      try {
        await realpath(base);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || this.isRoot(base)) throw fsError(error, base);
        // A symlink to nothing is there, but leads nowhere a folder could be made safely.
        if ((await lstat(base).catch(() => null))?.isSymbolicLink()) {
          throw new SupervisorError("PATH_NOT_FOUND", `${short(base)} is a symlink to something that does not exist.`);
        }
        missing.unshift(posix.basename(base));
        base = posix.dirname(base);
      }
    }
    let dir = await this.openDirectory(base);
    for (const name of missing) {
      const child = inDir(dir, name);
      let next: FileHandle;
      try {
        await mkdir(child, 0o755).then(
          () => giveToUser(child),
          (error: NodeJS.ErrnoException) => {
            if (error.code !== "EEXIST") throw error;
          },
        );
        next = await open(child, OPEN_DIRECTORY);
      } catch (error) {
        throw fsError(error, posix.join(base, name));
      } finally {
        await dir.close();
      }
      dir = next;
      base = posix.join(base, name);
    }
    return dir;
  }

  /**
   * The folder a new or replaced entry goes into, opened, and the entry's name there. The
   * name itself is never followed; a root cannot be the entry.
   */
  async parent(absolute: string, { create = false } = {}): Promise<{ dir: FileHandle; name: string }> {
    if (this.isRoot(absolute)) throw invalid(`${absolute} is a root folder of the sandbox; name something inside it.`);
    const folder = posix.dirname(absolute);
    const dir = create ? await this.ensureDirectory(folder) : await this.openDirectory(folder);
    return { dir, name: posix.basename(absolute) };
  }

  #within(path: string, roots: string[]): boolean {
    return roots.some((root) => path === root || path.startsWith(`${root}/`));
  }

  #leadsOut(absolute: string): SupervisorError {
    return outside(`${short(absolute)} is (or goes through) a symlink that points outside ${this.described}; such symlinks are not followed.`);
  }
}

/** The lstat of a path, or null when nothing is there. */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** stat for a file that cannot be opened (a socket: ENXIO). */
export const statPath = (path: string): Promise<Stats> => stat(path);

/** A file system error as a protocol error naming the path; anything unexpected stays a bug (500). */
export function fsError(error: unknown, absolute: string): unknown {
  if (error instanceof SupervisorError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const where = short(absolute);
  switch (code) {
    case "ENOENT":
      return new SupervisorError("PATH_NOT_FOUND", `No such file or folder: ${where}.`);
    case "ENOTDIR":
      return new SupervisorError("NOT_A_DIRECTORY", `${where}: a part of the path is not a folder.`);
    case "EISDIR":
      return new SupervisorError("NOT_A_FILE", `${where} is a folder.`);
    case "EEXIST":
      return new SupervisorError("PATH_EXISTS", `${where} already exists.`);
    case "ENOTEMPTY":
      return new SupervisorError("DIRECTORY_NOT_EMPTY", `${where} is a folder that is not empty.`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new SupervisorError("FILE_PERMISSION_DENIED", `Permission denied: ${where}.`);
    case "ENOSPC":
    case "EDQUOT":
      return new SupervisorError("FILE_TOO_LARGE", `No space left in the sandbox for ${where}.`);
    case "EFBIG":
      return new SupervisorError("FILE_TOO_LARGE", `${where} would be larger than the sandbox allows.`);
    case "EXDEV":
      return new SupervisorError("MOVE_ACROSS_FILESYSTEMS", `${where}: the workspace and the home folder are separate file systems; a move cannot cross them.`);
    case "ELOOP":
      return outside(`${where} is a symlink (or has too many levels of them); it is not followed here.`);
    case "ENAMETOOLONG":
      return invalid(`${where}: a name in the path is too long.`);
    case "EBUSY":
      return new SupervisorError("FILE_PERMISSION_DENIED", `${where} is in use (a mount point) and cannot be changed.`);
    case "EINVAL":
      return invalid(`${where}: the operation is not possible there (a folder cannot move into itself).`);
    case "ENXIO":
    case "ENODEV":
      return new SupervisorError("NOT_A_FILE", `${where} is not a regular file.`);
    default:
      return error;
  }
}

/** Paths end up in messages, which the client cuts at 1000 characters: keep both ends. */
function short(path: string): string {
  return path.length > 300 ? `${path.slice(0, 150)}…${path.slice(-140)}` : path;
}
