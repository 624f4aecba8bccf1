// A sandbox's link token on Kubernetes: derived, not stored. HMAC of the sandbox id under
// a key that only control planes hold (derived from the installation's secret key), so
// every replica, and a control plane restarted under another pod name, verifies a
// supervisor's hello without reading anything back from the cluster; the pod gets its own
// token (and only its own) in a Secret. A token never opens another sandbox's link.
import { createHmac, hkdfSync } from "node:crypto";

export function linkTokenKey(secretKey: Buffer, installation: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secretKey, Buffer.from(installation), Buffer.from("outpost kubernetes link tokens"), 32));
}

export function linkToken(key: Buffer, sandboxId: string): string {
  return createHmac("sha256", key).update(sandboxId).digest("base64url");
}
