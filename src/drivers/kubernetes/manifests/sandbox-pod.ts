// The pod template of a sandbox (pure): the seed init container, the supervisor, its
// volumes, and the hardening every sandbox gets. Shared by the StatefulSet and the
// agent-sandbox `Sandbox` workloads.
import type { V1Container, V1PodTemplateSpec, V1ResourceRequirements, V1Volume } from "@kubernetes/client-node";
import type { SandboxLimits, SandboxSpec } from "../../driver.ts";
import { NAME_ANNOTATION, objectName, sandboxLabels } from "../names.ts";
import { POD_PATHS, type PodSettings, SANDBOX_UID } from "./pod-settings.ts";

export const CONFIG_VOLUME = "outpost-config";
const TOKEN_VOLUME = "outpost-token";
const RUN_VOLUME = "outpost-run";
const TMP_VOLUME = "tmp";
/** Where the seed container sees the sandbox's volumes (the image's own paths stay visible). */
const SEED_MOUNTS = { workspace: "/mnt/workspace", home: "/mnt/home" } as const;
/** Kept in the home volume, so a restart finds them: where the supervisor keeps its
 *  journals, and the sentinels that say a volume was seeded. */
const STATE_SUBPATH = ".outpost-state";

export interface PodOptions {
  /** The workspace is a claim of another (removed) sandbox's: not seeded again. */
  workspaceClaim?: string;
}

/** The image's /workspace and home, copied once into fresh volumes; the CA files every start. */
export function seedScript(seedWorkspace: boolean): string {
  const seeded = `${SEED_MOUNTS.home}/${STATE_SUBPATH}`;
  const lines = [
    "set -eu",
    `mkdir -p ${seeded}`,
    `cp ${POD_PATHS.config}/ca.pem ${POD_PATHS.config}/ca-bundle.pem ${POD_PATHS.run}/`,
    `if [ ! -e ${seeded}/seeded-home ]; then`,
    `  if [ -d ${POD_PATHS.home} ]; then cp -a ${POD_PATHS.home}/. ${SEED_MOUNTS.home}/; fi`,
    `  touch ${seeded}/seeded-home`,
    "fi",
  ];
  if (seedWorkspace)
    lines.push(
      `if [ ! -e ${seeded}/seeded-workspace ]; then`,
      `  if [ -d ${POD_PATHS.workspace} ]; then cp -a ${POD_PATHS.workspace}/. ${SEED_MOUNTS.workspace}/; fi`,
      `  touch ${seeded}/seeded-workspace`,
      "fi",
    );
  return `${lines.join("\n")}\n`;
}

export function resources(settings: PodSettings, limits: SandboxLimits | undefined): V1ResourceRequirements {
  const cpus = limits?.cpus ?? settings.defaultLimits.cpus;
  const memory = limits?.memoryBytes ?? settings.defaultLimits.memoryBytes;
  return {
    requests: { cpu: settings.requests.cpu, memory: settings.requests.memory },
    limits: { cpu: `${Math.max(1, Math.round(cpus * 1000))}m`, memory: `${Math.max(64 * 1024 * 1024, Math.floor(memory))}` },
  };
}

export function supervisorCommand(settings: PodSettings, sandboxId: string): string[] {
  const link = `tls://${settings.link.host}:${settings.link.port}`;
  return [
    POD_PATHS.node,
    POD_PATHS.supervisor,
    "--link",
    link,
    "--link-ca",
    `${POD_PATHS.config}/link-ca.pem`,
    "--token-file",
    `${POD_PATHS.token}/token`,
    "--sandbox-id",
    sandboxId,
    "--state",
    POD_PATHS.state,
    "--workspace",
    POD_PATHS.workspace,
    "--kill-grace-ms",
    String(settings.stopGraceMs),
    "--bridge",
    `3128=link:proxy,3129=link:gateway,5432=link:database,${POD_PATHS.run}/ssh-agent.sock=link:ssh-agent`,
  ];
}

