// Settings of the Kubernetes driver (OUTPOST_DRIVER=kubernetes), read from the environment
// by loadSettings (settings.ts) and validated here: each field says what it is for.
import { z } from "zod";

/** A Kubernetes quantity such as 10Gi, 512Mi, 100m, 2. */
const quantity = z.string().regex(/^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/, "must be a Kubernetes quantity such as 10Gi or 100m");
const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostPort = z
  .string({ error: "is required when OUTPOST_DRIVER=kubernetes" })
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be <host>:<port>")
  .refine((value) => Number(value.slice(value.lastIndexOf(":") + 1)) <= 65535, "the port must be ≤ 65535");
/** `a=b,c=d`: label equality pairs. */
const labelPairs = z
  .string()
  .regex(
    /^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$/,
    "must look like app.kubernetes.io/name=outpost,app.kubernetes.io/component=control-plane",
  );

export const kubernetesSettingsSchema = z
  .object({
    kubeconfig: z.string().optional().describe("A kubeconfig file (KUBECONFIG); default: the in-cluster service account, else ~/.kube/config."),
    inClusterHost: z.string().optional().describe("KUBERNETES_SERVICE_HOST, set by Kubernetes in every pod: tells that Outpost runs in a cluster."),
    namespace: z
      .string()
      .regex(dnsLabel, "must be a DNS label")
      .optional()
      .describe("Where all sandboxes' objects go (OUTPOST_KUBE_NAMESPACE); default: the kubeconfig's, or the pod's own namespace."),
    installation: z
      .string()
      .regex(dnsLabel, "must be a DNS label")
      .optional()
      .describe(
        "Names this installation in labels (OUTPOST_INSTALLATION); default: the namespace. Never derived from a pod or host name, which change at every rollout.",
      ),
    runtimeImage: z
      .string({ error: "is required when OUTPOST_DRIVER=kubernetes" })
      .min(1)
      .describe("The sandboxes' image, with the supervisor in /opt/outpost (OUTPOST_KUBE_RUNTIME_IMAGE; deploy/runtime/Dockerfile)."),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional().describe("The pods' imagePullPolicy (OUTPOST_KUBE_IMAGE_PULL_POLICY)."),
    linkListen: hostPort.describe("Where the control plane listens for supervisor links, TLS (OUTPOST_LINK_LISTEN, default 0.0.0.0:7301)."),
    linkAddress: hostPort.describe("What sandboxes dial to reach that endpoint, e.g. the link Service: outpost-link.outpost.svc:7301 (OUTPOST_LINK_ADDRESS)."),
    controlPlaneLabels: labelPairs.describe(
      "Labels of the control plane's pods, the only ones sandboxes may reach (OUTPOST_KUBE_CONTROL_PLANE_LABELS, default app.kubernetes.io/name=outpost,app.kubernetes.io/component=control-plane).",
    ),
    controlPlaneCidr: z
      .string()
      .optional()
      .describe("A control plane outside the cluster: the CIDR sandboxes may reach its link at (OUTPOST_KUBE_CONTROL_PLANE_CIDR)."),
    storageClass: z.string().optional().describe("The storage class of the sandboxes' volumes (OUTPOST_KUBE_STORAGE_CLASS); default: the cluster's."),
    workspaceSize: quantity.describe("Each sandbox's workspace volume (OUTPOST_KUBE_WORKSPACE_SIZE, default 10Gi)."),
    homeSize: quantity.describe("Each sandbox's home volume (OUTPOST_KUBE_HOME_SIZE, default 1Gi)."),
    cpuRequest: quantity.describe("CPU each sandbox's pod requests (OUTPOST_KUBE_CPU_REQUEST, default 100m); its limit is OUTPOST_SANDBOX_CPUS."),
    memoryRequest: quantity.describe(
      "Memory each sandbox's pod requests (OUTPOST_KUBE_MEMORY_REQUEST, default 256Mi); its limit is OUTPOST_SANDBOX_MEMORY_MB.",
    ),
    runtimeClass: z.string().optional().describe("A RuntimeClass for sandboxes' pods, e.g. gvisor or kata (OUTPOST_KUBE_RUNTIME_CLASS)."),
    workload: z
      .enum(["statefulset", "agent-sandbox"])
      .describe(
        "What runs each sandbox's pod (OUTPOST_KUBE_WORKLOAD): statefulset (default) or agent-sandbox (a kubernetes-sigs agent-sandbox Sandbox; needs its controller).",
      ),
    userNamespaces: z
      .preprocess((value) => (value === "true" ? true : value === "false" ? false : value), z.boolean({ message: "must be true or false" }))
      .describe("hostUsers: false on sandboxes' pods, for clusters with user namespaces (OUTPOST_KUBE_USER_NAMESPACES, default false)."),
  })
  .strict();

