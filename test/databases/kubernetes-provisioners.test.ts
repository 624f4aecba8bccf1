// The cluster-per-project provisioners, `kubeblocks` and `cloudnative-pg`, against the
// stand-in API server (test/kube/fake-api-server.ts) driven by the real client. A tiny
// "operator" here plays KubeBlocks or CloudNativePG: when a Cluster appears it makes the
// superuser Secret (owned by the Cluster, so it goes with it) and sets the status the real
// operator sets, or keeps it stuck or failed when a test asks. Every cluster's Service is
// this machine's PostgreSQL (127.0.0.1:5432, trust auth), so the SQL is real: a role logs in,
// sizes are measured. Names are unique per run; what lands on the machine's server is
// dropped afterwards.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigMap } from "kubernetes-models/v1";
import pg from "pg";
import { z } from "zod";
import { loadSettings } from "../../src/config/settings.ts";
import { branchName, databaseName } from "../../src/domain/databases.ts";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import { CloudNativePgProvisioner, cloudNativePgKind } from "../../src/services/databases/kubernetes/cloudnative-pg.ts";
import { type ClusterKind, ClusterProvisioner } from "../../src/services/databases/kubernetes/cluster-provisioner.ts";
import { KubeBlocksProvisioner, kubeBlocksKind } from "../../src/services/databases/kubernetes/kubeblocks.ts";
import {
  type ClusterInput,
  cloudNativePgCluster,
  DEFAULT_SHAPE,
  homeConfigMap,
  kubeBlocksCluster,
  kubernetesName,
} from "../../src/services/databases/kubernetes/manifests.ts";
import type { DatabaseRef, EnsureOptions, ServerEndpoint } from "../../src/services/databases/provisioner.ts";
import { ServerProvisioner } from "../../src/services/databases/server.ts";
import { createProvisioner } from "../../src/startup/database-provisioner.ts";
import { MACHINE_PG, tempDir } from "../helpers/server.ts";
import { FakeKubeApi, type KubeObject } from "../kube/fake-api-server.ts";

const NAMESPACE = "default";
const INSTALLATION = "kprov-test";
const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

const options = (password: string, signal?: AbortSignal): EnsureOptions => ({ password, connectionLimit: 5, statementTimeoutMs: 0, signal });

// ---- names and manifests (pure) ----

