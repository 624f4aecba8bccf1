// The `kubernetes` group (issue 21): what the Kubernetes driver asks of the API server, on
// the stand-in cluster of the tests (test/kube: the stand-in API server with the real
// client, the simulated kubelet running each pod's real supervisor in bubblewrap).
//   requests  per create (goal ≤ 12), per adopt, per stop and start; and over a quiet
//             window with N sandboxes at rest (goal: none but the watches, which are
//             re-established when the server ends them — forced here once)
//   time      create → supervisor linked through the driver, next to a bare pod running
//             `true` created with one POST in the same cluster (the substrate's own cost)
// OUTPOST_BENCH_KUBE_SANDBOXES: N (default 100); OUTPOST_BENCH_KUBE_QUIET_MS (default 5000).
import { randomBytes } from "node:crypto";
import type { EnsureOptions } from "../src/drivers/driver.ts";
import { NAMESPACE, startTestCluster } from "../test/drivers/kubernetes/cluster.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { ratio, table, timing } from "./lib/format.ts";
import { summarize } from "./lib/stats.ts";

export const KUBERNETES_OPTION_ENV = ["OUTPOST_BENCH_KUBE_SANDBOXES", "OUTPOST_BENCH_KUBE_QUIET_MS"];

export interface KubernetesBenchOptions {
  sandboxes: number;
  quietMs: number;
}

export function kubernetesBenchOptions(): KubernetesBenchOptions {
  const sandboxes = Number(process.env.OUTPOST_BENCH_KUBE_SANDBOXES ?? 100);
  const quietMs = Number(process.env.OUTPOST_BENCH_KUBE_QUIET_MS ?? 5000);
  if (!Number.isInteger(sandboxes) || sandboxes < 2 || sandboxes > 500) throw new Error("OUTPOST_BENCH_KUBE_SANDBOXES must be an integer from 2 to 500");
  if (!Number.isInteger(quietMs) || quietMs < 500) throw new Error("OUTPOST_BENCH_KUBE_QUIET_MS must be an integer ≥ 500");
  return { sandboxes, quietMs };
}

export interface KubernetesResults {
  options: KubernetesBenchOptions;
  createRequests: number[];
  adoptRequests: number;
  stopRequests: number;
  startRequests: number;
  /** Requests over the quiet window with every sandbox at rest: watches, and anything else. */
  quiet: { watches: number; other: string[] };
  createMs: number[];
  barePodMs: number[];
}

const CONCURRENCY = 4;

export async function benchKubernetes(options: KubernetesBenchOptions, progress: (line: string) => void): Promise<KubernetesResults> {
  const cluster = await startTestCluster();
  const done = deferCleanup("stand-in cluster", () => cluster.close());
  try {
    const driver = cluster.makeDriver();
    await driver.start();
    const ensureOptions = (): EnsureOptions => ({ onStage: () => {}, signal: AbortSignal.timeout(120_000) });
    const tag = randomBytes(3).toString("hex");
    const nonWatch = () => cluster.api.requests.filter((r) => !r.watch);
    const results: KubernetesResults = {
      options,
      createRequests: [],
      adoptRequests: 0,
      stopRequests: 0,
      startRequests: 0,
      quiet: { watches: 0, other: [] },
      createMs: [],
      barePodMs: [],
    };

    // The client discovers each kind once per process: not part of any one create.
    await driver.ensure({ sandboxId: `sbx_warm_${tag}`, name: "warm" }, ensureOptions());

    progress("request counts: create, adopt, stop, start (one sandbox at a time)");
    for (let i = 0; i < 5; i++) {
      cluster.api.resetRequests();
      const started = performance.now();
      await driver.ensure({ sandboxId: `sbx_count_${tag}_${i}`, name: `count-${i}` }, ensureOptions());
      results.createMs.push(performance.now() - started);
      results.createRequests.push(nonWatch().length);
      results.barePodMs.push(await barePod(cluster.api, `bare-${tag}-${i}`));
    }
    const counted = `sbx_count_${tag}_0`;
    cluster.api.resetRequests();
    await driver.ensure({ sandboxId: counted, name: "count-0" }, ensureOptions());
    results.adoptRequests = nonWatch().length;
    cluster.api.resetRequests();
    await driver.stop(counted, { signal: AbortSignal.timeout(60_000) });
    results.stopRequests = nonWatch().length;
    cluster.api.resetRequests();
    await driver.ensure({ sandboxId: counted, name: "count-0" }, ensureOptions());
    results.startRequests = nonWatch().length;

    progress(`${options.sandboxes} sandboxes running (${CONCURRENCY} created at a time)`);
    const ids = Array.from({ length: options.sandboxes - 6 }, (_, i) => `sbx_rest_${tag}_${i}`);
    for (let i = 0; i < ids.length; i += CONCURRENCY) {
      await Promise.all(ids.slice(i, i + CONCURRENCY).map((id, j) => driver.ensure({ sandboxId: id, name: `rest-${i + j}` }, ensureOptions())));
      if ((i / CONCURRENCY) % 10 === 0) progress(`  ${Math.min(i + CONCURRENCY, ids.length) + 6} of ${options.sandboxes}`);
    }

    progress(`quiet window: ${options.quietMs} ms with inspect and list as the reconciler calls them, one forced watch renewal`);
    cluster.api.resetRequests();
    const everyId = await driver.list();
    const half = performance.now() + options.quietMs / 2;
    for (const id of everyId) await driver.inspect(id);
    await sleep(Math.max(0, half - performance.now()));
    cluster.api.dropWatches();
    await sleep(options.quietMs / 2);
    for (const id of everyId) await driver.inspect(id);
    results.quiet.watches = cluster.api.requests.filter((r) => r.watch).length;
    results.quiet.other = nonWatch().map((r) => `${r.method} ${r.path}`);
    return results;
  } finally {
    await cluster.close();
    done();
  }
}

