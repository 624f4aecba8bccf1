// From a layout's index.json to one image: its manifest, its config and its layers in order.
//   - With a reference, the manifest whose `org.opencontainers.image.ref.name` is that name.
//   - Without one, the only manifest, or else the one for the wanted platform.
//   - An image index (multi-platform) is followed to the wanted platform's manifest, by
//     default linux and this host's architecture (linux/amd64 on x86-64).
// Every manifest, index and config is read through readVerifiedBlob: digest and size checked
// before it is parsed.
import type { z } from "zod";
import { readVerifiedBlob } from "./blobs.ts";
import type { LayoutSource } from "./layout-source.ts";
import {
  configSchema,
  type Descriptor,
  indexSchema,
  layoutFileSchema,
  MEDIA_TYPES,
  manifestSchema,
  type Platform,
  REF_NAME_ANNOTATION,
} from "./oci-schemas.ts";
import { refuse, shortDigest } from "./refusal.ts";

/** Manifests and indexes: registries refuse larger ones too. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Configs carry the build history, which can be long. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** index.json → image index → manifest is the deepest any tool writes; a loop ends here. */
const MAX_INDEX_DEPTH = 4;

export type LayerCompression = "none" | "gzip";

export interface SelectedImage {
  manifestDigest: string;
  configDigest: string;
  /** The platform the image's config says it was built for. */
  platform: Platform;
  config: { env: string[]; workingDir?: string; user?: string; entrypoint?: string[]; cmd?: string[] };
  layers: Array<{ descriptor: Descriptor; compression: LayerCompression; diffId?: string }>;
}

/** linux and this host's architecture, in the OCI (Go) spelling. */
export function hostPlatform(): Platform {
  const architectures: Partial<Record<NodeJS.Architecture, string>> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le" };
  return { os: "linux", architecture: architectures[process.arch] ?? process.arch };
}

export async function selectImage(layout: LayoutSource, options: { reference?: string; platform: Platform; signal: AbortSignal }): Promise<SelectedImage> {
  const layoutFile = await layout.readFile("oci-layout", 64 * 1024);
  if (!layoutFile) throw refuse(`${layout.label} is not an OCI image layout: it has no oci-layout file`);
  parseJson(layoutFile, layoutFileSchema, "oci-layout");
  const indexFile = await layout.readFile("index.json", MAX_MANIFEST_BYTES);
  if (!indexFile) throw refuse(`${layout.label} is not an OCI image layout: it has no index.json`);
  const index = parseJson(indexFile, indexSchema, "index.json");

  let descriptor = pickFromLayoutIndex(index.manifests, options.reference, options.platform, layout.label);
  for (let depth = 0; ; depth++) {
    if (descriptor.mediaType === MEDIA_TYPES.manifest || descriptor.mediaType === MEDIA_TYPES.dockerManifest) break;
    if (descriptor.mediaType !== MEDIA_TYPES.index && descriptor.mediaType !== MEDIA_TYPES.dockerList) {
      throw refuse(`The manifest ${shortDigest(descriptor.digest)} has media type ${descriptor.mediaType}, which is not an image or an image index`);
    }
    if (depth >= MAX_INDEX_DEPTH) throw refuse(`Image indexes nest deeper than ${MAX_INDEX_DEPTH} levels in ${layout.label}`);
    const nested = parseJson(
      await readVerifiedBlob(layout, descriptor, "An image index", MAX_MANIFEST_BYTES, options.signal),
      indexSchema,
      `image index ${shortDigest(descriptor.digest)}`,
    );
    descriptor = pickPlatform(nested.manifests, options.platform, `the image index ${shortDigest(descriptor.digest)}`);
  }

  const manifestText = await readVerifiedBlob(layout, descriptor, "The image manifest", MAX_MANIFEST_BYTES, options.signal);
  const manifest = parseJson(manifestText, manifestSchema, `manifest ${shortDigest(descriptor.digest)}`);
  if (manifest.config.mediaType !== MEDIA_TYPES.config && manifest.config.mediaType !== MEDIA_TYPES.dockerConfig) {
    throw refuse(`The manifest ${shortDigest(descriptor.digest)} is not a container image: its config is ${manifest.config.mediaType}`);
  }
  const configText = await readVerifiedBlob(layout, manifest.config, "The image config", MAX_CONFIG_BYTES, options.signal);
  const config = parseJson(configText, configSchema, `config ${shortDigest(manifest.config.digest)}`);
  const diffIds = config.rootfs?.diff_ids;
  if (diffIds && diffIds.length !== manifest.layers.length) {
    throw refuse(`The image config lists ${diffIds.length} layer digests (rootfs.diff_ids) for a manifest of ${manifest.layers.length} layers`);
  }

  return {
    manifestDigest: descriptor.digest,
    configDigest: manifest.config.digest,
    platform: { os: config.os ?? "", architecture: config.architecture ?? "", ...(config.variant ? { variant: config.variant } : {}) },
    config: {
      env: config.config?.Env ?? [],
      ...(config.config?.WorkingDir ? { workingDir: config.config.WorkingDir } : {}),
      ...(config.config?.User ? { user: config.config.User } : {}),
      ...(config.config?.Entrypoint ? { entrypoint: config.config.Entrypoint } : {}),
      ...(config.config?.Cmd ? { cmd: config.config.Cmd } : {}),
    },
    layers: manifest.layers.map((layer, i) => ({ descriptor: layer, compression: compressionOf(layer, i, manifest.layers.length), diffId: diffIds?.[i] })),
  };
}

