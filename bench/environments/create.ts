// One create through the API, timed the way a user meets it: POST …/sandboxes, then the
// `sandbox.phase running` event for that id on the event stream, then POST …/exec `true`
// until it answers exit 0. What is not timed: the GET that reads the stages afterwards, and
// the delete that follows each measure (so the installation's cap never bites).
// Where the time goes comes from the sandbox's own record: its createdAt and each stage's
// startedAt/endedAt (wall clock of this machine, millisecond resolution), a stage's start
// taken from its first `running` event when that is earlier (see events.ts), next to the
// bench's Date.now() at the POST and at the event.
import type { OutpostApi } from "../lib/api.ts";
import { failedText, type Sandbox, type Tracker } from "../sandboxes/tracker.ts";
import type { PhaseWatch } from "./events.ts";

const RUNNING_TIMEOUT_MS = 600_000;
const DELETED_TIMEOUT_MS = 120_000;

/** One piece of create → running: a stage, or the gap before one. */
export interface Segment {
  /** `post`, `queued`, `<stage>`, `→ <stage>` (the gap before it), `event`. */
  name: string;
  ms: number;
}

export interface CreateMeasure {
  sandboxId: string;
  /** POST until its 201 was read. */
  postMs: number;
  /** POST until the `running` event was read. */
  runningMs: number;
  /** That event until `true` answered exit 0: the first command. */
  execMs: number;
  /** POST until the first command answered: the figure of the issue's goal. */
  totalMs: number;
  segments: Segment[];
  /** Stage messages (e.g. environment: "…: cached (key)", isolation: "adopted …"). */
  messages: Record<string, string>;
}

/** Pure: the segments of create → running from the sandbox's timestamps and the client's. */
export function createSegments(
  sandbox: Pick<Sandbox, "createdAt" | "stages">,
  postedAt: number,
  runningSeenAt: number,
  firstStarts: ReadonlyMap<string, number> = new Map(),
): Segment[] {
  const segments: Segment[] = [];
  const created = Date.parse(sandbox.createdAt);
  segments.push({ name: "post", ms: created - postedAt });
  let previousEnd = created;
  let first = true;
  for (const stage of sandbox.stages) {
    if (!stage.startedAt || !stage.endedAt) continue;
    const start = Math.min(Date.parse(stage.startedAt), firstStarts.get(stage.name) ?? Number.POSITIVE_INFINITY);
    const end = Date.parse(stage.endedAt);
    segments.push({ name: first ? "queued" : `→ ${stage.name}`, ms: start - previousEnd });
    segments.push({ name: stage.name, ms: end - start });
    previousEnd = Math.max(previousEnd, end);
    first = false;
  }
  segments.push({ name: "event", ms: runningSeenAt - previousEnd });
  return segments.filter((segment) => Number.isFinite(segment.ms));
}

/** POST the create and wait for its running event; the sandbox is recorded in `run` at once. */
async function createAndRun(api: OutpostApi, watch: PhaseWatch, run: Tracker, project: string) {
  run.check();
  const postedAt = Date.now();
  const started = performance.now();
  const pending = await api.expect<Sandbox>(201, "POST", `/api/v1/projects/${project}/sandboxes`);
  const posted = performance.now();
  run.created.push(pending.id);
  const seen = await watch.wait(pending.id, ["running"], RUNNING_TIMEOUT_MS);
  const runningSeenAt = Date.now();
  if (seen.phase !== "running") throw new Error(failedText(await api.expect<Sandbox>(200, "GET", `/api/v1/sandboxes/${pending.id}`)));
  return { id: pending.id, started, postMs: posted - started, runningMs: seen.at - started, seenAt: seen.at, postedAt, runningSeenAt };
}

async function describeCreate(api: OutpostApi, watch: PhaseWatch, id: string, postedAt: number, runningSeenAt: number) {
  const sandbox = await api.expect<Sandbox>(200, "GET", `/api/v1/sandboxes/${id}`);
  const messages: Record<string, string> = {};
  for (const stage of sandbox.stages) if (stage.message) messages[stage.name] = stage.message;
  return { segments: createSegments(sandbox, postedAt, runningSeenAt, watch.stageStarts(id)), messages };
}

/** Create → first command (`true`, exit 0), then the sandbox deleted (not timed). */
export async function createToCommand(api: OutpostApi, watch: PhaseWatch, run: Tracker, project: string): Promise<CreateMeasure> {
  const created = await createAndRun(api, watch, run, project);
  const response = await api.call<{ exitCode: number | null }>("POST", `/api/v1/sandboxes/${created.id}/exec`, { command: ["true"] });
  const answered = performance.now();
  if (response.status !== 200 || response.body.exitCode !== 0)
    throw new Error(`exec true in ${created.id} → ${response.status}: ${response.text.slice(0, 500)}`);
  const described = await describeCreate(api, watch, created.id, created.postedAt, created.runningSeenAt);
  await deleteSandbox(api, watch, run, created.id);
  return {
    sandboxId: created.id,
    postMs: created.postMs,
    runningMs: created.runningMs,
    execMs: answered - created.seenAt,
    totalMs: answered - created.started,
    ...described,
  };
}

/** Create → running (the event), then the sandbox deleted (not timed). */
export async function createToRunning(
  api: OutpostApi,
  watch: PhaseWatch,
  run: Tracker,
  project: string,
): Promise<Pick<CreateMeasure, "sandboxId" | "runningMs" | "segments" | "messages">> {
  const created = await createAndRun(api, watch, run, project);
  const described = await describeCreate(api, watch, created.id, created.postedAt, created.runningSeenAt);
  await deleteSandbox(api, watch, run, created.id);
  return { sandboxId: created.id, runningMs: created.runningMs, ...described };
}

export async function deleteSandbox(api: OutpostApi, watch: PhaseWatch, run: Tracker, id: string): Promise<void> {
  await api.expect(202, "DELETE", `/api/v1/sandboxes/${id}`);
  const seen = await watch.wait(id, ["deleted"], DELETED_TIMEOUT_MS);
  if (seen.phase !== "deleted") throw new Error(`delete of ${id}: ${failedText(await api.expect<Sandbox>(200, "GET", `/api/v1/sandboxes/${id}`))}`);
  run.deleted.add(id);
}
