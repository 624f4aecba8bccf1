// `outpost serve` (what `npm start` runs): start the control plane in the foreground.
import { loadSettings } from "../../config/settings.ts";
import { startServer } from "../../server.ts";
import { parse } from "../args.ts";

export const serveHelp = `outpost serve [--port N] [--host ADDR] [--data-dir DIR]
  Starts Outpost. Environment: OUTPOST_PORT, OUTPOST_HOST, OUTPOST_DATA_DIR, DATABASE_URL.`;

export async function serve(argv: string[]): Promise<number> {
  const { values } = parse(argv, { port: { type: "string" }, host: { type: "string" } });
  const settings = loadSettings(process.env, {
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values["data-dir"] !== undefined ? { dataDir: values["data-dir"] } : {}),
  });
  const server = await startServer(settings);
  // Outpost runs without bubblewrap (projects, API, docs); say so at once, with the fix,
  // rather than let the first sandbox be the surprise.
  const sandboxes = server.sandboxAvailability;
  const banner = [
    "",
    `  Outpost is running at ${server.url}`,
    ...(sandboxes.ok
      ? [`  Sandboxes: ready (${sandboxes.detail})`]
      : [`  Sandboxes: unavailable: ${sandboxes.problem}`, ...(sandboxes.fix ? [`    fix: ${sandboxes.fix}`] : [])]),
    "",
    `  Open this one-time login link in your browser:`,
    `    ${server.loginUrl}`,
    "",
    `  API reference: ${server.url}/docs    CLI: npx outpost --help`,
    `  Data dir: ${settings.dataDir} (${server.database.kind === "embedded" ? `embedded PostgreSQL, ${server.database.outcome}` : "DATABASE_URL"})`,
    "",
  ];
  process.stderr.write(`${banner.join("\n")}\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.app.log.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await server.close();
  return 0;
}
