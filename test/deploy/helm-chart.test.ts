// The Helm chart (deploy/helm/outpost), rendered without helm (see helm-render.ts) and checked
// for what an operator relies on: valid objects, rights limited to the namespace and to the
// calls the driver makes, no secret value in the Deployment, a control plane reachable inside
// the pod, hardened pods, and values that do what values.yaml says.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { healthRoutes } from "../../src/api/routes/health.ts";
import { loadSettings } from "../../src/config/settings.ts";
import { CHART_DIR, type KubeObject, only, type Rendered, render, validate } from "./chart-fixtures.ts";
import { RequiredValueError } from "./helm-render.ts";

const SECRET_KEY = randomBytes(32).toString("base64");
const ADMIN_TOKEN = `opt_${randomBytes(24).toString("hex")}`;
const DATABASE_URL = `postgres://outpost:${randomBytes(12).toString("hex")}@db.example:5432/outpost`;
const ADMIN_URL = `postgres://postgres:${randomBytes(12).toString("hex")}@projects-db.example:5432/postgres`;

/** What `helm install` needs besides values.yaml (deploy/README.md's install command). */
const REQUIRED = { secrets: { secretKey: SECRET_KEY, adminToken: ADMIN_TOKEN }, postgresql: { url: DATABASE_URL } };

/** Every option on at once. */
const EVERYTHING = {
  replicas: 2,
  publicUrl: "",
  secrets: { existingSecret: "my-outpost-secrets" },
  postgresql: { cloudnativePg: { enabled: true, instances: 3, storage: { size: "20Gi", storageClass: "fast" } } },
  databases: { provisioner: "kubeblocks" },
  runtime: {
    image: "registry.example/outpost-runtime:1.2.3",
    imagePullPolicy: "Always",
    workload: "agent-sandbox",
    runtimeClassName: "gvisor",
    userNamespaces: true,
  },
  sandbox: { storageClass: "standard-rwo", workspaceSize: "50Gi", homeSize: "2Gi", cpuRequest: "500m", memoryRequest: "1Gi", cpus: 4, memoryMb: 8192 },
  previews: { domain: "preview.example.com" },
  ingress: {
    enabled: true,
    className: "nginx",
    host: "outpost.example.com",
    annotations: { "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600" },
    tls: { enabled: true, secretName: "outpost-tls" },
  },
  imagePullSecrets: [{ name: "registry" }],
  podAnnotations: { "example.com/team": "platform" },
  nodeSelector: { "kubernetes.io/arch": "amd64" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "outpost", effect: "NoSchedule" }],
  extraEnv: [{ name: "OUTPOST_IDLE_CHECK_MS", value: "30000" }],
};

function deploymentOf(rendered: Rendered): KubeObject {
  return only(rendered.objects, "Deployment");
}

function containerOf(rendered: Rendered) {
  return deploymentOf(rendered).spec.template.spec.containers[0];
}

