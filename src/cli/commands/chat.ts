// `outpost chat <sandbox|project> "prompt"`: talk to a coding agent in a sandbox. Picks the
// sandbox (a project stands for its running primary sandbox) and the conversation (the
// sandbox's latest, so a second `chat` is a follow-up), sends the message, then shows the
// run as it happens until it ends. The exit code is the run's outcome, so scripts can
// `outpost chat … && git pull`.
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { AGENT_NAMES } from "../../domain/agents/adapter.ts";
import type { conversationDetail, conversationResource, runResource, sendMessageResult } from "../../schemas/runs.ts";
import type { Sandbox } from "../../schemas/sandboxes.ts";
import { parse, UsageError } from "../args.ts";
import { type ApiClient, ApiError, ApiClient as Client, resolveConnection } from "../client.ts";
import { type ChatEvent, ChatFormatter, oneLine } from "./chat-format.ts";
import { followRunEvents } from "./run-stream.ts";

type Conversation = z.infer<typeof conversationResource>;
type ConversationDetail = z.infer<typeof conversationDetail>;
type Run = z.infer<typeof runResource>;

export const chatHelp = `outpost chat <sandbox|project> "PROMPT" [--agent claude-code|codex|gemini|opencode|custom] [--model M] [--new]
             [--conversation cnv_…] [--command CMD]
outpost chat <sandbox|project> --follow [--conversation cnv_…]
    Sends PROMPT (- reads it from stdin) to the agent in the sandbox (for a project: its running primary
    sandbox), as a follow-up in the sandbox's latest conversation unless --new or --conversation, and shows
    the run as it happens. Ctrl-C cancels the run (a second Ctrl-C leaves without waiting). --follow shows
    the conversation's current or last run from its start. --json prints each event as one JSON line.
    Exit code: 0 succeeded, 1 failed, 130 cancelled.`;

const EXIT_CODES: Record<string, number> = { succeeded: 0, failed: 1, cancelled: 130 };

export async function chat(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    agent: { type: "string" },
    model: { type: "string" },
    new: { type: "boolean", default: false },
    conversation: { type: "string" },
    command: { type: "string" },
    follow: { type: "boolean", short: "f", default: false },
  });
  if (values.agent !== undefined && !(AGENT_NAMES as readonly string[]).includes(values.agent)) {
    throw new UsageError(`unknown agent '${values.agent}': use one of ${AGENT_NAMES.join(", ")}`);
  }
  if (values.command !== undefined && values.agent !== "custom") throw new UsageError("--command goes with --agent custom");
  if (values.agent === "custom" && values.command === undefined) throw new UsageError("--agent custom needs --command 'the command line'");
  if (values.new && values.conversation) throw new UsageError("--new and --conversation contradict each other: pick one");

  // With --conversation the sandbox is known from it, so the target may be left out.
  const maxPositionals = values.follow ? 1 : 2;
  if (positionals.length > maxPositionals) throw new UsageError(`unexpected argument '${positionals[maxPositionals]}' (quote the prompt)`);
  const withTarget = !values.conversation || positionals.length === maxPositionals;
  const [target, prompt] = withTarget ? positionals : [undefined, positionals[0]];
  if (!values.follow && prompt === undefined)
    throw new UsageError('outpost chat needs a sandbox or project and a prompt: outpost chat shop "fix the failing test"');
  if (!target && !values.conversation) throw new UsageError("outpost chat needs a sandbox or project (or --conversation cnv_…)");
  if (values.follow && (values.new || values.agent || values.model))
    throw new UsageError("--follow shows a run that exists: --new, --agent and --model go with a prompt");

  const api = new Client(resolveConnection(values));
  const view = { json: values.json, width: terminalWidth() };

  if (values.follow) {
    const cid = values.conversation ?? (await latestConversation(api, await resolveSandbox(api, target ?? "")))?.id;
    if (!cid) throw new ApiError(404, "NO_CONVERSATION", `no conversation in ${target} yet`, { hint: `start one: outpost chat ${target} "…"` });
    const detail = await api.request<ConversationDetail>("GET", `/api/v1/conversations/${encodeURIComponent(cid)}`);
    const run = currentRun(detail.runs);
    if (!run) throw new ApiError(404, "NO_RUN", `conversation ${cid} has no runs yet`, { hint: `send a message: outpost chat --conversation ${cid} "…"` });
    return show(api, run.id, view);
  }

  const text = prompt === "-" ? readFileSync(0, "utf8") : (prompt ?? "");
  if (text.trim() === "") throw new UsageError("the prompt is empty");
  const cid = values.conversation ?? (await pickConversation(api, target ?? "", values, text));
  const sent = await api.request<z.infer<typeof sendMessageResult>>("POST", `/api/v1/conversations/${encodeURIComponent(cid)}/messages`, { text });
  if (sent.queued && !values.json) process.stderr.write(`${sent.run.id} is queued: another turn of this conversation is running, this one starts after it\n`);
  return show(api, sent.run.id, view);
}