describe("names and manifests", () => {
  test("a database name becomes a DNS label: _ to -, and long names are cut with a hash of the whole", () => {
    assert.equal(kubernetesName("p_shop_ab12cd"), "p-shop-ab12cd");
    assert.equal(kubernetesName("p_my_app_b_xy12ab34"), "p-my-app-b-xy12ab34");
    const long = databaseName("a-very-long-project-name-that-goes-on-and-on", "abc123");
    const other = databaseName("a-very-long-project-name-that-goes-on-and-on", "abc124");
    for (const max of [41, 48, 63]) {
      const one = kubernetesName(long, max);
      const two = kubernetesName(other, max);
      assert.ok(one.length <= max && DNS_LABEL.test(one), `${one} is a DNS label of at most ${max}`);
      assert.notEqual(one, two, "two long names never share a cluster");
      assert.equal(kubernetesName(long, max), one, "the same name maps the same way every time");
    }
    assert.match(kubernetesName("_9lives"), /^db-9lives$/, "a name starts with a letter");
  });

  test("the Services and Secrets each operator derives from the name stay valid for the longest names", () => {
    const longest = databaseName("x".repeat(60), "abcdef123456");
    for (const kind of [kubeBlocksKind(), cloudNativePgKind()]) {
      const cluster = kubernetesName(longest, kind.maxNameLength);
      assert.match(kind.primaryService(cluster), DNS_LABEL, `${kind.title}'s Service name`);
      assert.ok(kind.superuserSecret(cluster).length <= 253);
    }
    assert.equal(kubeBlocksKind().primaryService("p-a-1"), "p-a-1-postgresql-postgresql");
    assert.equal(kubeBlocksKind().superuserSecret("p-a-1"), "p-a-1-postgresql-account-postgres");
    assert.equal(cloudNativePgKind().primaryService("p-a-1"), "p-a-1-rw");
    assert.equal(cloudNativePgKind().superuserSecret("p-a-1"), "p-a-1-superuser");
  });

  const input: ClusterInput = {
    name: "p-shop-ab12cd",
    namespace: "apps",
    installation: INSTALLATION,
    ref: { name: "p_shop_ab12cd", role: "p_shop_ab12cd" },
    shape: { ...DEFAULT_SHAPE, storageClass: "fast" },
  };
  const labels = z
    .object({
      "app.kubernetes.io/managed-by": z.literal("outpost"),
      "outpost.dev/installation": z.literal(INSTALLATION),
      "outpost.dev/database": z.literal("p_shop_ab12cd"),
    })
    .strict();
  const metadata = z.object({ name: z.literal("p-shop-ab12cd"), namespace: z.literal("apps"), labels }).strict();
  const amounts = z.object({ cpu: z.string(), memory: z.string() }).strict();

  test("a KubeBlocks Cluster: the postgresql ClusterDefinition, one component, the volume, the labels", () => {
    const schema = z
      .object({
        apiVersion: z.literal("apps.kubeblocks.io/v1"),
        kind: z.literal("Cluster"),
        metadata,
        spec: z
          .object({
            terminationPolicy: z.literal("Delete"),
            clusterDef: z.literal("postgresql"),
            topology: z.literal("replication"),
            componentSpecs: z
              .array(
                z
                  .object({
                    name: z.literal("postgresql"),
                    serviceVersion: z.string().regex(/^15\.\d+\.\d+$/),
                    labels: labels.extend({ "apps.kubeblocks.postgres.patroni/scope": z.literal("p-shop-ab12cd-postgresql") }).strict(),
                    replicas: z.literal(1),
                    resources: z.object({ requests: amounts, limits: amounts }).strict(),
                    volumeClaimTemplates: z
                      .array(
                        z
                          .object({
                            name: z.literal("data"),
                            spec: z
                              .object({
                                storageClassName: z.literal("fast"),
                                accessModes: z.tuple([z.literal("ReadWriteOnce")]),
                                resources: z.object({ requests: z.object({ storage: z.literal("10Gi") }).strict() }).strict(),
                              })
                              .strict(),
                          })
                          .strict(),
                      )
                      .length(1),
                  })
                  .strict(),
              )
              .length(1),
          })
          .strict(),
      })
      .strict();
    schema.parse(kubeBlocksCluster(input, "15.7.0"));
  });

  test("a CloudNativePG Cluster: initdb makes the project's database and role, superuser access on", () => {
    const schema = z
      .object({
        apiVersion: z.literal("postgresql.cnpg.io/v1"),
        kind: z.literal("Cluster"),
        metadata,
        spec: z
          .object({
            instances: z.literal(1),
            imageName: z.string().regex(/^ghcr\.io\/cloudnative-pg\/postgresql:15/),
            enableSuperuserAccess: z.literal(true),
            bootstrap: z.object({ initdb: z.object({ database: z.literal("p_shop_ab12cd"), owner: z.literal("p_shop_ab12cd") }).strict() }).strict(),
            storage: z.object({ size: z.literal("10Gi"), storageClass: z.literal("fast") }).strict(),
            resources: z.object({ requests: amounts, limits: amounts }).strict(),
            inheritedMetadata: z.object({ labels }).strict(),
          })
          .strict(),
      })
      .strict();
    schema.parse(cloudNativePgCluster(input, "ghcr.io/cloudnative-pg/postgresql:15"));
  });

  test("a database's home ConfigMap says which cluster holds it, and is a valid ConfigMap", () => {
    const home = homeConfigMap({ namespace: "apps", installation: INSTALLATION, databaseName: "p_shop_ab12cd_b_x1", cluster: "p-shop-ab12cd" });
    assert.equal(home.metadata.name, "outpost-db-p-shop-ab12cd-b-x1");
    assert.deepEqual(home.data, { database: "p_shop_ab12cd_b_x1", cluster: "p-shop-ab12cd" });
    assert.equal(home.metadata.labels?.["outpost.dev/cluster"], "p-shop-ab12cd");
    new ConfigMap(home as ConstructorParameters<typeof ConfigMap>[0]).validate();
  });
});

// ---- against the stand-in API server and the machine's PostgreSQL ----

type Behaviour = "ready" | "stuck" | "failed";

interface Flavour {
  kind: ClusterKind;
  /** The fake API server's key for the kind's Clusters. */
  key: string;
  make(kc: ReturnType<FakeKubeApi["kubeConfig"]>, extra?: { readyTimeoutMs?: number }): ClusterProvisioner;
  /** The statuses the operator sets. */
  status: Record<Behaviour, Record<string, unknown>>;
  /** What a stuck or failed cluster's error must mention. */
  says: { stuck: RegExp; failed: RegExp };
}

const serviceAddress = () => ({ host: "127.0.0.1", port: 5432 });

