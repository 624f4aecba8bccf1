// `outpost project deploy-key <project> [--rotate]`: the project's SSH deploy key, made on
// first use. Prints the public key to add to the repository (with write access to push) and
// the host keys pinned for it; the private half never leaves the Outpost host.
import type { z } from "zod";
import type { deployKey } from "../../schemas/deploy-keys.ts";
import { type GlobalFlags, UsageError } from "../args.ts";
import { ApiClient, ApiError, resolveConnection } from "../client.ts";
import { keyValues, printJson } from "../output.ts";

type DeployKey = z.infer<typeof deployKey>;

export const deployKeyHelp = `outpost project deploy-key <project> [--rotate]
    Shows the project's SSH deploy key (made if it has none): add the public key to the repository.
    --rotate makes a new key in its place (the old one stops working at once).`;

export async function projectDeployKey(positionals: string[], values: GlobalFlags & { rotate?: boolean }): Promise<number> {
  const [project, ...extra] = positionals;
  if (!project) throw new UsageError("outpost project deploy-key needs a project id or name");
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const api = new ApiClient(resolveConnection(values));
  const path = `/api/v1/projects/${encodeURIComponent(project)}/git/deploy-key`;
  let key: DeployKey | null = null;
  if (!values.rotate) {
    key = await api.request<DeployKey>("GET", path).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === "DEPLOY_KEY_NOT_FOUND") return null;
      throw error;
    });
  }
  key ??= await api.request<DeployKey>("POST", path);
  if (values.json) {
    printJson(key);
    return 0;
  }
  console.log(
    keyValues([
      ["public key", key.publicKey],
      ["fingerprint", key.fingerprint],
      ["created", key.createdAt],
      ["host keys", key.knownHosts ? "pinned:" : "none pinned"],
    ]),
  );
  if (key.knownHosts) console.log(key.knownHosts.trimEnd());
  if (key.warning) console.error(`warning: ${key.warning}`);
  return 0;
}
