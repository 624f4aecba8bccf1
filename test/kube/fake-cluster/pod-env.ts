// A container's environment and command line as the kubelet computes them: envFrom, then env
// in order (value, or valueFrom a secret key, a config map key, or a pod field), with
// $(NAME) references to earlier variables expanded in values, command and args ($$ escapes).
// A missing secret or key that is not optional is a CreateContainerConfigError, as on a node.
import type { IContainer } from "kubernetes-models/v1/Container";
import type { ClusterContext } from "./context.ts";
import { KEYS, type PodObject } from "./objects.ts";

export class ContainerConfigError extends Error {}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function containerEnv(context: ClusterContext, pod: PodObject, container: IContainer, uid: number): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: pod.metadata.name, HOME: uid === 0 ? "/root" : "/" };
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? "";
    const data = source.secretRef
      ? readData(context, "secret", source.secretRef.name ?? "", source.secretRef.optional)
      : source.configMapRef
        ? readData(context, "configmap", source.configMapRef.name ?? "", source.configMapRef.optional)
        : {};
    for (const [key, value] of Object.entries(data)) env[prefix + key] = value;
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = expand(variable.value, env);
    else if (variable.valueFrom) {
      const value = fromSource(context, pod, variable.valueFrom);
      if (value !== undefined) env[variable.name] = value;
    }
  }
  return env;
}

export function expandCommand(container: IContainer, env: Record<string, string>): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])].map((part) => expand(part, env));
}

function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return "$";
    return env[name] ?? match;
  });
}

type ValueSource = NonNullable<NonNullable<IContainer["env"]>[number]["valueFrom"]>;

function fromSource(context: ClusterContext, pod: PodObject, source: ValueSource): string | undefined {
  if (source.secretKeyRef) {
    const { name, key, optional } = source.secretKeyRef;
    return pick(readData(context, "secret", name ?? "", optional), key, `secret "${name}"`, optional);
  }
  if (source.configMapKeyRef) {
    const { name, key, optional } = source.configMapKeyRef;
    return pick(readData(context, "configmap", name ?? "", optional), key, `configmap "${name}"`, optional);
  }
  if (source.fieldRef) return podField(pod, source.fieldRef.fieldPath);
  throw new ContainerConfigError("resourceFieldRef is not simulated");
}

function pick(data: Record<string, string>, key: string, what: string, optional: boolean | undefined): string | undefined {
  if (key in data) return data[key];
  if (optional) return undefined;
  throw new ContainerConfigError(`couldn't find key ${key} in ${what}`);
}

function podField(pod: PodObject, path: string): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label) return (label[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[label[2]!] ?? "";
  const fields: Record<string, string | undefined> = {
    "metadata.name": pod.metadata.name,
    "metadata.namespace": pod.metadata.namespace,
    "metadata.uid": pod.metadata.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": "127.0.0.1",
    "status.hostIP": "127.0.0.1",
  };
  if (!(path in fields)) throw new ContainerConfigError(`unsupported fieldRef ${path}`);
  return fields[path] ?? "";
}

/** A secret's or config map's entries: a secret's data is base64 (stringData is honoured too,
 *  in case the store kept it), a config map's binaryData likewise. */
export function readEntries(context: ClusterContext, kind: "secret" | "configmap", name: string, optional: boolean | undefined): Record<string, Buffer> {
  const object = context.api.get(kind === "secret" ? KEYS.secrets : KEYS.configMaps, context.namespace, name);
  if (!object) {
    if (optional) return {};
    throw new ContainerConfigError(`${kind} "${name}" not found`);
  }
  const decoded = (data: unknown) => Object.entries((data ?? {}) as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, "base64")]);
  const plain = (data: unknown) => Object.entries((data ?? {}) as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, "utf8")]);
  const entries =
    kind === "secret" ? [...decoded(object["data"]), ...plain(object["stringData"])] : [...plain(object["data"]), ...decoded(object["binaryData"])];
  return Object.fromEntries(entries);
}

function readData(context: ClusterContext, kind: "secret" | "configmap", name: string, optional: boolean | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(readEntries(context, kind, name, optional)).map(([key, value]) => [key, value.toString("utf8")]));
}