function envOf(rendered: Rendered): Map<string, { value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> {
  return new Map(containerOf(rendered).env.map((entry: { name: string }) => [entry.name, entry]));
}

/** Reads an env var's Secret reference back through the rendered Secret, as the kubelet would. */
function secretValue(rendered: Rendered, name: string): string {
  const ref = envOf(rendered).get(name)?.valueFrom?.secretKeyRef;
  assert.ok(ref, `${name} comes from a Secret`);
  const secret = only(rendered.objects, "Secret", ref.name);
  const encoded = secret.data?.[ref.key];
  assert.ok(encoded, `Secret ${ref.name} has key ${ref.key}`);
  return Buffer.from(encoded, "base64").toString("utf8");
}

describe("the Helm chart renders valid objects", () => {
  test("with the required values: the control plane, its Services, Secret and rights; nothing optional", () => {
    const rendered = render(REQUIRED);
    for (const object of rendered.objects) validate(object);
    assert.deepEqual(rendered.objects.map((object) => `${object.kind}/${object.metadata.name}`).sort(), [
      "Deployment/outpost",
      "Role/outpost",
      "RoleBinding/outpost",
      "Secret/outpost",
      "Service/outpost",
      "Service/outpost-link",
      "ServiceAccount/outpost",
    ]);
    for (const object of rendered.objects) assert.equal(object.metadata.namespace, "outpost", `${object.kind} is in the release namespace`);
  });

  test("with every option on: ingress, CloudNativePG, agent-sandbox, KubeBlocks, a runtime class, existing secrets", () => {
    const rendered = render(EVERYTHING, { name: "acme", namespace: "tools" });
    for (const object of rendered.objects) validate(object);
    assert.deepEqual(rendered.objects.map((object) => `${object.kind}/${object.metadata.name}`).sort(), [
      "Cluster/acme-db",
      "Deployment/acme",
      "Ingress/acme",
      "Role/acme",
      "RoleBinding/acme",
      "Service/acme",
      "Service/acme-link",
      "ServiceAccount/acme",
    ]);
    const cluster = only(rendered.objects, "Cluster");
    assert.deepEqual(cluster.spec, {
      instances: 3,
      storage: { size: "20Gi", storageClass: "fast" },
      bootstrap: { initdb: { database: "outpost", owner: "outpost" } },
    });
    const pod = deploymentOf(rendered).spec.template;
    assert.deepEqual(pod.spec.imagePullSecrets, [{ name: "registry" }]);
    assert.deepEqual(pod.spec.nodeSelector, { "kubernetes.io/arch": "amd64" });
    assert.equal(pod.spec.tolerations[0].value, "outpost");
    assert.equal(pod.metadata.annotations["example.com/team"], "platform");
    assert.equal(envOf(rendered).get("OUTPOST_IDLE_CHECK_MS")?.value, "30000");
  });

  test("names stay valid DNS labels for the longest release name helm allows", () => {
    const name = `a${"b".repeat(51)}c`;
    const rendered = render({ ...REQUIRED, postgresql: { cloudnativePg: { enabled: true } } }, { name });
    for (const object of rendered.objects) {
      validate(object);
      assert.match(object.metadata.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, `${object.kind} ${object.metadata.name}`);
    }
    const databaseRef = envOf(rendered).get("DATABASE_URL")?.valueFrom?.secretKeyRef;
    assert.ok((databaseRef?.name.length ?? 99) <= 63, "the CloudNativePG app Secret's name fits");
  });

  test("Chart.yaml: chart outpost 0.1.0, appVersion is package.json's version", () => {
    const chart = readFileSync(`${CHART_DIR}/Chart.yaml`, "utf8");
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.match(chart, /^apiVersion: v2$/m);
    assert.match(chart, /^name: outpost$/m);
    assert.match(chart, /^version: 0\.1\.0$/m);
    assert.match(chart, new RegExp(`^appVersion: "${pkg.version.replaceAll(".", "\\.")}"$`, "m"));
    assert.equal(containerOf(render(REQUIRED)).image, `outpost:${pkg.version}`, "the image tag defaults to the appVersion");
  });
});

describe("the control plane's rights", () => {
  const CRUD = ["create", "delete", "get", "list", "patch", "watch"];
  const ALWAYS: Record<string, string[]> = {
    "apps/statefulsets": CRUD,
    "/pods": ["delete", "get", "list", "watch"],
    "/persistentvolumeclaims": ["delete", "get", "list", "patch", "watch"],
    "/secrets": CRUD,
    "/configmaps": CRUD,
    "/events": ["list", "watch"],
    "networking.k8s.io/networkpolicies": CRUD,
  };

  /** group/resource → verbs, over all of a Role's rules. */
  function grants(role: KubeObject): Record<string, string[]> {
    const granted = new Map<string, Set<string>>();
    for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[]) {
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          const verbs = granted.get(`${group}/${resource}`) ?? new Set();
          for (const verb of rule.verbs) verbs.add(verb);
          granted.set(`${group}/${resource}`, verbs);
        }
      }
    }
    return Object.fromEntries([...granted].map(([key, verbs]) => [key, [...verbs].sort()]));
  }

  const cases: [string, Record<string, unknown>, Record<string, string[]>][] = [
    ["the defaults", REQUIRED, ALWAYS],
    ["agent-sandbox and KubeBlocks", EVERYTHING, { ...ALWAYS, "agents.x-k8s.io/sandboxes": CRUD, "apps.kubeblocks.io/clusters": CRUD }],
    ["CloudNativePG databases for projects", { ...REQUIRED, databases: { provisioner: "cloudnative-pg" } }, { ...ALWAYS, "postgresql.cnpg.io/clusters": CRUD }],
    // The chart's own CloudNativePG Cluster is made by helm, not by the control plane.
    ["a CloudNativePG database for the control plane only", { ...REQUIRED, postgresql: { cloudnativePg: { enabled: true } } }, ALWAYS],
    ["an existing server for projects' databases", { ...REQUIRED, databases: { provisioner: "server", server: { adminUrl: ADMIN_URL } } }, ALWAYS],
  ];
  for (const [what, values, expected] of cases) {
    test(`exactly the listed verbs in its namespace, no cluster-wide role: ${what}`, () => {
      const rendered = render(values);
      assert.deepEqual(grants(only(rendered.objects, "Role")), expected);
      assert.deepEqual(
        rendered.objects.filter((object) => object.kind.startsWith("Cluster") && object.apiVersion.startsWith("rbac.")),
        [],
        "no ClusterRole or ClusterRoleBinding",
      );
    });
  }

  test("the Role is bound to the service account the control plane runs as, which mounts its token", () => {
    const rendered = render(REQUIRED);
    const binding = only(rendered.objects, "RoleBinding");
    const account = only(rendered.objects, "ServiceAccount");
    const pod = deploymentOf(rendered).spec.template.spec;
    assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: only(rendered.objects, "Role").metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: account.metadata.name, namespace: "outpost" }]);
    assert.equal(pod.serviceAccountName, account.metadata.name);
    assert.equal(account.automountServiceAccountToken, true);
    assert.equal(pod.automountServiceAccountToken, true);
  });
});

