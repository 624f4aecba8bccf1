// Every object the Kubernetes driver writes for a sandbox validates offline against the
// official Kubernetes schemas (kubernetes-models), and carries what users and operators
// rely on: the hardening, volumes that outlive a delete, a Secret with the token only,
// and a NetworkPolicy that lets the pod reach the control plane's link and nothing else.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ConfigMap, PersistentVolumeClaim, PodTemplateSpec, Secret } from "kubernetes-models/v1";
import { z } from "zod";
import { agentSandbox } from "../../../src/drivers/kubernetes/manifests/agent-sandbox.ts";
import { caConfigMap, networkPolicy, ownedBy, statefulSet, tokenSecret } from "../../../src/drivers/kubernetes/manifests/sandbox-objects.ts";
import { objectName, podName } from "../../../src/drivers/kubernetes/names.ts";
import { podSettings } from "./settings.ts";

const spec = { sandboxId: "sbx_Ab12_cd", name: "my-box", limits: { cpus: 1.5, memoryBytes: 2 * 1024 ** 3 } };
const owners = ownedBy({ apiVersion: "apps/v1", kind: "StatefulSet", name: objectName(spec.sandboxId), uid: "5a9a4d3e-0000-4000-8000-000000000001" });
const ca = { caPem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", caBundlePem: "bundle" };

describe("the Kubernetes driver's manifests", () => {
  test("validate against the Kubernetes schemas, with every option on and off", () => {
    for (const settings of [
      podSettings(),
      podSettings({ runtimeClassName: "gvisor", userNamespaces: true, storageClass: "fast", imagePullPolicy: "Always" }),
    ]) {
      for (const workspaceClaim of [undefined, "workspace-old-0"]) {
        new StatefulSet(statefulSet(settings, spec, { replicas: 1, workspaceClaim }) as never).validate();
      }
      new Secret(tokenSecret(settings, spec, "tok", owners) as never).validate();
      new ConfigMap(caConfigMap(settings, spec, ca, owners) as never).validate();
      new NetworkPolicy(networkPolicy(settings, spec, owners) as never).validate();
    }
  });

  test("names are DNS-safe, short enough for a set's pods, and distinct for ids that differ only in case", () => {
    const names = ["sbx_Ab12_cd", "sbx_ab12_cd", "SBX__", `sbx_${"x".repeat(58)}`].map(objectName);
    for (const name of names) {
      assert.match(name, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
      assert.ok(name.length <= 52, name);
    }
    assert.equal(new Set(names).size, names.length);
    assert.equal(podName("sbx_ab12_cd"), `${objectName("sbx_ab12_cd")}-0`);
  });

  test("the pod is hardened: no API token, non-root, no privilege escalation, no capabilities, no DNS", () => {
    const settings = podSettings({ runtimeClassName: "gvisor", userNamespaces: true });
    const pod = statefulSet(settings, spec, { replicas: 1 }).spec?.template.spec;
    assert.ok(pod, "the set has a pod template");
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.hostUsers, false);
    assert.equal(pod.runtimeClassName, "gvisor");
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(pod.dnsPolicy, "None");
    assert.deepEqual(pod.hostAliases, [{ ip: "10.96.0.20", hostnames: ["outpost-link.outpost.svc"] }]);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false, container.name);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ["ALL"], container.name);
      assert.ok(!container.env?.some((e) => /token|secret|password/i.test(e.name)), `${container.name} gets no secret in its environment`);
    }
    const defaults = statefulSet(podSettings(), spec, { replicas: 1 }).spec?.template.spec;
    assert.equal(defaults?.hostUsers, undefined, "hostUsers only when the cluster supports user namespaces");
    assert.equal(defaults?.runtimeClassName, undefined);
  });

  test("the supervisor dials the link over TLS with the CA and token files, and bridges the way out through it", () => {
    const container = statefulSet(podSettings(), spec, { replicas: 1 }).spec?.template.spec?.containers[0];
    const command = container?.command ?? [];
    const arg = (name: string) => command[command.indexOf(name) + 1];
    assert.equal(arg("--link"), "tls://outpost-link.outpost.svc:7301");
    assert.equal(arg("--link-ca"), "/run/outpost-config/link-ca.pem");
    assert.equal(arg("--token-file"), "/run/outpost-token/token");
    assert.equal(arg("--sandbox-id"), spec.sandboxId);
    assert.match(arg("--bridge") ?? "", /3128=link:proxy,3129=link:gateway,5432=link:database,\/run\/outpost\/ssh-agent\.sock=link:ssh-agent/);
    assert.deepEqual(container?.resources?.limits, { cpu: "1500m", memory: String(2 * 1024 ** 3) });
    assert.deepEqual(container?.resources?.requests, { cpu: "100m", memory: "256Mi" });
  });

  test("volumes: workspace and home claims kept on scale-down and delete; a kept workspace is mounted, not seeded", () => {
    const fresh = statefulSet(podSettings({ storageClass: "fast" }), spec, { replicas: 0 }).spec;
    assert.deepEqual(fresh?.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
    assert.deepEqual(
      fresh?.volumeClaimTemplates?.map((t) => [t.metadata?.name, t.spec?.resources?.requests?.storage, t.spec?.storageClassName]),
      [
        ["workspace", "10Gi", "fast"],
        ["home", "1Gi", "fast"],
      ],
    );
    assert.match(fresh?.template.spec?.initContainers?.[0]?.command?.[2] ?? "", /seeded-workspace/);
    const heir = statefulSet(podSettings(), spec, { replicas: 1, workspaceClaim: "workspace-old-0" }).spec;
    assert.deepEqual(
      heir?.volumeClaimTemplates?.map((t) => t.metadata?.name),
      ["home"],
    );
    assert.deepEqual(heir?.template.spec?.volumes?.find((v) => v.name === "workspace")?.persistentVolumeClaim, { claimName: "workspace-old-0" });
    assert.doesNotMatch(heir?.template.spec?.initContainers?.[0]?.command?.[2] ?? "", /seeded-workspace/);
  });

  test("the Secret holds the link token and nothing else; owned objects point at the set", () => {
    const secret = tokenSecret(podSettings(), spec, "tok", owners);
    assert.deepEqual(Object.keys(secret.data ?? {}), ["token"]);
    assert.equal(Buffer.from(secret.data?.token ?? "", "base64").toString(), "tok");
    for (const object of [secret, caConfigMap(podSettings(), spec, ca, owners), networkPolicy(podSettings(), spec, owners)]) {
      assert.deepEqual(object.metadata?.ownerReferences, owners);
      assert.equal(object.metadata?.labels?.["app.kubernetes.io/managed-by"], "outpost");
      assert.equal(object.metadata?.labels?.["outpost.dev/sandbox"], spec.sandboxId);
      assert.equal(object.metadata?.labels?.["outpost.dev/installation"], "test-install");
    }
  });

  test("the NetworkPolicy: no ingress; egress only to the control plane's pods (or CIDR) on the link port; no DNS", () => {
    const policy = networkPolicy(podSettings({ linkPeers: { podLabels: { app: "outpost" }, podPort: 8443, cidr: "203.0.113.7/32" } }), spec, owners).spec;
    assert.deepEqual(policy?.policyTypes, ["Ingress", "Egress"]);
    assert.deepEqual(policy?.ingress, []);
    assert.equal(policy?.egress?.length, 1);
    assert.deepEqual(policy?.egress?.[0]?.to, [{ podSelector: { matchLabels: { app: "outpost" } } }, { ipBlock: { cidr: "203.0.113.7/32" } }]);
    const ports = policy?.egress?.[0]?.ports?.map((p) => p.port);
    assert.deepEqual(ports, [8443, 7301]);
    assert.ok(!ports?.includes(53), "no DNS");
  });

  test("the agent-sandbox Sandbox: our schema of the fields we set, its pod template and claims against the Kubernetes ones", () => {
    // Only the fields Outpost sets (the CRD itself is checked on a real cluster).
    const sandboxSchema = z
      .object({
        apiVersion: z.literal("agents.x-k8s.io/v1beta1"),
        kind: z.literal("Sandbox"),
        metadata: z
          .object({
            name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
            namespace: z.string(),
            labels: z.record(z.string(), z.string()),
            annotations: z.record(z.string(), z.string()),
          })
          .strict(),
        spec: z
          .object({
            podTemplate: z.object({ metadata: z.object({}).passthrough(), spec: z.object({}).passthrough() }).strict(),
            volumeClaimTemplates: z.array(z.object({ metadata: z.object({ name: z.string() }).passthrough(), spec: z.object({}).passthrough() }).strict()),
            operatingMode: z.enum(["Running", "Suspended"]),
          })
          .strict(),
      })
      .strict();
    for (const replicas of [0, 1] as const) {
      for (const workspaceClaim of [undefined, "workspace-old"]) {
        const sandbox = agentSandbox(podSettings(), spec, { replicas, workspaceClaim });
        sandboxSchema.parse(sandbox);
        assert.equal(sandbox.spec.operatingMode, replicas ? "Running" : "Suspended");
        new PodTemplateSpec(sandbox.spec.podTemplate as never).validate();
        for (const claim of sandbox.spec.volumeClaimTemplates)
          new PersistentVolumeClaim({ apiVersion: "v1", kind: "PersistentVolumeClaim", ...claim } as never).validate();
      }
    }
  });
});
