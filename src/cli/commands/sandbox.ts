// `outpost sandbox create|list|get|start|stop|restart|delete`. Verbs that start work show
// the stages as they progress and return once the sandbox settles (--no-wait to skip).
import type { Sandbox } from "../../schemas/sandboxes.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";

export const sandboxHelp = `outpost sandbox create <project> [--no-wait]
outpost sandbox list [--project P] [--all]
outpost sandbox get <sandbox>
outpost sandbox start|stop|restart <sandbox> [--no-wait]
outpost sandbox delete <sandbox> [--keep-workspace] [--no-wait]`;

const SETTLED: Record<string, (s: Sandbox) => boolean> = {
  running: (s) => s.phase === "running" || s.phase === "failed",
  stopped: (s) => s.phase === "stopped" || s.phase === "failed",
  deleted: (s) => s.phase === "deleted",
};

export async function sandbox(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    "no-wait": { type: "boolean", default: false },
    project: { type: "string" },
    all: { type: "boolean", default: false },
    "keep-workspace": { type: "boolean", default: false },
  });
  const [verb, ref, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const api = new ApiClient(resolveConnection(values));
  const need = (what: string) => {
    if (!ref) throw new UsageError(`outpost sandbox ${verb} needs a ${what}`);
    return encodeURIComponent(ref);
  };

  let result: Sandbox;
  switch (verb) {
    case "list": {
      const query = new URLSearchParams({
        limit: "500",
        ...(values.project ? { project: values.project } : {}),
        ...(values.all ? { includeDeleted: "true" } : {}),
      });
      const page = await api.request<{ items: Sandbox[] }>("GET", `/api/v1/sandboxes?${query}`);
      if (values.json) printJson(page);
      else console.log(table(page.items, ["name", "id", "phase", "stage", "createdAt"]));
      return 0;
    }
    case "get":
      return show(await api.request<Sandbox>("GET", `/api/v1/sandboxes/${need("sandbox id or name")}`), values.json);
    case "create":
      result = await api.create<Sandbox>(`/api/v1/projects/${need("project id or name")}/sandboxes`);
      break;
    case "start":
    case "stop":
    case "restart":
      result = await api.request<Sandbox>("POST", `/api/v1/sandboxes/${need("sandbox id or name")}/${verb}`);
      break;
    case "delete":
      result = await api.request<Sandbox>("DELETE", `/api/v1/sandboxes/${need("sandbox id or name")}${values["keep-workspace"] ? "?keepWorkspace=true" : ""}`);
      break;
    default:
      throw new UsageError(verb ? `unknown verb 'sandbox ${verb}'` : "outpost sandbox needs a verb: create, list, get, start, stop, restart, delete");
  }
  if (!values.json) console.error(`${result.name} (${result.id}): ${verb === "create" ? "creating" : `${verb} requested`}`);
  if (values["no-wait"]) {
    if (values.json) printJson(result);
    return 0;
  }
  const final = await follow(api, result, values.json);
  if (values.json) printJson(final);
  else console.error(`${final.name} is ${final.phase}`);
  if (final.phase !== "failed") return 0;
  // A sandbox that failed is reported like any other error: message, code, then the hint.
  if (final.error && !values.json) throw new ApiError(0, final.error.code, final.error.message, { hint: final.error.hint });
  return 1;
}

/** Polls the sandbox until it settles, printing each stage as it starts and ends. */
async function follow(api: ApiClient, start: Sandbox, quiet: boolean): Promise<Sandbox> {
  const stageKey = (stage: Sandbox["stages"][number]) => `${stage.name}:${stage.state}:${stage.startedAt ?? ""}`;
  // What the sandbox already showed when the verb was sent is history, not progress.
  const printed = new Set<string>(start.stages.map(stageKey));
  let current = start;
  const deadline = Date.now() + 10 * 60_000;
  while (!SETTLED[current.desired]?.(current)) {
    if (Date.now() > deadline) throw new ApiError(0, "TIMEOUT", `sandbox ${current.name} did not settle within 10 minutes (phase ${current.phase})`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    try {
      current = await api.request<Sandbox>("GET", `/api/v1/sandboxes/${current.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && current.desired === "deleted") return { ...current, phase: "deleted" };
      throw error;
    }
    if (quiet) continue;
    for (const stage of current.stages) {
      const key = stageKey(stage);
      if (stage.state === "pending" || printed.has(key)) continue;
      printed.add(key);
      const took = stage.startedAt && stage.endedAt ? ` (${Date.parse(stage.endedAt) - Date.parse(stage.startedAt)} ms)` : "";
      const mark = { running: "…", done: "✓", failed: "✗" }[stage.state];
      console.error(`  ${mark} ${stage.name}${took}${stage.message ? `  ${stage.message}` : ""}`);
    }
  }
  return current;
}

/** "this machine", or the pod (and node, namespace) on Kubernetes. */
function placementText(s: Sandbox): string {
  if (!s.placement) return s.driver === "local" ? "this machine (local driver)" : s.driver;
  const { pod, node, namespace } = s.placement;
  return [`pod ${pod ?? "?"}`, node ? `node ${node}` : null, namespace ? `namespace ${namespace}` : null].filter(Boolean).join(", ");
}

function show(s: Sandbox, json: boolean): number {
  if (json) {
    printJson(s);
    return 0;
  }
  console.log(
    keyValues([
      ["name", s.name],
      ["id", s.id],
      ["project", s.projectId],
      ["phase", s.phase],
      ["desired", s.desired],
      ["runs on", placementText(s)],
      ["stages", s.stages.map((st) => `${st.name}:${st.state}`).join(" ")],
      ["error", s.error ? `${s.error.code}: ${s.error.message}` : null],
      ...(s.error?.hint ? [["hint", s.error.hint] as [string, string]] : []),
      ["created", s.createdAt],
    ]),
  );
  return 0;
}
