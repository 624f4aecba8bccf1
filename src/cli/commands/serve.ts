// `outpost serve` (what `npm start` runs): start the control plane in the foreground.
// SIGTERM and SIGINT are handled from the first line of serve() on, before anything starts:
// Kubernetes sends SIGTERM during rollouts, often just as /readyz first answers, and Node's
// default handler would kill the process and leave its PostgreSQL running. A signal at any
// moment stops whatever has started, the embedded database included, and exits 0; a second
// signal exits at once, for a shutdown that hangs.
// The server's modules are imported inside serve(): `outpost --help` loads this file too.
import { parse } from "../args.ts";

export const serveHelp = `outpost serve [--port N] [--host ADDR] [--data-dir DIR]
  Starts Outpost. Environment: OUTPOST_PORT, OUTPOST_HOST, OUTPOST_DATA_DIR, DATABASE_URL.`;

export async function serve(argv: string[]): Promise<number> {
  const { values } = parse(argv, { port: { type: "string" }, host: { type: "string" } });
  const stopRequested = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopRequested.signal.aborted) {
      stopRequested.abort(signal);
      return;
    }
    process.stderr.write(`outpost: ${signal} again: exiting without waiting (the embedded PostgreSQL, if running, is adopted at the next start)\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const [{ loadSettings }, { createLogger }, { startServer, StartCancelled }] = await Promise.all([
    import("../../config/settings.ts"),
    import("../../logger.ts"),
    import("../../server.ts"),
  ]);
  const settings = loadSettings(process.env, {
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values["data-dir"] !== undefined ? { dataDir: values["data-dir"] } : {}),
  });
  const logger = createLogger(settings.logLevel);
  const stopping = () => logger.info({ signal: stopRequested.signal.reason }, "shutting down");

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(settings, { logger, signal: stopRequested.signal });
  } catch (error) {
    if (!(error instanceof StartCancelled)) throw error;
    // startServer has stopped what it started.
    stopping();
    return 0;
  }
  if (stopRequested.signal.aborted) {
    // The signal came after startServer's last check: no banner for a server that stops.
    stopping();
    await server.close();
    return 0;
  }

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

  await new Promise((resolve) => stopRequested.signal.addEventListener("abort", resolve, { once: true }));
  stopping();
  await server.close();
  return 0;
}
