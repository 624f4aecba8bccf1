// Base images on this machine: root filesystem folders, each made once and shared read-only
// by every sandbox that uses it (mounted idmapped, never written: drivers/local/rootfs/).
//   <dir>/<key>/rootfs     a finished image, with an image's ids (root 0, sandbox user 1000)
//   <dir>/<key>/image.json what it was made from, when, how big
//   <dir>/<key>.partial/   one being made (a kill leaves it; the next build starts over)
// Sources: a Debian root by debootstrap (debian-root.ts), an OCI image layout or archive
// under the import folder (oci/), and the ready-made `outpost:default` (Debian plus a
// built-in setup layer, see builder.ts). The host's /usr is no image: nothing to make.
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { type ImageRef, imageKey } from "../../domain/environments.ts";
import { OutpostError } from "../../domain/errors.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { makeDebianRoot } from "./debian-root.ts";
import { unpackOciImage } from "./oci/unpack.ts";

export interface ImageStoreOptions {
  /** <data dir>/environments/images */
  dir: string;
  /** Where OCI layouts and archives may be read from (nothing outside it is). */
  importDir: string;
  debianMirror: string;
  debianCacheDir?: string;
}

export interface BuiltImage {
  key: string;
  rootfs: string;
}

const SANDBOX_USER_LINES = {
  passwd: "outpost:x:1000:1000:Outpost sandbox:/home/outpost:/bin/bash",
  group: "outpost:x:1000:",
};

export class ImageStore {
  readonly #queue = new KeyedQueue();
  /** Keys being made by this process now (their .partial folders are not leftovers). */
  readonly #building = new Set<string>();

  constructor(readonly options: ImageStoreOptions) {}

  /** Where the image is (or would be), without making it. */
  plan(image: Exclude<ImageRef, { kind: "host" }>): BuiltImage & { ready: boolean } {
    const base = image.kind === "outpost" ? ({ kind: "debian", suite: "bookworm" } as const) : image;
    const key = imageKey(base, base.kind === "debian" ? this.options.debianMirror : this.#sourceDigest(base));
    const rootfs = join(this.options.dir, key, "rootfs");
    return { key, rootfs, ready: existsSync(rootfs) };
  }

  /** The image's root filesystem, made when missing (concurrent callers share one build). */
  async ensure(image: Exclude<ImageRef, { kind: "host" }>, options: { signal: AbortSignal; progress(line: string): void }): Promise<BuiltImage> {
    const { key, rootfs, ready } = this.plan(image);
    if (ready) return { key, rootfs };
    const base = image.kind === "outpost" ? ({ kind: "debian", suite: "bookworm" } as const) : image;
    return this.#queue.run(
      key,
      async () => {
        if (existsSync(rootfs)) return { key, rootfs };
        this.#building.add(key);
        try {
          await this.#make(base, key, options);
        } finally {
          this.#building.delete(key);
        }
        return { key, rootfs };
      },
      options.signal,
    );
  }

  /** Makes the image in <key>.partial, then renames it into place (a kill leaves no half image). */
  async #make(
    base: Exclude<ImageRef, { kind: "host" | "outpost" }>,
    key: string,
    options: { signal: AbortSignal; progress(line: string): void },
  ): Promise<void> {
    const partial = join(this.options.dir, `${key}.partial`);
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true, mode: 0o711 });
    const target = join(partial, "rootfs");
    if (base.kind === "debian") {
      await makeDebianRoot({
        suite: base.suite,
        mirror: this.options.debianMirror,
        target,
        cacheDir: this.options.debianCacheDir,
        signal: options.signal,
        progress: options.progress,
      });
    } else {
      const source = this.#importPath(base.path);
      await unpackOciImage({
        source: { kind: base.kind === "oci-layout" ? "layout" : "archive", path: source, ref: base.ref },
        target,
        signal: options.signal,
        onProgress: (p) => options.progress(describeProgress(p)),
      });
    }
    addSandboxUser(target);
    writeFileSync(join(partial, "image.json"), `${JSON.stringify({ source: base, madeAt: new Date().toISOString() })}\n`);
    renameSync(partial, join(this.options.dir, key));
    options.progress(`image ${key} ready`);
  }

  /** Image folders whose root filesystem is not in `keep`, removed; returns what went. */
  collect(keep: Set<string>): string[] {
    if (!existsSync(this.options.dir)) return [];
    const removed: string[] = [];
    for (const name of readdirSync(this.options.dir)) {
      if (keep.has(join(this.options.dir, name, "rootfs")) || this.#building.has(name.replace(/\.partial$/, ""))) continue;
      rmSync(join(this.options.dir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  /** An OCI source's path, only inside the import folder (after symlinks). */
  #importPath(path: string): string {
    const importDir = this.options.importDir;
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new OutpostError("IMAGE_SOURCE_NOT_FOUND", `${path} does not exist`, { details: { importDir } });
    }
    mkdirSync(importDir, { recursive: true, mode: 0o700 });
    const inside = relative(realpathSync(importDir), real);
    if (inside === "" || inside.startsWith("..") || inside.startsWith("/"))
      throw new OutpostError("IMAGE_SOURCE_NOT_FOUND", `${path} is not inside the image import folder ${importDir}`, { details: { importDir } });
    return real;
  }

  /** What names an OCI source's content: its index (a layout) or the archive's bytes' size and time. */
  #sourceDigest(image: Extract<ImageRef, { path: string }>): string {
    const path = this.#importPath(image.path);
    const hash = createHash("sha256");
    if (image.kind === "oci-layout") hash.update(readFileSync(join(path, "index.json")));
    else {
      const info = statSync(path);
      hash.update(`${info.size}:${info.mtimeMs}:${info.ino}`);
    }
    return hash.digest("hex");
  }
}

/** Every image gets the sandbox user (uid 1000), whom commands run as, and its home. The
 *  image's own /etc stays otherwise (packages may add users to it). */
function addSandboxUser(root: string): void {
  for (const [file, line] of Object.entries(SANDBOX_USER_LINES)) {
    const path = join(root, "etc", file);
    const content = existsSync(path) ? readFileSync(path, "utf8") : "";
    const taken = content.split("\n").some((entry) => entry.startsWith("outpost:") || entry.split(":")[2] === "1000");
    if (!taken) appendFileSync(path, `${content === "" || content.endsWith("\n") ? "" : "\n"}${line}\n`);
  }
  for (const folder of ["home/outpost", "root", "tmp", "workspace"]) mkdirSync(join(root, folder), { recursive: true });
  // apt drops to its _apt user to download; a sandbox maps only root and its user, so apt
  // stays root inside (still unprivileged on the host).
  if (existsSync(join(root, "etc", "apt", "apt.conf.d")))
    writeFileSync(join(root, "etc", "apt", "apt.conf.d", "00outpost-sandbox"), 'APT::Sandbox::User "root";\n');
}

function describeProgress(progress: unknown): string {
  if (progress && typeof progress === "object") {
    const p = progress as Record<string, unknown>;
    if (typeof p.layer === "number" && typeof p.layers === "number") return `unpacking layer ${p.layer} of ${p.layers}`;
  }
  return "unpacking";
}