export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;

export const KUBERNETES_ENV_NAMES: Record<keyof KubernetesSettings, string> = {
  kubeconfig: "KUBECONFIG",
  inClusterHost: "KUBERNETES_SERVICE_HOST",
  namespace: "OUTPOST_KUBE_NAMESPACE",
  installation: "OUTPOST_INSTALLATION",
  runtimeImage: "OUTPOST_KUBE_RUNTIME_IMAGE",
  imagePullPolicy: "OUTPOST_KUBE_IMAGE_PULL_POLICY",
  linkListen: "OUTPOST_LINK_LISTEN",
  linkAddress: "OUTPOST_LINK_ADDRESS",
  controlPlaneLabels: "OUTPOST_KUBE_CONTROL_PLANE_LABELS",
  controlPlaneCidr: "OUTPOST_KUBE_CONTROL_PLANE_CIDR",
  storageClass: "OUTPOST_KUBE_STORAGE_CLASS",
  workspaceSize: "OUTPOST_KUBE_WORKSPACE_SIZE",
  homeSize: "OUTPOST_KUBE_HOME_SIZE",
  cpuRequest: "OUTPOST_KUBE_CPU_REQUEST",
  memoryRequest: "OUTPOST_KUBE_MEMORY_REQUEST",
  runtimeClass: "OUTPOST_KUBE_RUNTIME_CLASS",
  userNamespaces: "OUTPOST_KUBE_USER_NAMESPACES",
  workload: "OUTPOST_KUBE_WORKLOAD",
};

/** The candidate object for the schema, from an environment (defaults filled in). */
export function kubernetesCandidate(env: NodeJS.ProcessEnv): Record<keyof KubernetesSettings, string | undefined> {
  return {
    kubeconfig: env.KUBECONFIG || undefined,
    inClusterHost: env.KUBERNETES_SERVICE_HOST || undefined,
    namespace: env.OUTPOST_KUBE_NAMESPACE || undefined,
    installation: env.OUTPOST_INSTALLATION || undefined,
    runtimeImage: env.OUTPOST_KUBE_RUNTIME_IMAGE || undefined,
    imagePullPolicy: env.OUTPOST_KUBE_IMAGE_PULL_POLICY || undefined,
    linkListen: env.OUTPOST_LINK_LISTEN || "0.0.0.0:7301",
    linkAddress: env.OUTPOST_LINK_ADDRESS || undefined,
    controlPlaneLabels: env.OUTPOST_KUBE_CONTROL_PLANE_LABELS || "app.kubernetes.io/name=outpost,app.kubernetes.io/component=control-plane",
    controlPlaneCidr: env.OUTPOST_KUBE_CONTROL_PLANE_CIDR || undefined,
    storageClass: env.OUTPOST_KUBE_STORAGE_CLASS || undefined,
    workspaceSize: env.OUTPOST_KUBE_WORKSPACE_SIZE || "10Gi",
    homeSize: env.OUTPOST_KUBE_HOME_SIZE || "1Gi",
    cpuRequest: env.OUTPOST_KUBE_CPU_REQUEST || "100m",
    memoryRequest: env.OUTPOST_KUBE_MEMORY_REQUEST || "256Mi",
    runtimeClass: env.OUTPOST_KUBE_RUNTIME_CLASS || undefined,
    userNamespaces: env.OUTPOST_KUBE_USER_NAMESPACES || "false",
    workload: env.OUTPOST_KUBE_WORKLOAD || "statefulset",
  };
}
