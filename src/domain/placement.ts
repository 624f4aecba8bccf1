// Where a sandbox runs, as people see it (pure): picked from the driver's own record of it
// (driverState), which the control plane keeps but never depends on. Only the known
// fields, as bounded strings: the record is the driver's, not an API contract.

export interface Placement {
  /** Kubernetes: the namespace, the pod and the node it was scheduled on. */
  namespace?: string;
  pod?: string;
  node?: string;
}

const FIELDS = ["namespace", "pod", "node"] as const;
const MAX_CHARS = 253;

export function placementOf(driver: string, driverState: Record<string, unknown> | null | undefined): Placement | null {
  if (driver !== "kubernetes" || !driverState) return null;
  const placement: Placement = {};
  for (const field of FIELDS) {
    const value = driverState[field];
    if (typeof value === "string" && value.length > 0 && value.length <= MAX_CHARS) placement[field] = value;
  }
  return Object.keys(placement).length ? placement : null;
}
