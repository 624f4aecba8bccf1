// Renders deploy/helm/outpost into parsed Kubernetes objects for the chart tests, and validates
// each: built-in kinds with kubernetes-models (the API's own OpenAPI schemas, offline), the
// CloudNativePG Cluster with a zod schema of exactly the fields the chart sets (its CRD is
// only checked on a real cluster).
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { type RenderOptions, renderChart } from "./helm-render.ts";

export const CHART_DIR = fileURLToPath(new URL("../../deploy/helm/outpost", import.meta.url));

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Rendered manifests are read field by field in assertions (any is allowed in tests).
  [field: string]: any;
}

export interface Rendered {
  objects: (KubeObject & { source: string })[];
  notes: string;
}

/** Renders the chart and parses every document the way Kubernetes reads YAML (1.1, no duplicate keys). */
export function render(values: RenderOptions["values"] = {}, release: RenderOptions["release"] = {}): Rendered {
  const { manifests, notes } = renderChart(CHART_DIR, { values, release });
  const objects: Rendered["objects"] = [];
  for (const [source, text] of manifests) {
    for (const document of parseAllDocuments(text, { version: "1.1", uniqueKeys: true })) {
      const problems = [...document.errors, ...document.warnings];
      if (problems.length > 0) throw new Error(`${source}: ${problems.map((problem) => problem.message).join("; ")}\n${text}`);
      const object = document.toJS() as KubeObject | null;
      if (object !== null) objects.push({ ...object, source });
    }
  }
  return { objects, notes };
}

export function only(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ""}, found ${found.length}`);
  return found[0]!;
}

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/);

/** The CloudNativePG Cluster fields the chart sets, and nothing else (postgresql.cnpg.io/v1). */
export const cnpgClusterSchema = z
  .object({
    apiVersion: z.literal("postgresql.cnpg.io/v1"),
    kind: z.literal("Cluster"),
    metadata: z.object({ name: dnsLabel, namespace: dnsLabel, labels: z.record(z.string(), z.string()) }).strict(),
    spec: z
      .object({
        instances: z.number().int().min(1),
        storage: z.object({ size: quantity, storageClass: z.string().min(1).optional() }).strict(),
        bootstrap: z.object({ initdb: z.object({ database: z.string().min(1), owner: z.string().min(1) }).strict() }).strict(),
      })
      .strict(),
  })
  .strict();

const BUILT_IN: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "v1 ServiceAccount": ServiceAccount,
  "v1 Secret": Secret,
  "rbac.authorization.k8s.io/v1 Role": Role,
  "rbac.authorization.k8s.io/v1 RoleBinding": RoleBinding,
  "networking.k8s.io/v1 Ingress": Ingress,
};

/** Throws, naming the object, when it is not a valid object of its kind. */
export function validate(object: KubeObject & { source?: string }): void {
  const { source, ...manifest } = object;
  const key = `${manifest.apiVersion} ${manifest.kind}`;
  if (key === "postgresql.cnpg.io/v1 Cluster") {
    cnpgClusterSchema.parse(manifest);
    return;
  }
  const Model = BUILT_IN[key];
  if (!Model) throw new Error(`${source}: no validator for ${key}; add one to test/deploy/chart-fixtures.ts`);
  try {
    new Model(manifest as never).validate();
  } catch (error) {
    throw new Error(`${source}: ${key} ${manifest.metadata.name} is invalid: ${(error as Error).message}`);
  }
}
