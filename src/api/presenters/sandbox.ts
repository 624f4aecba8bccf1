// A sandbox as the API shows it: the row's public fields, plus `stage`, the one step in
// progress (or the one that failed) so a client need not scan `stages` for it, and whether it
// was stopped for idleness or is waking from it (domain/idle.ts).
import { isWaking, stoppedReason } from "../../domain/idle.ts";
import { placementOf } from "../../domain/placement.ts";
import type { Sandbox } from "../../schemas/sandboxes.ts";
import type { SandboxRow } from "../../services/sandboxes.ts";

export function presentSandbox(row: SandboxRow): Sandbox {
  return {
    id: row.id,
    name: row.name,
    projectId: row.projectId,
    primary: row.isPrimary,
    driver: row.driver,
    placement: placementOf(row.driver, row.driverState),
    phase: row.phase,
    desired: row.desired,
    stage: row.stages.find((s) => s.state === "running" || s.state === "failed")?.name ?? null,
    stages: row.stages,
    stoppedReason: stoppedReason(row),
    waking: isWaking(row),
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
