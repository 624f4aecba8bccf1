// Start-up: the provisioner that holds projects' databases, chosen by
// OUTPOST_DATABASE_PROVISIONER: `managed` (default: a PostgreSQL 15 server of Outpost's own
// under <data dir>/projects-postgres, run as the database account like the control plane's),
// `server` (OUTPOST_DATABASE_ADMIN_URL's PostgreSQL), `kubeblocks` / `cloudnative-pg` (a
// cluster per project made by that operator in the Kubernetes driver's namespace, through
// the same kubeconfig as the driver), `none` (projects get no database).
// Nothing is started here: start() does it (the managed server is also started by its
// first operation), so a control plane that never provisions a database runs no second server.
import type { Logger } from "pino";
import { dataPaths } from "../config/data-dir.ts";
import type { Settings } from "../config/settings.ts";
import { ensureDbAccount } from "../db/account.ts";
import { locateProjectPgBinaries } from "../db/binaries.ts";
import { EmbeddedPostgres } from "../db/embedded.ts";
import { StartupError } from "../domain/errors.ts";
import { loadClusterAccess } from "../drivers/kubernetes/kubeconfig.ts";
import { CloudNativePgProvisioner } from "../services/databases/kubernetes/cloudnative-pg.ts";
import { KubeBlocksProvisioner } from "../services/databases/kubernetes/kubeblocks.ts";
import { ManagedProvisioner } from "../services/databases/managed.ts";
import type { Provisioner } from "../services/databases/provisioner.ts";
import { ServerProvisioner } from "../services/databases/server.ts";

export type StartableProvisioner = Provisioner & {
  /** Starts (managed) or checks (server) the PostgreSQL server; StartupError with the fix when it cannot. */
  start(): Promise<void>;
};

export function createProvisioner(settings: Settings, logger?: Logger): StartableProvisioner | null {
  switch (settings.databaseProvisioner) {
    case "none":
      return null;
    case "server":
      // settings.ts refuses `server` without the URL.
      return new ServerProvisioner(settings.databaseAdminUrl ?? "");
    case "kubeblocks":
    case "cloudnative-pg": {
      // settings.ts refuses these without OUTPOST_DRIVER=kubernetes (its settings).
      const kubernetes = settings.kubernetes;
      if (!kubernetes)
        throw new StartupError(`OUTPOST_DATABASE_PROVISIONER=${settings.databaseProvisioner} needs the Kubernetes driver`, "set OUTPOST_DRIVER=kubernetes");
      const access = loadClusterAccess(kubernetes);
      const options = { installation: kubernetes.installation ?? access.namespace, shape: { storageClass: kubernetes.storageClass } };
      return settings.databaseProvisioner === "kubeblocks"
        ? new KubeBlocksProvisioner(access.kubeConfig, access.namespace, options)
        : new CloudNativePgProvisioner(access.kubeConfig, access.namespace, options);
    }
    case "managed": {
      const log = (message: string) => logger?.info(message);
      const server = new EmbeddedPostgres({
        dir: dataPaths(settings.dataDir).projectsPostgres,
        binaries: locateProjectPgBinaries(settings.projectPgBin),
        account: ensureDbAccount(),
        log,
        label: "project databases' PostgreSQL",
      });
      return new ManagedProvisioner(server, { log });
    }
  }
}