/** A pod running `true` from one POST to its first Running report: the substrate alone. */
async function barePod(api: Awaited<ReturnType<typeof startTestCluster>>["api"], name: string): Promise<number> {
  const started = performance.now();
  const running = new Promise<void>((resolve) => {
    const stop = api.onChange((event) => {
      const status = (event.object as { status?: { containerStatuses?: { state?: { running?: unknown; terminated?: unknown } }[] } }).status;
      const state = status?.containerStatuses?.[0]?.state;
      if (event.key === "pods" && event.object.metadata.name === name && (state?.running || state?.terminated)) {
        stop();
        resolve();
      }
    });
  });
  const response = await fetch(`${api.url}/api/v1/namespaces/${NAMESPACE}/pods`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${api.token}` },
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: { restartPolicy: "Never", containers: [{ name: "c", image: "outpost-runtime:test", command: ["/bin/true"] }] },
    }),
  });
  if (response.status !== 201) throw new Error(`bare pod: HTTP ${response.status}`);
  await running;
  const took = performance.now() - started;
  api.remove("pods", NAMESPACE, name);
  return took;
}

export function kubernetesReport(results: KubernetesResults): string {
  const create = summarize(results.createMs);
  const bare = summarize(results.barePodMs);
  const maxCreate = Math.max(...results.createRequests);
  const lines = [
    `kubernetes driver on the stand-in cluster (${results.options.sandboxes} sandboxes)`,
    table([
      ["", "requests", "goal"],
      ["create (max of 5)", String(maxCreate), "≤ 12"],
      ["adopt a running sandbox", String(results.adoptRequests), "0"],
      ["stop", String(results.stopRequests), ""],
      ["start again", String(results.startRequests), ""],
      [`${results.options.sandboxes} at rest, ${results.options.quietMs} ms (besides watches)`, String(results.quiet.other.length), "0"],
      ["  watch requests in that window (one forced renewal)", String(results.quiet.watches), ""],
    ]),
    "",
    table([
      ["", "median (min–max)", "vs bare pod"],
      ["create → supervisor linked", timing(create), ratio(create.median, bare.median)],
      ["bare pod (POST → running `true`)", timing(bare), "×1.0"],
    ]),
    "",
  ];
  if (results.quiet.other.length) lines.push(`  requests at rest: ${results.quiet.other.slice(0, 10).join(", ")}`, "");
  return `${lines.join("\n")}\n`;
}

export function kubernetesProblems(results: KubernetesResults): string[] {
  const problems: string[] = [];
  if (Math.max(...results.createRequests) > 12) problems.push(`create took ${Math.max(...results.createRequests)} requests (goal ≤ 12)`);
  if (results.quiet.other.length) problems.push(`${results.quiet.other.length} requests at rest (goal 0)`);
  if (results.adoptRequests) problems.push(`adopting took ${results.adoptRequests} requests (goal 0)`);
  return problems;
}
