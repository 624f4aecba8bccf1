// The parts of the OCI image spec this unpacker reads (image-layout, image-index, manifest,
// config), as zod schemas: an untrusted layout's JSON is checked before anything uses it.
// Unknown fields are dropped; only sha256 digests are accepted (the spec allows sha512, which
// no common tool writes).
import { z } from "zod";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerTar: "application/vnd.oci.image.layer.v1.tar",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  layerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  // Docker's schema 2 names for the same things: some tools keep them in an OCI layout.
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** The annotation that names a manifest in a layout's index.json (skopeo's `oci:dir:ref`). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be sha256:<64 lowercase hex digits> (only sha256 is supported)");

export const platformSchema = z.object({
  os: z.string().max(64),
  architecture: z.string().max(64),
  variant: z.string().max(64).optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.object({
  mediaType: z.string().max(255),
  digest,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const layoutFileSchema = z.object({ imageLayoutVersion: z.string().max(64) });

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema).max(10_000),
});

/** Layers an image may have: overlay stacks stop near 128; more is a layout made to hurt. */
export const MAX_LAYERS = 500;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema).max(MAX_LAYERS),
});

const stringList = z.array(z.string()).nullish();

export const configSchema = z.object({
  os: z.string().optional(),
  architecture: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .object({
      Env: stringList,
      WorkingDir: z.string().optional(),
      User: z.string().optional(),
      Entrypoint: stringList,
      Cmd: stringList,
    })
    .nullish(),
  rootfs: z.object({ type: z.string(), diff_ids: z.array(digest) }).optional(),
});
