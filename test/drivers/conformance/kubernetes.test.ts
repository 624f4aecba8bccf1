// The Kubernetes driver against the conformance suite, with each workload kind (a
// StatefulSet, or an agent-sandbox `Sandbox`): the real client talking to the stand-in API
// server, pods run by the simulated kubelet with the real supervisor, which dials the
// driver's TLS link endpoint.
import { objectName, podName } from "../../../src/drivers/kubernetes/names.ts";
import type { WorkloadKind } from "../../../src/drivers/kubernetes/workloads.ts";
import { inspectOnceSeen, testCluster } from "../kubernetes/cluster.ts";
import { driverConformance } from "./driver-conformance.ts";

for (const kind of ["statefulset", "agent-sandbox"] as WorkloadKind[]) {
  driverConformance(`kubernetes (${kind})`, async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver({ workload: kind });
    await driver.start();
    return {
      driver,
      // The node kills the pod's containers (as an OOM or a crash would); the pod stays,
      // waiting out the kubelet's restart back-off. inspect reads the driver's watches:
      // the crash counts as seen once they deliver it.
      crash: async (sandboxId) => {
        await cluster.kubelet.crash(kind === "statefulset" ? podName(sandboxId) : objectName(sandboxId));
        await inspectOnceSeen(driver, sandboxId, (inspection) => inspection.state !== "running");
      },
    };
  });
}
