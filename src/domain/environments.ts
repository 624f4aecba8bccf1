// Environments (issue 20), the pure part: how an image is named, what keys a build's cache,
// and the limits on what users send. An environment is a base image plus a setup script run
// once (as root inside) and cached, a maintenance script run at every start, and the env
// and egress of the setup phase. Projects name one; sandboxes of those projects start from
// its image with the setup's result under their own writable layer (drivers/local/rootfs/).
import { createHash } from "node:crypto";
import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from "./egress-policy.ts";

/** How an image is named (the `image` field):
 *  - `host`: the host's /usr, read-only, no root inside (the default; needs nothing built);
 *  - `debian:<suite>`: a Debian root made by debootstrap (minbase) from the Debian mirror;
 *  - `outpost:default`: the ready-made image: Debian with what agents expect (git, curl,
 *    build tools, Python, ripgrep, psql, jq), built on first use;
 *  - `oci-layout:<path>[@<ref>]` / `oci-archive:<path>[@<ref>]`: an OCI image layout (a
 *    folder, or a tar of one) under the installation's image import folder. */
export type ImageRef =
  | { kind: "host" }
  | { kind: "debian"; suite: string }
  | { kind: "outpost"; name: "default" }
  | { kind: "oci-layout" | "oci-archive"; path: string; ref?: string };

export const DEBIAN_SUITES = ["bookworm", "trixie", "bullseye"] as const;
export const MAX_SETUP_CHARS = 64 * 1024;
export const MAX_SETUP_ENV_VARS = 100;
/** A build's kept log: its last this many characters. */
export const MAX_BUILD_LOG_CHARS = 256 * 1024;
export const MAX_POOL_SIZE = 16;
/** What the ready-made image adds to a minimal Debian (one place: the image's key names it). */
export const DEFAULT_IMAGE_PACKAGES = [
  "ca-certificates",
  "curl",
  "git",
  "openssh-client",
  "build-essential",
  "python3",
  "python3-pip",
  "python3-venv",
  "ripgrep",
  "jq",
  "postgresql-client",
  "procps",
  "less",
  "unzip",
  "xz-utils",
] as const;

/** The setup phase may reach the package registries (the `registries` egress level) unless told otherwise. */
export const DEFAULT_SETUP_EGRESS: EgressPolicy = DEFAULT_EGRESS_POLICY;

export function parseImageRef(text: string): ImageRef | string {
  if (text === "host") return { kind: "host" };
  if (text === "outpost:default") return { kind: "outpost", name: "default" };
  const debian = /^debian:([a-z]+)$/.exec(text);
  if (debian) {
    const suite = debian[1] as string;
    if (!(DEBIAN_SUITES as readonly string[]).includes(suite)) return `Debian suite '${suite}' is not one of ${DEBIAN_SUITES.join(", ")}`;
    return { kind: "debian", suite };
  }
  const oci = /^(oci-layout|oci-archive):([^@]+)(?:@([A-Za-z0-9._:/-]{1,128}))?$/.exec(text);
  if (oci) {
    const path = oci[2] as string;
    if (!path.startsWith("/") || path.split("/").includes("..") || path.includes("\0")) return "an OCI image's path must be absolute, without '..'";
    return { kind: oci[1] as "oci-layout" | "oci-archive", path, ...(oci[3] ? { ref: oci[3] } : {}) };
  }
  return "must be host, debian:<suite>, outpost:default, oci-layout:<path>[@ref] or oci-archive:<path>[@ref]";
}

export function imageRefProblem(text: string): string | null {
  const parsed = parseImageRef(text);
  return typeof parsed === "string" ? parsed : null;
}

/** Whether sandboxes of this image have a root filesystem of their own (and root inside). */
export function hasOwnRoot(image: ImageRef): boolean {
  return image.kind !== "host";
}

const sha256 = (...parts: string[]) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest("hex");
};

/** Names a built image on disk. For OCI sources the key also gets the manifest's digest
 *  (known only once read), so a changed layout is a new image. */
export function imageKey(image: ImageRef, extra = ""): string {
  const parts: string[] = [image.kind];
  if (image.kind === "debian") parts.push(image.suite);
  if (image.kind === "outpost") parts.push(image.name, ...DEFAULT_IMAGE_PACKAGES);
  if (image.kind === "oci-layout" || image.kind === "oci-archive") parts.push(image.path, image.ref ?? "");
  return `img-${sha256(...parts, extra).slice(0, 24)}`;
}

/** The setup cache's key: the image it runs on, the script and the setup env. A change of
 *  any rebuilds; the egress of the setup phase is not part of it (it changes what the script
 *  may reach, not what it is). */
export function setupKey(image: string, setup: string, setupEnv: Record<string, string>): string {
  const env = Object.keys(setupEnv)
    .sort()
    .map((name) => `${name}=${setupEnv[name]}`);
  return `setup-${sha256(image, setup, ...env).slice(0, 24)}`;
}

/** Keeps the end of a log that grew past the limit, saying that its start was cut. */
export function boundedLog(log: string, max = MAX_BUILD_LOG_CHARS): string {
  if (log.length <= max) return log;
  const marker = "[… the start of the log was cut …]\n";
  return marker + log.slice(log.length - (max - marker.length));
}
