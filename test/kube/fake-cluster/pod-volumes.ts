// A pod's volumes as host folders, and a container's volumeMounts as binds of them:
// persistentVolumeClaim → the claim's folder (once Bound), secret / configMap → files written
// under the pod's folder (items, defaultMode and per-item mode honoured), emptyDir → an empty
// folder of the pod's, hostPath → the host path. projected and downwardAPI volumes are not
// simulated: they come up as empty folders and the kubelet log says so.
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IVolume } from "kubernetes-models/v1/Volume";
import { type ClusterContext, hostPaths } from "./context.ts";
import { asClaim, isTerminating, KEYS, type PodObject } from "./objects.ts";
import { ContainerConfigError, readEntries } from "./pod-env.ts";
import type { SandboxMount } from "./sandbox-args.ts";

/** A volume cannot be set up yet (claim not bound, secret missing): the pod waits and retries. */
export class VolumeNotReady extends Error {}

export interface HostVolume {
  path: string;
  readOnly: boolean;
}

export function prepareVolumes(context: ClusterContext, pod: PodObject): Map<string, HostVolume> {
  const volumes = new Map<string, HostVolume>();
  const podVolumes = hostPaths.podVolumes(context.root, context.namespace, pod.metadata.name);
  for (const volume of pod.spec?.volumes ?? []) {
    const own = join(podVolumes, volume.name);
    if (volume.persistentVolumeClaim) {
      volumes.set(volume.name, {
        path: claimFolder(context, volume.persistentVolumeClaim.claimName),
        readOnly: volume.persistentVolumeClaim.readOnly ?? false,
      });
    } else if (volume.secret) {
      writeEntries(
        own,
        readEntries(context, "secret", volume.secret.secretName ?? "", volume.secret.optional),
        volume.secret,
        `secret "${volume.secret.secretName}"`,
      );
      volumes.set(volume.name, { path: own, readOnly: true });
    } else if (volume.configMap) {
      writeEntries(
        own,
        readEntries(context, "configmap", volume.configMap.name ?? "", volume.configMap.optional),
        volume.configMap,
        `configmap "${volume.configMap.name}"`,
      );
      volumes.set(volume.name, { path: own, readOnly: true });
    } else if (volume.hostPath) {
      if (volume.hostPath.type === "DirectoryOrCreate") mkdirSync(volume.hostPath.path, { recursive: true });
      volumes.set(volume.name, { path: volume.hostPath.path, readOnly: false });
    } else {
      if (!volume.emptyDir) context.log(`pod ${pod.metadata.name}: volume ${volume.name} is not simulated; an empty folder stands in`);
      mkdirSync(own, { recursive: true, mode: 0o777 });
      chmodSync(own, 0o777);
      volumes.set(volume.name, { path: own, readOnly: false });
    }
  }
  return volumes;
}

function claimFolder(context: ClusterContext, claimName: string): string {
  const found = context.api.get(KEYS.claims, context.namespace, claimName);
  if (!found || isTerminating(found)) throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" not found`);
  if (asClaim(found).status?.phase !== "Bound") throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" is not bound`);
  const folder = hostPaths.claim(context.root, context.namespace, claimName);
  if (!existsSync(folder)) throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" has no storage yet`);
  return folder;
}

type Projection = NonNullable<IVolume["secret"] | IVolume["configMap"]>;

function writeEntries(folder: string, entries: Record<string, Buffer>, source: Projection, what: string): void {
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true, mode: 0o755 });
  const defaultMode = source.defaultMode ?? 0o644;
  const items = source.items ?? Object.keys(entries).map((key) => ({ key, path: key, mode: undefined as number | undefined }));
  for (const item of items) {
    const content = entries[item.key];
    if (content === undefined) {
      if (source.optional) continue;
      throw new ContainerConfigError(`couldn't find key ${item.key} in ${what}`);
    }
    const file = inside(folder, item.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content);
    chmodSync(file, item.mode ?? defaultMode);
  }
}

/** A container's volumeMounts as binds; subPath folders are made when missing, as the kubelet does. */
export function containerMounts(container: IContainer, volumes: Map<string, HostVolume>, env: Record<string, string>): SandboxMount[] {
  return (container.volumeMounts ?? []).map((mount) => {
    const volume = volumes.get(mount.name);
    if (!volume) throw new ContainerConfigError(`volume "${mount.name}" is not a volume of the pod`);
    const subPath =
      mount.subPath ?? (mount.subPathExpr ? mount.subPathExpr.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_match, name: string) => env[name] ?? "") : "");
    const source = subPath ? inside(volume.path, subPath) : volume.path;
    if (subPath && !existsSync(source)) mkdirSync(source, { recursive: true, mode: 0o777 });
    return { source, target: mount.mountPath, readOnly: Boolean(mount.readOnly) || volume.readOnly };
  });
}

function inside(folder: string, path: string): string {
  const joined = join(folder, path);
  const rest = relative(folder, joined);
  if (rest.startsWith("..") || rest === "") throw new ContainerConfigError(`path ${path} leaves its volume`);
  return joined;
}