describe("secrets", () => {
  test("no secret value appears in the Deployment; each reaches the pod through the chart's Secret", () => {
    const values = { ...REQUIRED, databases: { provisioner: "server", server: { adminUrl: ADMIN_URL } } };
    const rendered = render(values);
    const deployment = JSON.stringify(deploymentOf(rendered));
    for (const secret of [SECRET_KEY, ADMIN_TOKEN, DATABASE_URL, ADMIN_URL]) {
      assert.ok(!deployment.includes(secret), "a secret value is in the Deployment");
      assert.ok(!deployment.includes(Buffer.from(secret).toString("base64")), "a secret value is in the Deployment (base64)");
    }
    assert.equal(secretValue(rendered, "OUTPOST_SECRET_KEY"), SECRET_KEY);
    assert.equal(secretValue(rendered, "OUTPOST_ADMIN_TOKEN"), ADMIN_TOKEN);
    assert.equal(secretValue(rendered, "DATABASE_URL"), DATABASE_URL);
    assert.equal(secretValue(rendered, "OUTPOST_DATABASE_ADMIN_URL"), ADMIN_URL);
  });

  test("existing Secrets are referred to by name and key, and the chart makes none", () => {
    const rendered = render({
      secrets: { existingSecret: "mine" },
      postgresql: { existingSecret: "pg", existingSecretKey: "url" },
      databases: { provisioner: "server", server: { existingSecret: "pg-admin", existingSecretKey: "admin" } },
    });
    const env = envOf(rendered);
    assert.deepEqual(env.get("OUTPOST_SECRET_KEY")?.valueFrom?.secretKeyRef, { name: "mine", key: "secret-key" });
    assert.deepEqual(env.get("OUTPOST_ADMIN_TOKEN")?.valueFrom?.secretKeyRef, { name: "mine", key: "admin-token" });
    assert.deepEqual(env.get("DATABASE_URL")?.valueFrom?.secretKeyRef, { name: "pg", key: "url" });
    assert.deepEqual(env.get("OUTPOST_DATABASE_ADMIN_URL")?.valueFrom?.secretKeyRef, { name: "pg-admin", key: "admin" });
    assert.equal(rendered.objects.filter((object) => object.kind === "Secret").length, 0);
  });

  test("with CloudNativePG, DATABASE_URL is the uri of the Cluster's app Secret", () => {
    const rendered = render({ ...REQUIRED, postgresql: { url: "", cloudnativePg: { enabled: true } } });
    const cluster = only(rendered.objects, "Cluster");
    assert.deepEqual(envOf(rendered).get("DATABASE_URL")?.valueFrom?.secretKeyRef, { name: `${cluster.metadata.name}-app`, key: "uri" });
    const chartSecret = only(rendered.objects, "Secret");
    assert.deepEqual(Object.keys(chartSecret.data).sort(), ["admin-token", "secret-key"], "no database URL in the chart's Secret");
  });

  test("an install without the secret values or a database is refused, naming what to set", () => {
    assert.throws(
      () => render({}),
      (error) => error instanceof RequiredValueError && /secrets\.secretKey/.test(error.message),
    );
    assert.throws(
      () => render({ secrets: REQUIRED.secrets }),
      (error) => error instanceof RequiredValueError && /postgresql\.url/.test(error.message),
    );
    assert.throws(
      () => render({ ...REQUIRED, databases: { provisioner: "server" } }),
      (error) => error instanceof RequiredValueError && /databases\.server\.adminUrl/.test(error.message),
    );
    assert.throws(
      () => render({ ...REQUIRED, ingress: { enabled: true } }),
      (error) => error instanceof RequiredValueError && /ingress\.host/.test(error.message),
    );
  });
});

