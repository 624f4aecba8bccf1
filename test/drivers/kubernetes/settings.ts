// Pod settings for tests of the Kubernetes driver's manifests and behaviour.
import type { PodSettings } from "../../../src/drivers/kubernetes/manifests/pod-settings.ts";

export function podSettings(overrides: Partial<PodSettings> = {}): PodSettings {
  return {
    installation: "test-install",
    namespace: "outpost",
    runtimeImage: "outpost-runtime:test",
    link: { host: "outpost-link.outpost.svc", port: 7301, address: "10.96.0.20" },
    linkPeers: { podLabels: { "app.kubernetes.io/name": "outpost", "app.kubernetes.io/component": "control-plane" }, podPort: 7301 },
    workspaceSize: "10Gi",
    homeSize: "1Gi",
    requests: { cpu: "100m", memory: "256Mi" },
    defaultLimits: { cpus: 2, memoryBytes: 4 * 1024 ** 3 },
    userNamespaces: false,
    stopGraceMs: 5000,
    ...overrides,
  };
}
