// Kubernetes as a user sees it, with `outpost serve` started as a user starts it
// (OUTPOST_DRIVER=kubernetes and the OUTPOST_KUBE_* variables) against the stand-in cluster
// (test/kube: the stand-in API server, the simulated kubelet running the real supervisor):
// the start-up banner names the cluster, the sandbox page and `outpost sandbox show` say
// where the sandbox runs (pod, node, namespace), and its terminal works from the browser.
// Screenshots land in /tmp/outpost-ui-kube*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium`, bubblewrap, and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, runCli, startOutpost } from "../cli/harness.ts";
import { type ClusterForControlPlane, clusterForControlPlane, NAMESPACE } from "../drivers/kubernetes/cluster.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { deleteEverySandbox, runningSandbox } from "../helpers/sandboxes.ts";
import { uiTestWith } from "../helpers/ui-test.ts";

const PROJECT = "kube-ui";
let cluster: ClusterForControlPlane;
let server: OutpostServer;
let browser: Browser;
let page: Page;
let sandbox: { id: string; name: string; placement: { pod: string; node: string; namespace: string } };

before(async () => {
  cluster = await clusterForControlPlane();
  const { kubeconfig, linkPort } = cluster;
  [server, browser] = await Promise.all([
    startOutpost({
      env: {
        OUTPOST_DRIVER: "kubernetes",
        KUBECONFIG: kubeconfig,
        OUTPOST_KUBE_RUNTIME_IMAGE: "outpost-runtime:test",
        OUTPOST_LINK_LISTEN: `127.0.0.1:${linkPort}`,
        OUTPOST_LINK_ADDRESS: `127.0.0.1:${linkPort}`,
        OUTPOST_KUBE_CONTROL_PLANE_CIDR: "127.0.0.1/32",
        OUTPOST_INSTALLATION: "kube-ui",
      },
    }),
    launchChromium(),
  ]);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const project = await apiJson(server, "POST", "/api/v1/projects", { name: PROJECT });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  sandbox = await runningSandbox(server, PROJECT, 120_000);
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
  await cluster?.close();
});

const uiTest = uiTestWith(() => page, "kube-");

describe("Kubernetes in the UI and the CLI", () => {
  uiTest("the sandbox page says which pod, node and namespace it runs on, and its terminal works", async () => {
    assert.equal(sandbox.placement.namespace, NAMESPACE);
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/sandboxes/${sandbox.id}/terminal`);
    const placement = page.getByTestId("sandbox-placement");
    await placement.waitFor();
    const text = await placement.innerText();
    assert.match(text, new RegExp(`Runs on Kubernetes: pod ${sandbox.placement.pod} on node fake-node in namespace ${NAMESPACE}`));
    await page.locator("[data-testid=terminal][data-terminal-state=open]:visible .xterm").click();
    await page.keyboard.type("echo hello-from-$(hostname)");
    await page.keyboard.press("Enter");
    // The pod's hostname is its pod name (a StatefulSet sets it so); read from xterm.js's rendered rows.
    await page.waitForFunction((expected) => {
      const { document } = globalThis as unknown as {
        document: { querySelectorAll(selector: string): ArrayLike<{ innerText: string; offsetParent: unknown }> };
      };
      const rows = Array.from(document.querySelectorAll("[data-testid=terminal] .xterm-rows")).find((el) => el.offsetParent !== null);
      return (rows?.innerText ?? "")
        .replace(/\u00a0/g, " ")
        .split("\n")
        .some((line) => line.trim() === expected);
    }, `hello-from-${sandbox.placement.pod}`);
    await page.screenshot({ path: "/tmp/outpost-ui-kube-sandbox.png", fullPage: true });
  });

  uiTest("`outpost sandbox get` says the same", async () => {
    const shown = await runCli(["sandbox", "get", sandbox.id], server.cliEnv);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`runs on:\\s+pod ${sandbox.placement.pod}, node fake-node, namespace ${NAMESPACE}`));
  });

  uiTest("the start-up banner names the cluster, namespace and installation", async () => {
    assert.match(
      server.banner,
      new RegExp(`Sandboxes: ready \\(Kubernetes, namespace ${NAMESPACE} at ${cluster.api.url.replace(/[.]/g, "\\.")}, installation kube-ui\\)`),
    );
  });
});