describe("the control plane's pod", () => {
  test("listens on 0.0.0.0 on the ports its Services and probes use", () => {
    const rendered = render(REQUIRED);
    const container = containerOf(rendered);
    const env = envOf(rendered);
    const ports = Object.fromEntries(container.ports.map((port: { name: string; containerPort: number }) => [port.name, port.containerPort]));
    assert.deepEqual(ports, { http: 7300, link: 7301 });
    assert.equal(env.get("OUTPOST_HOST")?.value, "0.0.0.0");
    assert.equal(env.get("OUTPOST_PORT")?.value, String(ports.http));
    assert.equal(env.get("OUTPOST_LINK_LISTEN")?.value, `0.0.0.0:${ports.link}`);

    const podLabels = deploymentOf(rendered).spec.template.metadata.labels;
    const http = only(rendered.objects, "Service", "outpost");
    const link = only(rendered.objects, "Service", "outpost-link");
    for (const service of [http, link]) assert.deepEqual(service.spec.selector, podLabels, `${service.metadata.name} selects the control plane`);
    assert.deepEqual(http.spec.ports, [{ name: "http", port: 7300, targetPort: "http", protocol: "TCP" }]);
    assert.deepEqual(link.spec.ports, [{ name: "link", port: 7301, targetPort: "link", protocol: "TCP" }]);
    assert.equal(env.get("OUTPOST_LINK_ADDRESS")?.value, "outpost-link.outpost.svc:7301", "supervisors dial the link Service");
  });

  test("probes ask the health routes the server has", () => {
    const routes: string[] = [];
    healthRoutes({ get: (path: string) => routes.push(path) } as never, async () => ({ ready: true, checks: {} }));
    const container = containerOf(render(REQUIRED));
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      assert.equal(container[probe].httpGet.port, "http", probe);
      assert.ok(routes.includes(container[probe].httpGet.path), `${probe} asks ${container[probe].httpGet.path}, a route of src/api/routes/health.ts`);
    }
    assert.equal(container.readinessProbe.httpGet.path, "/readyz", "ready only once the database answers");
  });

  test("runs hardened: non-root, no privilege escalation, no capabilities, read-only root, RuntimeDefault seccomp", () => {
    const pod = deploymentOf(render(REQUIRED)).spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
    const container = pod.containers[0];
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.privileged, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
    assert.equal(container.securityContext.capabilities.add, undefined);
    // What it writes goes to volumes: the data dir and /tmp.
    const mounts = Object.fromEntries(container.volumeMounts.map((mount: { name: string; mountPath: string }) => [mount.mountPath, mount.name]));
    assert.equal(envOf(render(REQUIRED)).get("OUTPOST_DATA_DIR")?.value, "/var/lib/outpost");
    assert.deepEqual(mounts, { "/var/lib/outpost": "data", "/tmp": "tmp" });
    assert.deepEqual(
      pod.volumes.map((volume: { name: string; emptyDir?: object }) => [volume.name, volume.emptyDir]),
      [
        ["data", {}],
        ["tmp", {}],
      ],
    );
  });

  test("carries exactly the labels sandbox NetworkPolicies allow egress to", () => {
    const rendered = render(REQUIRED, { name: "team-a" });
    const deployment = deploymentOf(rendered);
    const expected = { "app.kubernetes.io/name": "outpost", "app.kubernetes.io/instance": "team-a", "app.kubernetes.io/component": "control-plane" };
    assert.deepEqual(deployment.spec.template.metadata.labels, expected);
    assert.deepEqual(deployment.spec.selector.matchLabels, expected);
    assert.equal(envOf(rendered).get("OUTPOST_INSTALLATION")?.value, "team-a", "the driver knows the installation those labels name");
    const told = envOf(rendered).get("OUTPOST_KUBE_CONTROL_PLANE_LABELS")?.value ?? "";
    assert.deepEqual(Object.fromEntries(told.split(",").map((pair) => pair.split("="))), expected, "the driver is told exactly these labels");
  });

  test("honours replicas and runs `outpost serve`", () => {
    assert.equal(deploymentOf(render(REQUIRED)).spec.replicas, 1);
    assert.equal(deploymentOf(render({ ...REQUIRED, replicas: 3 })).spec.replicas, 3);
    assert.deepEqual(containerOf(render(REQUIRED)).command, ["node", "bin/outpost.js", "serve"]);
  });
});

