// Writes core/v1 Events the way the scheduler and kubelet do, so whoever watches a pod can
// read why it is stuck (FailedScheduling, Failed image pulls, BackOff).
import { randomBytes } from "node:crypto";
import type { ClusterContext } from "./context.ts";
import { errorText, KEYS, type KubeObject, timestamp } from "./objects.ts";

export function recordEvent(
  context: ClusterContext,
  involved: KubeObject,
  event: { reason: string; message: string; type?: "Normal" | "Warning"; component: string },
): void {
  const now = timestamp();
  try {
    context.api.create(KEYS.events, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${involved.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: context.namespace } as KubeObject["metadata"],
      involvedObject: {
        apiVersion: involved.apiVersion,
        kind: involved.kind,
        name: involved.metadata.name,
        namespace: involved.metadata.namespace,
        uid: involved.metadata.uid,
      },
      reason: event.reason,
      message: event.message,
      type: event.type ?? "Warning",
      source: { component: event.component },
      reportingComponent: event.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  } catch (error) {
    context.log(`event ${event.reason} for ${involved.metadata.name}: ${errorText(error)}`);
  }
}