function pickFromLayoutIndex(manifests: Descriptor[], reference: string | undefined, platform: Platform, label: string): Descriptor {
  const refs = manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).filter((ref): ref is string => ref !== undefined);
  let candidates = manifests;
  if (reference !== undefined) {
    candidates = manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === reference);
    if (candidates.length === 0) {
      throw refuse(
        `${label} has no image named ${JSON.stringify(reference)}; it has ${refs.length ? refs.map((r) => JSON.stringify(r)).join(", ") : "no named images"}`,
        {
          refs: refs.slice(0, 50),
        },
      );
    }
  }
  const [only] = candidates;
  if (only && candidates.length === 1) return only;
  if (candidates.length === 0) throw refuse(`${label} holds no image: its index.json lists no manifests`);
  const matching = candidates.filter((m) => m.platform && matches(m.platform, platform));
  if (matching[0]) return matching[0];
  throw refuse(
    `${label} holds ${candidates.length} images: pass a reference to pick one (${refs.map((r) => JSON.stringify(r)).join(", ") || "none is named"})`,
    {
      refs: refs.slice(0, 50),
    },
  );
}

function pickPlatform(manifests: Descriptor[], platform: Platform, label: string): Descriptor {
  const matching = manifests.filter((m) => m.platform && matches(m.platform, platform));
  if (matching[0]) return matching[0];
  const offered = manifests.flatMap((m) => (m.platform ? [platformName(m.platform)] : []));
  throw refuse(`${label} has no image for ${platformName(platform)}; it has ${offered.join(", ") || "no platforms"}`);
}

const matches = (offered: Platform, wanted: Platform): boolean =>
  offered.os === wanted.os && offered.architecture === wanted.architecture && (wanted.variant === undefined || offered.variant === wanted.variant);

const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

function compressionOf(layer: Descriptor, index: number, count: number): LayerCompression {
  switch (layer.mediaType) {
    case MEDIA_TYPES.layerTar:
      return "none";
    case MEDIA_TYPES.layerGzip:
    case MEDIA_TYPES.dockerLayerGzip:
      return "gzip";
    case MEDIA_TYPES.layerZstd:
      throw refuse(
        `Layer ${index + 1} of ${count} (${shortDigest(layer.digest)}) is zstd-compressed, which this unpacker does not read: export the image with gzip layers (skopeo copy --dest-compress-format gzip)`,
        { digest: layer.digest, mediaType: layer.mediaType },
      );
    default:
      throw refuse(`Layer ${index + 1} of ${count} (${shortDigest(layer.digest)}) has media type ${layer.mediaType}, which is not a tar layer`, {
        digest: layer.digest,
        mediaType: layer.mediaType,
      });
  }
}

function parseJson<T extends z.ZodType>(bytes: Buffer, schema: T, what: string): z.infer<T> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw refuse(`The image's ${what} is not valid JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(`The image's ${what} is not valid: ${issue ? `${issue.path.join(".") || "(top)"} ${issue.message}` : "schema mismatch"}`);
  }
  return parsed.data;
}