const FLAVOURS: Flavour[] = [
  {
    kind: kubeBlocksKind(),
    key: "clusters.apps.kubeblocks.io",
    make: (kc, extra) => new KubeBlocksProvisioner(kc, NAMESPACE, { installation: INSTALLATION, serviceAddress, ...extra }),
    status: {
      ready: { phase: "Running", components: { postgresql: { phase: "Running" } } },
      stuck: { phase: "Creating", components: { postgresql: { phase: "Creating" } } },
      failed: { phase: "Failed", conditions: [{ type: "Ready", status: "False", reason: "PodsNotReady", message: "pod p-0 is in CrashLoopBackOff" }] },
    },
    says: { stuck: /phase Creating/, failed: /phase Failed.*CrashLoopBackOff/ },
  },
  {
    kind: cloudNativePgKind(),
    key: "clusters.postgresql.cnpg.io",
    make: (kc, extra) => new CloudNativePgProvisioner(kc, NAMESPACE, { installation: INSTALLATION, serviceAddress, ...extra }),
    status: {
      ready: { phase: "Cluster in healthy state", instances: 1, readyInstances: 1 },
      stuck: { phase: "Setting up primary", phaseReason: "Creating primary instance", instances: 1, readyInstances: 0 },
      failed: { phase: "Cluster is unrecoverable and needs manual intervention", phaseReason: "initdb job failed", instances: 1, readyInstances: 0 },
    },
    says: { stuck: /"Setting up primary" \(Creating primary instance\)/, failed: /unrecoverable.*initdb job failed/ },
  },
];

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** Plays the operator: on a new Cluster, the superuser Secret (owned by it) and the status the test chose. */
function startOperator(api: FakeKubeApi, flavour: Flavour, behaviourOf: (database: string) => Behaviour): () => void {
  return api.onChange((event) => {
    if (event.key !== flavour.key || event.type !== "ADDED") return;
    const cluster = event.object;
    const name = cluster.metadata.name;
    const behaviour = behaviourOf(cluster.metadata.labels?.["outpost.dev/database"] ?? "");
    // After the change that called us (the store is not re-entered from its own listener).
    queueMicrotask(() => {
      if (behaviour !== "failed") {
        api.create("secrets", {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: flavour.kind.superuserSecret(name),
            namespace: NAMESPACE,
            ownerReferences: [{ apiVersion: cluster.apiVersion, kind: "Cluster", name, uid: cluster.metadata.uid, controller: true }],
          },
          type: "kubernetes.io/basic-auth",
          data: { username: b64("postgres"), password: b64("any password: the machine's server trusts 127.0.0.1") },
        } as unknown as KubeObject);
      }
      api.patchStatus(flavour.key, NAMESPACE, name, flavour.status[behaviour]);
    });
  });
}

/** The machine's server, as its superuser. */
async function onMachine(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

async function sqlAs(endpoint: ServerEndpoint, ref: DatabaseRef, password: string, sql: string): Promise<pg.QueryResult> {
  assert.equal(endpoint.kind, "tcp");
  const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user: ref.role, password, database: ref.name });
  client.on("error", () => {});
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

