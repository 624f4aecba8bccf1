// `outpost process start|list|get|logs|kill`: background processes in a sandbox (dev
// servers, watchers). Logs follow by default and resume where they broke off.
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, readSse, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";

export const processHelp = `outpost process start <sandbox> [--name NAME] [--cwd DIR] [--env KEY=VALUE]... -- command [args…]
outpost process list <sandbox>
outpost process get <sandbox> <process>
outpost process logs <sandbox> <process> [--no-follow]
outpost process kill <sandbox> <process> [--signal SIGTERM|SIGKILL|SIGINT|SIGHUP|SIGUSR1|SIGUSR2] [--no-wait]`;

/** How long `kill` waits for the process to end before saying it still runs. */
const KILL_WAIT_MS = 10_000;

interface Process {
  id: string;
  name?: string | null;
  command: string | string[];
  cwd: string;
  pid: number | null;
  status: string;
  exitCode: number | null;
  signal: string | null;
  startedAt: string;
  endedAt: string | null;
}

export async function processCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const { values, positionals } = parse(dash === -1 ? argv : argv.slice(0, dash), {
    name: { type: "string" },
    cwd: { type: "string" },
    env: { type: "string", multiple: true },
    signal: { type: "string", default: "SIGTERM" },
    "no-follow": { type: "boolean", default: false },
    "no-wait": { type: "boolean", default: false },
  });
  const [verb, sandbox, processId, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!sandbox) throw new UsageError(verb ? `outpost process ${verb} needs a sandbox` : "outpost process needs a verb: start, list, get, logs, kill");
  const api = new ApiClient(resolveConnection(values));
  const base = `/api/v1/sandboxes/${encodeURIComponent(sandbox)}/processes`;
  const needProcess = () => {
    if (!processId) throw new UsageError(`outpost process ${verb} needs a process id (prc_…)`);
    return encodeURIComponent(processId);
  };

  switch (verb) {
    case "start": {
      if (dash === -1 || dash === argv.length - 1) throw new UsageError("put the command after --, e.g. outpost process start my-sandbox -- npm run dev");
      const env: Record<string, string> = {};
      for (const pair of values.env ?? []) {
        const eq = pair.indexOf("=");
        if (eq < 1) throw new UsageError(`--env takes KEY=VALUE, got '${pair}'`);
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const body = {
        command: argv.slice(dash + 1),
        ...(values.name ? { name: values.name } : {}),
        ...(values.cwd ? { cwd: values.cwd } : {}),
        ...(values.env ? { env } : {}),
      };
      return show(await api.request<Process>("POST", base, body), values.json);
    }
    case "list": {
      const list = await api.request<{ items: Process[] }>("GET", base);
      if (values.json) printJson(list);
      else
        console.log(
          table(
            list.items.map((p) => ({ ...p, command: commandText(p.command), exit: p.exitCode ?? p.signal })),
            ["id", "name", "status", "exit", "command"],
          ),
        );
      return 0;
    }
    case "get":
      return show(await api.request<Process>("GET", `${base}/${needProcess()}`), values.json);
    case "kill": {
      const path = `${base}/${needProcess()}`;
      const signalled = await api.request<Process>("POST", `${path}/signal`, { signal: values.signal });
      // A signal a process traps (or a TERM it handles slowly) leaves it running: wait a
      // little for the end, then say how it stands rather than show a "running" that is stale.
      const waits = !values["no-wait"] && ["SIGTERM", "SIGKILL", "SIGINT"].includes(values.signal);
      const final = waits ? await untilExited(api, path, signalled) : signalled;
      if (!values.json) {
        const still = final.status === "running" ? ` (still running${waits ? ` after ${KILL_WAIT_MS / 1000} s; --signal SIGKILL ends it` : ""})` : "";
        console.error(`${values.signal} sent to ${final.id}${still}`);
      }
      return show(final, values.json);
    }
    case "logs":
      return logs(api, `${base}/${needProcess()}/logs`, !values["no-follow"], values.json);
    default:
      throw new UsageError(`unknown verb 'process ${verb}'`);
  }
}

/** Prints output as it comes; after a dropped connection, resumes after the last record. */
async function logs(api: ApiClient, path: string, follow: boolean, json: boolean): Promise<number> {
  let lastSeq: string | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const stream = await api.stream("GET", `${path}?follow=${follow}`, undefined, lastSeq ? { "last-event-id": lastSeq } : {});
      for await (const event of readSse(stream)) {
        const data = event.data as { seq?: number; stream?: string; data?: string };
        if (json) process.stdout.write(`${JSON.stringify({ event: event.event, ...data })}\n`);
        else if (event.event === "log") (data.stream === "stderr" ? process.stderr : process.stdout).write(Buffer.from(data.data ?? "", "base64"));
        if (event.id) lastSeq = event.id;
        if (event.event === "error") throw new ApiError(503, "STREAM_ERROR", String((event.data as { message?: string }).message));
      }
      return 0;
    } catch (error) {
      if (!follow || attempt >= 5 || (error instanceof ApiError && error.status >= 400 && error.status < 500)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function untilExited(api: ApiClient, path: string, current: Process): Promise<Process> {
  const deadline = Date.now() + KILL_WAIT_MS;
  while (current.status === "running" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    current = await api.request<Process>("GET", path);
  }
  return current;
}

const commandText = (command: string | string[]) => (Array.isArray(command) ? command.join(" ") : command);

function show(p: Process, json: boolean): number {
  if (json) printJson(p);
  else
    console.log(
      keyValues([
        ["id", p.id],
        ["name", p.name],
        ["command", commandText(p.command)],
        ["status", p.status],
        ["exit", p.exitCode ?? p.signal],
        ["started", p.startedAt],
      ]),
    );
  return 0;
}
