// Files in a sandbox, as use cases: what a path is, its bytes both ways, mkdir, move,
// delete, tar archives both ways and a folder's change feed. Everything goes through the
// sandbox's supervisor, which confines paths to the workspace and home; the control plane
// never touches a sandbox's folders itself (as root it would follow the sandbox's
// symlinks). A stopped sandbox answers 409 SANDBOX_WRONG_PHASE: its files are there again
// once it is started (one stopped for idleness is woken by the request itself). Reading needs the viewer role, changing the editor role.
import type { Principal } from "../domain/authorization.ts";
import type { FileContent } from "../supervisor/client.ts";
import type {
  ArchiveSummary,
  DeletePathRequest,
  DeletePathResult,
  FileInfo,
  MakeDirectoryRequest,
  MovePathRequest,
  WatchLine,
  WriteFileResult,
} from "../supervisor/protocol.ts";
import type { SandboxCommands } from "./sandbox-commands.ts";

export type { FileContent } from "../supervisor/client.ts";

type Commands = Pick<SandboxCommands, "connect" | "call" | "translate">;

/** A folder's entries at the moment its watch began, then what changes. */
export interface FolderWatch {
  snapshot: FileInfo;
  changes: AsyncIterable<Exclude<WatchLine, { type: "ready" }>>;
}

export class SandboxFiles {
  constructor(private readonly commands: Commands) {}

  async info(principal: Principal, ref: string, path: string): Promise<FileInfo> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.read");
    return this.commands.call(() => client.fileInfo(path));
  }

  /** Resolves once the file is open; its bytes stream as `body` is iterated. */
  async read(principal: Principal, ref: string, path: string, range: { start?: number; end?: number }, signal?: AbortSignal): Promise<FileContent> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.read", signal);
    const content = await this.commands.call(() => client.readFile(path, { ...range, signal }));
    return { ...content, body: this.#translated(content.body) };
  }

  async write(
    principal: Principal,
    ref: string,
    path: string,
    body: AsyncIterable<Uint8Array>,
    options: { parents?: boolean; overwrite?: boolean; mode?: number; signal?: AbortSignal },
  ): Promise<WriteFileResult> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.write", options.signal);
    return this.commands.call(() => client.writeFile(path, body, options));
  }

  async makeDirectory(principal: Principal, ref: string, request: MakeDirectoryRequest): Promise<FileInfo> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.write");
    return this.commands.call(() => client.makeDirectory(request));
  }

  async move(principal: Principal, ref: string, request: MovePathRequest): Promise<FileInfo> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.write");
    return this.commands.call(() => client.movePath(request));
  }

  async remove(principal: Principal, ref: string, request: DeletePathRequest): Promise<DeletePathResult> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.write");
    return this.commands.call(() => client.deletePath(request));
  }

  /** A folder (or file) as a tar archive; resolves once the supervisor started it. */
  async archive(principal: Principal, ref: string, path: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.read", signal);
    return this.#translated(await this.commands.call(() => client.downloadArchive(path, { signal })));
  }

  async extract(principal: Principal, ref: string, path: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ArchiveSummary> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.write", signal);
    return this.commands.call(() => client.uploadArchive(path, body, { signal }));
  }

  /**
   * A folder's change feed: the watch starts first, then the folder is listed, so nothing
   * that changes in between is missed (it may show up both in the snapshot and as a change;
   * a change carries the entry as it is, so applying it again is harmless).
   */
  async watch(principal: Principal, ref: string, path: string, signal: AbortSignal): Promise<FolderWatch> {
    const { client } = await this.commands.connect(principal, ref, "sandbox.files.read", signal);
    const lines = (await this.commands.call(() => client.watchFolder(path, { signal })))[Symbol.asyncIterator]();
    try {
      const first = await this.commands.call(() => lines.next());
      if (first.done || first.value.type !== "ready") throw this.commands.translate(new Error("the supervisor's watch did not start"));
      const snapshot = await this.commands.call(() => client.fileInfo(path, signal));
      const rest = { [Symbol.asyncIterator]: () => lines } as AsyncIterable<WatchLine>;
      return { snapshot, changes: this.#translated(rest) as AsyncIterable<Exclude<WatchLine, { type: "ready" }>> };
    } catch (error) {
      await lines.return?.();
      throw error;
    }
  }

  /** A stream from the supervisor whose failures come out as registered codes. */
  async *#translated<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
    try {
      yield* stream;
    } catch (error) {
      throw this.commands.translate(error);
    }
  }
}
