// A sandbox's supervisor link as a driver hands it out: waited for (bounded) in the driver's
// link registry, wrapped in a client. The same for every driver whose supervisors dial in.
import { SupervisorClient } from "../supervisor/client.ts";
import type { LinkRegistry } from "../supervisor/link/registry.ts";
import type { ConnectOptions, SupervisorLink } from "./driver.ts";
import { DriverError } from "./errors.ts";
import { SANDBOX_ID } from "./validate-spec.ts";

export async function connectLink(registry: LinkRegistry, sandboxId: string, options: ConnectOptions = {}): Promise<SupervisorLink> {
  if (!SANDBOX_ID.test(sandboxId)) throw new DriverError("INVALID_SANDBOX_SPEC", `sandbox id '${sandboxId}' is not valid`);
  const session = await registry.wait(sandboxId, { signal: options.signal, timeoutMs: options.timeoutMs ?? 5000 });
  return { client: new SupervisorClient({ transport: session }), info: session.info };
}