describe("values reach the control plane as its settings", () => {
  test("the driver's settings follow values.yaml", () => {
    const env = envOf(render(EVERYTHING, { name: "acme", namespace: "tools" }));
    const expected: Record<string, string> = {
      OUTPOST_DRIVER: "kubernetes",
      OUTPOST_INSTALLATION: "acme",
      OUTPOST_KUBE_NAMESPACE: "tools",
      OUTPOST_LINK_ADDRESS: "acme-link.tools.svc:7301",
      OUTPOST_KUBE_RUNTIME_IMAGE: "registry.example/outpost-runtime:1.2.3",
      OUTPOST_KUBE_IMAGE_PULL_POLICY: "Always",
      OUTPOST_KUBE_WORKLOAD: "agent-sandbox",
      OUTPOST_KUBE_RUNTIME_CLASS: "gvisor",
      OUTPOST_KUBE_USER_NAMESPACES: "true",
      OUTPOST_KUBE_STORAGE_CLASS: "standard-rwo",
      OUTPOST_KUBE_WORKSPACE_SIZE: "50Gi",
      OUTPOST_KUBE_HOME_SIZE: "2Gi",
      OUTPOST_KUBE_CPU_REQUEST: "500m",
      OUTPOST_KUBE_MEMORY_REQUEST: "1Gi",
      OUTPOST_SANDBOX_CPUS: "4",
      OUTPOST_SANDBOX_MEMORY_MB: "8192",
      OUTPOST_DATABASE_PROVISIONER: "kubeblocks",
      OUTPOST_PUBLIC_URL: "https://outpost.example.com",
      OUTPOST_PREVIEW_DOMAIN: "preview.example.com",
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env.get(name)?.value, value, name);
  });

  test("optional settings are left out when their values are empty", () => {
    const env = envOf(render(REQUIRED));
    for (const name of [
      "OUTPOST_KUBE_RUNTIME_CLASS",
      "OUTPOST_KUBE_IMAGE_PULL_POLICY",
      "OUTPOST_KUBE_STORAGE_CLASS",
      "OUTPOST_PREVIEW_DOMAIN",
      "OUTPOST_PUBLIC_URL",
      "OUTPOST_DATABASE_ADMIN_URL",
    ]) {
      assert.equal(env.has(name), false, name);
    }
    assert.deepEqual(
      [
        "OUTPOST_KUBE_WORKSPACE_SIZE",
        "OUTPOST_KUBE_HOME_SIZE",
        "OUTPOST_KUBE_CPU_REQUEST",
        "OUTPOST_KUBE_MEMORY_REQUEST",
        "OUTPOST_KUBE_USER_NAMESPACES",
        "OUTPOST_KUBE_WORKLOAD",
      ].map((name) => env.get(name)?.value),
      ["10Gi", "1Gi", "100m", "256Mi", "false", "statefulset"],
    );
  });

  /** The container's environment as the kubelet would make it: values, and Secret keys read from the chart's Secret or `existing`. */
  function environment(rendered: Rendered, existing: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, entry] of envOf(rendered)) {
      const ref = entry.valueFrom?.secretKeyRef;
      const fromExisting = ref ? existing[`${ref.name}/${ref.key}`] : undefined;
      env[name] = entry.value ?? fromExisting ?? secretValue(rendered, name);
    }
    return env;
  }

  test("the control plane's settings accept the environment the chart gives it", () => {
    const rendered = render({ ...REQUIRED, ingress: { enabled: true, host: "outpost.example.com" }, previews: { domain: "preview.example.com" } });
    const settings = loadSettings(environment(rendered));
    assert.equal(settings.host, "0.0.0.0");
    assert.equal(settings.port, 7300);
    assert.equal(settings.dataDir, "/var/lib/outpost");
    assert.equal(settings.databaseUrl, DATABASE_URL);
    assert.equal(settings.adminToken, ADMIN_TOKEN);
    assert.equal(settings.secretKey, SECRET_KEY);
    assert.equal(settings.publicUrl, "http://outpost.example.com");
    assert.equal(settings.previewDomain, "preview.example.com");
    assert.equal(settings.databaseProvisioner, "none");
    assert.equal(settings.sandboxCpus, 2);
    assert.equal(settings.sandboxMemoryMb, 4096);
  });

  test("with every option on too, and the driver's settings are the chart's", () => {
    const rendered = render(EVERYTHING, { name: "acme", namespace: "tools" });
    const existing = {
      "my-outpost-secrets/secret-key": SECRET_KEY,
      "my-outpost-secrets/admin-token": ADMIN_TOKEN,
      "acme-db-app/uri": DATABASE_URL,
    };
    const settings = loadSettings(environment(rendered, existing)) as ReturnType<typeof loadSettings> & Record<string, unknown>;
    assert.equal(settings.databaseProvisioner, "kubeblocks");
    assert.equal(settings.sandboxCpus, 4);
    assert.equal(settings.driver, "kubernetes", "OUTPOST_DRIVER is read");
    const expected = {
      namespace: "tools",
      installation: "acme",
      runtimeImage: "registry.example/outpost-runtime:1.2.3",
      imagePullPolicy: "Always",
      linkListen: "0.0.0.0:7301",
      linkAddress: "acme-link.tools.svc:7301",
      controlPlaneLabels: "app.kubernetes.io/name=outpost,app.kubernetes.io/instance=acme,app.kubernetes.io/component=control-plane",
      storageClass: "standard-rwo",
      workspaceSize: "50Gi",
      homeSize: "2Gi",
      cpuRequest: "500m",
      memoryRequest: "1Gi",
      runtimeClass: "gvisor",
      userNamespaces: true,
    };
    const driverSettings = (settings.kubernetes ?? {}) as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(Object.keys(expected).map((key) => [key, driverSettings[key]])),
      expected,
      "the Kubernetes driver's settings (src/config/kubernetes-settings.ts) are what the chart says",
    );
  });
});

