// What every driver accepts as a spec (pure, no I/O): ids that are safe as folder and
// label values, DNS-label names, limits above the floor a supervisor needs to start at all,
// and, for a driver whose links are unix sockets, a path short enough for the socket.
import { isAbsolute } from "node:path";
import type { SandboxSpec } from "./driver.ts";
import { DriverError } from "./errors.ts";

export const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Floors below which a sandbox cannot even start its supervisor (node alone runs ~10
 *  threads, and pids.max counts threads). */
const MIN_MEMORY_BYTES = 64 * 1024 * 1024;
const MIN_PIDS = 32;
const MAX_IMAGE_LAYERS = 16;

/** A driver's link socket for a sandbox, and the longest path a socket may have. */
export interface LinkSocketRule {
  path(sandboxId: string): string;
  maxBytes: number;
}

export function validateSpec(spec: SandboxSpec, linkSocket?: LinkSocketRule): void {
  const invalid = (field: string, message: string) => new DriverError("INVALID_SANDBOX_SPEC", message, { details: { field, sandboxId: spec.sandboxId } });
  if (typeof spec.sandboxId !== "string" || !SANDBOX_ID.test(spec.sandboxId)) {
    throw invalid("sandboxId", `sandbox id '${spec.sandboxId}' must be 1–63 letters, digits, '_' or '-'`);
  }
  if (typeof spec.name !== "string" || !DNS_LABEL.test(spec.name)) {
    throw invalid("name", `sandbox name '${spec.name}' must be a DNS label (lowercase letters, digits, '-', at most 63)`);
  }
  if (spec.workspaceFrom !== undefined && (typeof spec.workspaceFrom !== "string" || !SANDBOX_ID.test(spec.workspaceFrom))) {
    throw invalid("workspaceFrom", `workspaceFrom '${spec.workspaceFrom}' is not a sandbox id`);
  }
  if (spec.image !== undefined) {
    const layers = spec.image?.layers;
    if (!Array.isArray(layers) || layers.length < 1 || layers.length > MAX_IMAGE_LAYERS)
      throw invalid("image.layers", `an image has 1 to ${MAX_IMAGE_LAYERS} layers`);
    for (const layer of layers) {
      // The overlay's options are a comma- and colon-separated list: such paths are refused
      // rather than escaped, as are relative ones and any `..`.
      if (typeof layer !== "string" || !isAbsolute(layer) || /[,:\\\0]/.test(layer) || layer.split("/").includes(".."))
        throw invalid("image.layers", `image layer '${String(layer).slice(0, 200)}' must be an absolute path without ',', ':', '\\' or '..'`);
    }
  }
  const socket = linkSocket?.path(spec.sandboxId);
  if (linkSocket && socket !== undefined && Buffer.byteLength(socket) > linkSocket.maxBytes) {
    throw invalid("sandboxId", `the link socket path ${socket} is longer than ${linkSocket.maxBytes} bytes; choose a shorter data dir`);
  }
  const limits = spec.limits ?? {};
  if (limits.cpus !== undefined && !(Number.isFinite(limits.cpus) && limits.cpus >= 0.01 && limits.cpus <= 1024)) {
    throw invalid("limits.cpus", `limits.cpus must be between 0.01 and 1024 cores, not ${limits.cpus}`);
  }
  if (limits.memoryBytes !== undefined && !(Number.isSafeInteger(limits.memoryBytes) && limits.memoryBytes >= MIN_MEMORY_BYTES)) {
    throw invalid("limits.memoryBytes", `limits.memoryBytes must be a whole number of bytes ≥ ${MIN_MEMORY_BYTES}, not ${limits.memoryBytes}`);
  }
  if (limits.pids !== undefined && !(Number.isSafeInteger(limits.pids) && limits.pids >= MIN_PIDS)) {
    throw invalid("limits.pids", `limits.pids must be a whole number ≥ ${MIN_PIDS} (threads count), not ${limits.pids}`);
  }
}