for (const flavour of FLAVOURS) {
  describe(`${flavour.kind.provisioner} provisioner`, () => {
    let api: FakeKubeApi;
    let p: ClusterProvisioner;
    let stopOperator: () => void;
    const behaviours = new Map<string, Behaviour>();
    const made: DatabaseRef[] = [];
    const ref = (label: string, behaviour: Behaviour = "ready"): DatabaseRef => {
      const name = databaseName(`kprov-${label}`, randomLowerAlnum(6));
      const r = { name, role: name };
      made.push(r);
      behaviours.set(name, behaviour);
      return r;
    };
    const clustersOf = (r: DatabaseRef) => api.list(flavour.key, NAMESPACE, `outpost.dev/database=${r.name}`);
    /** Resolves when the test operator has given the database's Cluster its status. */
    const statusSet = (r: DatabaseRef) =>
      new Promise<void>((resolve) => {
        const stop = api.onChange((event) => {
          if (event.key === flavour.key && event.object.metadata.labels?.["outpost.dev/database"] === r.name && event.object.status) {
            stop();
            resolve();
          }
        });
      });

    before(async () => {
      api = await FakeKubeApi.start();
      stopOperator = startOperator(api, flavour, (database) => behaviours.get(database) ?? "ready");
      p = flavour.make(api.kubeConfig(NAMESPACE));
      await p.start();
    });
    after(async () => {
      stopOperator();
      await p.close();
      await api.close();
      // Every cluster here was the machine's server: what landed on it goes.
      const machine = new ServerProvisioner(MACHINE_PG);
      for (const r of made) await machine.drop(r).catch(() => {});
      await machine.close();
    });

    test("ensure makes a labelled Cluster, waits for it, and then a database its role logs into", async () => {
      const a = ref("a");
      await p.ensure(a, options("a-pw"));
      const [cluster, ...more] = clustersOf(a);
      assert.ok(cluster, "a Cluster was made");
      assert.equal(more.length, 0);
      assert.equal(cluster.metadata.name, kubernetesName(a.name, flavour.kind.maxNameLength));
      assert.deepEqual(cluster.metadata.labels, {
        "app.kubernetes.io/managed-by": "outpost",
        "outpost.dev/installation": INSTALLATION,
        "outpost.dev/database": a.name,
      });
      const endpoint = await p.endpoint(a);
      assert.deepEqual(endpoint, { kind: "tcp", host: "127.0.0.1", port: 5432 });
      const result = await sqlAs(endpoint, a, "a-pw", "select current_user as me, current_database() as db");
      assert.deepEqual(result.rows[0], { me: a.role, db: a.name });
      const facts = await p.inspect(a);
      assert.equal(facts.exists, true);
      assert.ok((facts.sizeBytes ?? 0) > 0, "the size is measured");
      assert.match(facts.serverVersion, /^\d+\.\d+$/);
      const tool = await p.toolConnection(a, "a-pw");
      assert.deepEqual(tool, { host: "127.0.0.1", port: 5432, user: a.role, database: a.name, password: "a-pw" });
    });

    test("without a Service resolver, the endpoint is the primary's Service in the cluster's DNS", async () => {
      const inCluster = new ClusterProvisioner(api.kubeConfig(NAMESPACE), NAMESPACE, flavour.kind, { installation: INSTALLATION });
      const r = { name: "p_dns_abc123", role: "p_dns_abc123" };
      assert.deepEqual(await inCluster.endpoint(r), {
        kind: "tcp",
        host: `${flavour.kind.primaryService("p-dns-abc123")}.${NAMESPACE}.svc`,
        port: 5432,
      });
      await inCluster.close();
    });

    test("ensure again makes no new Cluster, writes nothing to it, and makes no second role", async () => {
      const a = ref("again");
      await p.ensure(a, options("again-pw"));
      api.resetRequests();
      await p.ensure(a, options("again-pw"));
      assert.equal(clustersOf(a).length, 1);
      const writes = api.requests.filter((request) => request.method !== "GET" && request.path.includes("/clusters"));
      assert.deepEqual(writes, [], "the existing Cluster is left as it is");
      const roles = await onMachine("select count(*)::int as n from pg_roles where rolname = $1", [a.role]);
      assert.equal(roles.rows[0].n, 1);
      await sqlAs(await p.endpoint(a), a, "again-pw", "select 1");
    });

    test("drop deletes the Cluster (its Secret goes with it) and the database's home; inspect then says it is gone", async () => {
      const a = ref("drop");
      await p.ensure(a, options("drop-pw"));
      const name = kubernetesName(a.name, flavour.kind.maxNameLength);
      assert.ok(api.get("secrets", NAMESPACE, flavour.kind.superuserSecret(name)));
      await p.drop(a);
      assert.equal(clustersOf(a).length, 0);
      assert.equal(api.get("secrets", NAMESPACE, flavour.kind.superuserSecret(name)), undefined, "owned by the Cluster, the Secret went with it");
      assert.equal(api.list("configmaps", NAMESPACE, `outpost.dev/database=${a.name}`).length, 0);
      assert.deepEqual(await p.inspect(a), { exists: false, sizeBytes: null, serverVersion: "", availableExtensions: [] });
      await p.drop(a); // idempotent
    });

    test("a branch lives in its source's cluster; the Cluster goes with the last database in it", async () => {
      const source = ref("src");
      await p.ensure(source, options("src-pw"));
      await sqlAs(await p.endpoint(source), source, "src-pw", "create table items (name text); insert into items values ('one')");
      const name = branchName(source.name, randomLowerAlnum(8));
      const branch = { name, role: name };
      made.push(branch);
      await p.branch(source, branch, options("branch-pw"));
      assert.equal(
        api.list(flavour.key, NAMESPACE).filter((c) => c.metadata.labels?.["outpost.dev/database"] === branch.name).length,
        0,
        "no Cluster of its own",
      );
      assert.deepEqual(await p.endpoint(branch), await p.endpoint(source));
      const copied = await sqlAs(await p.endpoint(branch), branch, "branch-pw", "select name from items");
      assert.deepEqual(copied.rows, [{ name: "one" }]);
      // The source dropped (as a promotion drops the old main): the branch stays, so does the Cluster.
      await p.drop(source);
      assert.equal(clustersOf(source).length, 1, "the Cluster holds the branch still");
      assert.equal((await onMachine("select 1 from pg_database where datname = $1", [source.name])).rowCount, 0, "the source database is dropped");
      assert.equal((await p.inspect(branch)).exists, true);
      await p.drop(branch);
      assert.equal(clustersOf(source).length, 0, "the last database gone, the Cluster goes");
    });

    test("a Cluster that never becomes ready: ensure fails when its signal aborts, with what the operator last reported", async () => {
      const a = ref("stuck", "stuck");
      const stuck = statusSet(a);
      const controller = new AbortController();
      const ensuring = p.ensure(a, options("stuck-pw", controller.signal));
      await stuck;
      controller.abort();
      await assert.rejects(ensuring, (error: Error) => {
        assert.equal(error.name, "AbortError");
        assert.match(error.message, new RegExp(`Cluster ${kubernetesName(a.name, flavour.kind.maxNameLength)} .*was not ready when waiting was cancelled`));
        assert.match(error.message, flavour.says.stuck);
        return true;
      });
    });

    test("past readyTimeoutMs a Cluster still coming up fails the database (a failure stored, not an abort)", async () => {
      const impatient = flavour.make(api.kubeConfig(NAMESPACE), { readyTimeoutMs: 300 });
      const a = ref("slow", "stuck");
      try {
        await assert.rejects(impatient.ensure(a, options("slow-pw")), (error: Error & { code?: string }) => {
          assert.equal(error.code, "DATABASE_PROVISION_FAILED");
          assert.match(error.message, /was not ready when 0.3 s had passed/);
          assert.match(error.message, flavour.says.stuck);
          return true;
        });
      } finally {
        await impatient.close();
      }
    });

    test("a Cluster the operator reports failed fails ensure at once, in the operator's words", async () => {
      const a = ref("failed", "failed");
      await assert.rejects(p.ensure(a, options("failed-pw")), (error: Error & { code?: string }) => {
        assert.equal(error.code, "DATABASE_PROVISION_FAILED");
        assert.match(error.message, flavour.says.failed);
        return true;
      });
    });

    test("start() says when the operator's Cluster API is not installed", async () => {
      api.fail({ pathIncludes: "/clusters", status: 404 });
      await assert.rejects(p.start(), (error: Error & { fix?: string }) => {
        assert.equal(error.name, "StartupError");
        assert.match(error.message, /Cluster API .* is not installed/);
        assert.match(error.fix ?? "", /OUTPOST_DATABASE_PROVISIONER/);
        return true;
      });
    });
  });
}

