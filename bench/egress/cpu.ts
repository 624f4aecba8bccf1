// CPU time of the processes the proxied bytes pass through, read before and after a run:
// the control plane (the proxy), its embedded database (the postmaster and its backends:
// the proxy reads the project's policy for every connection), the sandbox's supervisor
// (its bridge from 127.0.0.1:3128 to the proxy's socket) and this process (the host server).
import { clockTicks, cpuSeconds } from "../lib/cpu.ts";
import { descendants } from "../lib/proc.ts";

export interface CpuPids {
  controlPlane: number;
  postmaster?: number;
  supervisor?: number;
}

export interface Cpu {
  controlPlane?: number;
  database?: number;
  supervisor?: number;
  /** This process: the host server (and the idle API client). */
  server: number;
}

const ticks = await clockTicks();

/** CPU seconds so far; the database's is summed over its live processes (pooled backends stay). */
export function cpuNow(pids: CpuPids): Cpu {
  const own = process.cpuUsage();
  let database: number | undefined;
  if (pids.postmaster !== undefined) {
    for (const pid of [pids.postmaster, ...descendants(pids.postmaster)]) database = (database ?? 0) + (cpuSeconds(pid, ticks) ?? 0);
  }
  return {
    controlPlane: cpuSeconds(pids.controlPlane, ticks),
    database,
    supervisor: pids.supervisor === undefined ? undefined : cpuSeconds(pids.supervisor, ticks),
    server: (own.user + own.system) / 1e6,
  };
}

const minus = (after?: number, before?: number) => (after === undefined || before === undefined ? undefined : after - before);

export function cpuSpent(before: Cpu, after: Cpu): Cpu {
  return {
    controlPlane: minus(after.controlPlane, before.controlPlane),
    database: minus(after.database, before.database),
    supervisor: minus(after.supervisor, before.supervisor),
    server: after.server - before.server,
  };
}