/** The sandbox `ref` names, or a project's running primary sandbox. */
async function resolveSandbox(api: ApiClient, ref: string): Promise<Sandbox> {
  try {
    return await api.request<Sandbox>("GET", `/api/v1/sandboxes/${encodeURIComponent(ref)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  let sandboxes: Sandbox[];
  try {
    sandboxes = (await api.request<{ items: Sandbox[] }>("GET", `/api/v1/sandboxes?${new URLSearchParams({ project: ref, limit: "500" })}`)).items;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    throw new ApiError(404, error.code, `no sandbox or project named '${ref}'`, { hint: "outpost sandbox list and outpost project list show what there is" });
  }
  const live = sandboxes.filter((s) => s.phase !== "deleted");
  const running = live.find((s) => s.primary && s.phase === "running") ?? live.find((s) => s.phase === "running");
  if (running) return running;
  const primary = live.find((s) => s.primary) ?? live[0];
  if (primary) {
    throw new ApiError(409, "SANDBOX_NOT_RUNNING", `project ${ref} has no running sandbox (${primary.name} is ${primary.phase})`, {
      hint: `start it: outpost sandbox start ${primary.name}`,
    });
  }
  throw new ApiError(404, "NO_SANDBOX", `project ${ref} has no sandbox`, { hint: `create one: outpost sandbox create ${ref}` });
}

async function latestConversation(api: ApiClient, sandbox: Sandbox): Promise<Conversation | undefined> {
  const page = await api.request<{ items: Conversation[] }>("GET", `/api/v1/sandboxes/${sandbox.id}/conversations?limit=1`);
  return page.items[0];
}

/** The sandbox's latest conversation, unless the flags ask for another kind; else a new one. */
async function pickConversation(
  api: ApiClient,
  target: string,
  flags: { agent?: string; model?: string; new: boolean; command?: string; json: boolean },
  prompt: string,
) {
  const sandbox = await resolveSandbox(api, target);
  if (!flags.new) {
    const latest = await latestConversation(api, sandbox);
    const sameAgent = flags.agent === undefined || latest?.agent === flags.agent;
    const sameModel = flags.model === undefined || latest?.model === flags.model;
    if (latest && sameAgent && sameModel && flags.command === undefined) return latest.id;
  }
  const body = {
    agent: flags.agent ?? "claude-code",
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.command ? { command: flags.command } : {}),
    title: oneLine(prompt, 80),
  };
  const created = await api.request<Conversation>("POST", `/api/v1/sandboxes/${sandbox.id}/conversations`, body);
  if (!flags.json) process.stderr.write(`new conversation ${created.id} with ${created.agent} in ${sandbox.name}\n`);
  return created.id;
}

/** The run `--follow` shows: the one under way, else the next queued, else the last. */
function currentRun(runs: Run[]): Run | undefined {
  return runs.find((r) => r.status === "running" || r.status === "waiting") ?? runs.find((r) => r.status === "queued") ?? runs.at(-1);
}

/**
 * Streams the run to the terminal until its final status. The first Ctrl-C asks the server
 * to cancel and keeps showing (the cancellation arrives as the final status); the second
 * leaves at once.
 */
async function show(api: ApiClient, runId: string, view: { json: boolean; width: number }): Promise<number> {
  const formatter = new ChatFormatter({ width: view.width });
  const leave = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) return leave.abort();
    process.stderr.write(`\ncancelling ${runId}… (Ctrl-C again to stop watching)\n`);
    api.request("POST", `/api/v1/runs/${runId}/cancel`).catch((error: Error) => process.stderr.write(`outpost: could not cancel: ${error.message}\n`));
  };
  process.on("SIGINT", onInterrupt);
  try {
    const final = await followRunEvents(api, runId, leave.signal, (event: ChatEvent) => {
      if (view.json) process.stdout.write(`${JSON.stringify(event)}\n`);
      else process.stdout.write(formatter.format(event));
    });
    if (!final) return 130;
    // The run's own usage is the total; the last usage event may predate the end.
    const run = await api.request<Run>("GET", `/api/v1/runs/${runId}`).catch(() => undefined);
    if (!view.json) process.stdout.write(formatter.summary(run?.usage, run?.reason));
    return EXIT_CODES[final] ?? 1;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

function terminalWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 120;
}