describe("the Ingress", () => {
  test("serves the UI at its host and previews at *.<preview domain>, with TLS for both", () => {
    const ingress = only(render(EVERYTHING, { name: "acme" }).objects, "Ingress");
    assert.equal(ingress.spec.ingressClassName, "nginx");
    assert.equal(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-read-timeout"], "3600");
    assert.deepEqual(ingress.spec.tls, [{ secretName: "outpost-tls", hosts: ["outpost.example.com", "*.preview.example.com"] }]);
    assert.deepEqual(
      ingress.spec.rules.map((rule: { host: string; http: { paths: { backend: { service: unknown } }[] } }) => [
        rule.host,
        rule.http.paths[0]?.backend.service,
      ]),
      [
        ["outpost.example.com", { name: "acme", port: { name: "http" } }],
        ["*.preview.example.com", { name: "acme", port: { name: "http" } }],
      ],
    );
  });
});

describe("NOTES.txt", () => {
  test("says how to reach the UI and read the admin token from the Secret that holds it", () => {
    const local = render(REQUIRED, { name: "op", namespace: "tools" }).notes;
    assert.match(local, /kubectl -n tools port-forward svc\/op 7300:7300/);
    assert.match(local, /kubectl -n tools get secret op -o jsonpath='\{\.data\.admin-token\}' \| base64 -d/);
    assert.match(local, /POST .*http:\/\/127\.0\.0\.1:7300\/api\/v1\/login-links/);

    const public_ = render(EVERYTHING, { name: "op", namespace: "tools" }).notes;
    assert.match(public_, /https:\/\/outpost\.example\.com\n/);
    assert.match(public_, /get secret my-outpost-secrets /);
    assert.doesNotMatch(public_, /port-forward/);
  });
});
