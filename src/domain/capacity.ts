// The installation-wide cap on sandboxes (pure): how many may run at once, and how much
// memory their limits may add up to. Per-sandbox limits are ceilings, so the memory cap
// is about overcommit, not reservations.

export interface Capacity {
  maxSandboxes: number;
  maxMemoryBytes: number;
}

/** Why one more sandbox (with `memoryBytes` as its limit) does not fit, or null when it does. */
export function capacityProblem(capacity: Capacity, running: { count: number; memoryBytes: number }, memoryBytes: number): string | null {
  if (running.count + 1 > capacity.maxSandboxes) {
    return `${running.count} sandboxes already run here, the most this installation allows (${capacity.maxSandboxes})`;
  }
  if (running.memoryBytes + memoryBytes > capacity.maxMemoryBytes) {
    const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
    return `the running sandboxes' memory limits add up to ${mib(running.memoryBytes)}; one more (${mib(memoryBytes)}) would pass this installation's ${mib(capacity.maxMemoryBytes)}`;
  }
  return null;
}