const containerSecurity = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
  runAsUser: SANDBOX_UID,
  runAsGroup: SANDBOX_UID,
  seccompProfile: { type: "RuntimeDefault" },
};

export function podTemplate(settings: PodSettings, spec: SandboxSpec, options: PodOptions = {}): V1PodTemplateSpec {
  const name = objectName(spec.sandboxId);
  const workspaceVolume = "workspace";
  const volumes: V1Volume[] = [
    { name: TOKEN_VOLUME, secret: { secretName: name, defaultMode: 0o400 } },
    { name: CONFIG_VOLUME, configMap: { name, defaultMode: 0o444 } },
    { name: RUN_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
    { name: TMP_VOLUME, emptyDir: {} },
  ];
  if (options.workspaceClaim) volumes.push({ name: workspaceVolume, persistentVolumeClaim: { claimName: options.workspaceClaim } });
  const seed: V1Container = {
    name: "seed",
    image: settings.runtimeImage,
    imagePullPolicy: settings.imagePullPolicy,
    command: ["/bin/sh", "-c", seedScript(!options.workspaceClaim)],
    resources: { requests: settings.requests, limits: { cpu: "500m", memory: "256Mi" } },
    securityContext: containerSecurity,
    volumeMounts: [
      { name: workspaceVolume, mountPath: SEED_MOUNTS.workspace },
      { name: "home", mountPath: SEED_MOUNTS.home },
      { name: CONFIG_VOLUME, mountPath: POD_PATHS.config, readOnly: true },
      { name: RUN_VOLUME, mountPath: POD_PATHS.run },
    ],
  };
  const supervisor: V1Container = {
    name: "supervisor",
    image: settings.runtimeImage,
    imagePullPolicy: settings.imagePullPolicy,
    command: supervisorCommand(settings, spec.sandboxId),
    workingDir: POD_PATHS.workspace,
    env: [
      { name: "HOME", value: POD_PATHS.home },
      { name: "USER", value: "outpost" },
    ],
    resources: resources(settings, spec.limits),
    securityContext: containerSecurity,
    volumeMounts: [
      { name: workspaceVolume, mountPath: POD_PATHS.workspace },
      { name: "home", mountPath: POD_PATHS.home },
      { name: "home", mountPath: POD_PATHS.state, subPath: STATE_SUBPATH },
      { name: CONFIG_VOLUME, mountPath: POD_PATHS.config, readOnly: true },
      { name: TOKEN_VOLUME, mountPath: POD_PATHS.token, readOnly: true },
      { name: RUN_VOLUME, mountPath: POD_PATHS.run },
      { name: TMP_VOLUME, mountPath: "/tmp" },
    ],
  };
  const { address, host } = settings.link;
  return {
    metadata: { labels: sandboxLabels(settings.installation, spec.sandboxId), annotations: { [NAME_ANNOTATION]: spec.name } },
    spec: {
      // An agent must not hold an API token.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // No hostname: a StatefulSet names its pod's host after the pod whatever the template
      // says, so the sandbox's name is in the annotation (and the UI), not in `hostname`.
      // No DNS: a resolver is a way out. Names resolve from /etc/hosts only (the link's
      // below); a lookup of anything else fails at once instead of timing out.
      dnsPolicy: "None",
      dnsConfig: { nameservers: ["127.0.0.1"] },
      ...(address ? { hostAliases: [{ ip: address, hostnames: [host] }] } : {}),
      ...(settings.userNamespaces ? { hostUsers: false } : {}),
      ...(settings.runtimeClassName ? { runtimeClassName: settings.runtimeClassName } : {}),
      // The supervisor's own grace for its processes, plus time to report how they ended.
      terminationGracePeriodSeconds: Math.ceil(settings.stopGraceMs / 1000) + 5,
      restartPolicy: "Always",
      securityContext: {
        runAsNonRoot: true,
        runAsUser: SANDBOX_UID,
        runAsGroup: SANDBOX_UID,
        fsGroup: SANDBOX_UID,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
      },
      initContainers: [seed],
      containers: [supervisor],
      volumes,
    },
  };
}