describe("choosing a cluster provisioner", () => {
  test("OUTPOST_DATABASE_PROVISIONER=kubeblocks|cloudnative-pg uses the Kubernetes driver's kubeconfig and namespace", async () => {
    const dir = tempDir("outpost-kprov-");
    const api = await FakeKubeApi.start();
    try {
      const kubeconfig = join(dir, "kubeconfig");
      api.writeKubeconfig(kubeconfig, "apps");
      const env = {
        OUTPOST_DRIVER: "kubernetes",
        KUBECONFIG: kubeconfig,
        OUTPOST_KUBE_RUNTIME_IMAGE: "outpost-runtime:test",
        OUTPOST_LINK_ADDRESS: "outpost-link.apps.svc:7301",
        OUTPOST_INSTALLATION: "prod",
      };
      for (const name of ["kubeblocks", "cloudnative-pg"] as const) {
        const provisioner = createProvisioner(loadSettings({ ...env, OUTPOST_DATABASE_PROVISIONER: name }, { dataDir: dir }));
        assert.equal(provisioner?.name, name);
        await provisioner?.start();
        const kind = name === "kubeblocks" ? kubeBlocksKind() : cloudNativePgKind();
        assert.deepEqual(await provisioner?.endpoint({ name: "p_web_abc123", role: "p_web_abc123" }), {
          kind: "tcp",
          host: `${kind.primaryService("p-web-abc123")}.apps.svc`,
          port: 5432,
        });
        await provisioner?.close();
      }
      assert.throws(() => loadSettings({ OUTPOST_DATABASE_PROVISIONER: "kubeblocks" }, { dataDir: dir }), /needs OUTPOST_DRIVER=kubernetes/);
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
