// Agent runs: conversations in a sandbox, messages (each a run, queued behind the turn in
// progress), the runs' normalized events as SSE (resumable with Last-Event-ID: nothing
// missed, nothing repeated, during a run, after it and across a control-plane restart),
// cancel, approvals, and the agent's raw output for debugging.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { agentAdapter, availableAgents } from "../../domain/agents/registry.ts";
import { describeError } from "../../domain/error-registry.ts";
import { OutpostError } from "../../domain/errors.ts";
import { errorResponses, idParam, projectRef } from "../../schemas/common.ts";
import {
  agentsList,
  approvalParams,
  approvalResource,
  conversationDetail,
  conversationParams,
  conversationResource,
  createConversationBody,
  decideBody,
  listConversationsQuery,
  listRunsQuery,
  runParams,
  runResource,
  runWithApprovals,
  sendMessageBody,
  sendMessageResult,
  streamQuery,
} from "../../schemas/runs.ts";
import type { AgentInstaller } from "../../services/agent-installer.ts";
import type { EventHub } from "../../services/event-hub.ts";
import type { ProjectService } from "../../services/projects.ts";
import type { RunEventRow, RunService } from "../../services/runs.ts";
import type { SandboxCommands } from "../../services/sandbox-commands.ts";
import { currentPrincipal } from "../auth.ts";
import { presentApproval, presentConversation, presentRun, presentRunEvent } from "../presenters/run.ts";
import { resumeAfter, SseStream } from "../sse.ts";
import { StreamWaker } from "../stream-waker.ts";

const BATCH = 500;
const SAFETY_POLL_MS = 5_000;

export interface RunRouteDeps {
  runs: RunService;
  projects: ProjectService;
  hub: EventHub;
  installer: AgentInstaller;
  commands: SandboxCommands;
}

export function runRoutes(app: FastifyInstance, deps: RunRouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["runs"];

  r.get("/api/v1/agents", { schema: { tags, summary: "Agents this Outpost can run", response: { 200: agentsList, ...errorResponses } } }, async () => {
    const adapters = availableAgents().flatMap((name) => {
      const adapter = agentAdapter(name);
      return adapter ? [adapter] : [];
    });
    const installed = new Map(deps.installer.status(adapters).map((s) => [s.agent, s]));
    return {
      items: adapters.map((adapter) => {
        const status = installed.get(adapter.name);
        return { agent: adapter.name, package: status?.package ?? null, version: status?.version ?? null, installed: status?.installed ?? true };
      }),
    };
  });

  r.post(
    "/api/v1/sandboxes/:id/conversations",
    {
      schema: {
        tags,
        summary: "Start a conversation with an agent in a sandbox",
        params: idParam,
        body: createConversationBody,
        response: { 201: conversationResource, ...errorResponses },
      },
    },
    async (request, reply) => {
      const conversation = await deps.runs.createConversation(currentPrincipal(request), request.params.id, request.body);
      reply.code(201);
      return presentConversation(conversation, null);
    },
  );

  const conversationList = z.object({ items: z.array(conversationResource) });
  r.get(
    "/api/v1/sandboxes/:id/conversations",
    {
      schema: {
        tags,
        summary: "A sandbox's conversations, newest first",
        params: idParam,
        querystring: listConversationsQuery,
        response: { 200: conversationList, ...errorResponses },
      },
    },
    async (request) => {
      const rows = await deps.runs.listConversations(currentPrincipal(request), { sandboxRef: request.params.id, limit: request.query.limit });
      return { items: await withStatus(deps.runs, rows) };
    },
  );

  r.get(
    "/api/v1/projects/:id/conversations",
    {
      schema: {
        tags,
        summary: "A project's conversations, newest first (also those of deleted sandboxes)",
        params: projectRef,
        querystring: listConversationsQuery,
        response: { 200: conversationList, ...errorResponses },
      },
    },
    async (request) => {
      const principal = currentPrincipal(request);
      const projectId = await deps.projects.resolveId(principal, request.params.id);
      const rows = await deps.runs.listConversations(principal, { projectId, limit: request.query.limit });
      return { items: await withStatus(deps.runs, rows) };
    },
  );

  r.get(
    "/api/v1/conversations/:cid",
    { schema: { tags, summary: "A conversation with its runs", params: conversationParams, response: { 200: conversationDetail, ...errorResponses } } },
    async (request) => {
      const { conversation, runs, sandbox } = await deps.runs.getConversation(currentPrincipal(request), request.params.cid);
      return {
        ...presentConversation(conversation, runs.at(-1) ?? null),
        runs: runs.map(presentRun),
        sandbox,
        queued: runs.filter((run) => run.status === "queued").length,
      };
    },
  );

  r.delete(
    "/api/v1/conversations/:cid",
    { schema: { tags, summary: "Delete a conversation (its runs end first)", params: conversationParams, response: { 204: z.null(), ...errorResponses } } },
    async (request, reply) => {
      await deps.runs.deleteConversation(currentPrincipal(request), request.params.cid);
      reply.code(204);
      return null;
    },
  );

  r.post(
    "/api/v1/conversations/:cid/messages",
    {
      schema: {
        tags,
        summary: "Send a message: a new run (turn), queued behind the one in progress",
        params: conversationParams,
        body: sendMessageBody,
        response: { 202: sendMessageResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { run, queued } = await deps.runs.sendMessage(currentPrincipal(request), request.params.cid, request.body.text);
      reply.code(202);
      return { run: presentRun(run), queued };
    },
  );

  r.get(
    "/api/v1/runs",
    {
      schema: {
        tags,
        summary: "Runs of your projects, newest first",
        querystring: listRunsQuery,
        response: { 200: z.object({ items: z.array(runResource) }), ...errorResponses },
      },
    },
    async (request) => {
      const principal = currentPrincipal(request);
      const projectId = request.query.project ? await deps.projects.resolveId(principal, request.query.project) : undefined;
      const rows = await deps.runs.listRuns(principal, { projectId, status: request.query.status, limit: request.query.limit });
      return { items: rows.map(presentRun) };
    },
  );

  r.get(
    "/api/v1/runs/:rid",
    { schema: { tags, summary: "A run and its approvals", params: runParams, response: { 200: runWithApprovals, ...errorResponses } } },
    async (request) => {
      const { run, approvals } = await deps.runs.getRun(currentPrincipal(request), request.params.rid);
      return { ...presentRun(run), approvals: approvals.map(presentApproval) };
    },
  );

  r.post(
    "/api/v1/runs/:rid/cancel",
    { schema: { tags, summary: "Cancel a run (interrupt, then signals)", params: runParams, response: { 202: runResource, ...errorResponses } } },
    async (request, reply) => {
      const run = await deps.runs.cancelRun(currentPrincipal(request), request.params.rid);
      reply.code(202);
      return presentRun(run);
    },
  );

  r.post(
    "/api/v1/runs/:rid/approvals/:aid",
    {
      schema: {
        tags,
        summary: "Allow or deny what the agent asked to do",
        params: approvalParams,
        body: decideBody,
        response: { 200: approvalResource, ...errorResponses },
      },
    },
    async (request) => {
      const approval = await deps.runs.decide(currentPrincipal(request), request.params.rid, request.params.aid, request.body);
      return presentApproval(approval);
    },
  );

  r.get(
    "/api/v1/runs/:rid/events",
    {
      schema: {
        tags,
        summary: "A run's events (Server-Sent Events)",
        description: "`event:` is the type, `id:` the run's sequence number. Ends after the final status. Send `Last-Event-ID` to resume.",
        params: runParams,
        querystring: streamQuery,
        produces: ["text/event-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const run = await deps.runs.assertCanRead(currentPrincipal(request), { runId: request.params.rid });
      await stream(request, reply, deps, {
        read: (after) => deps.runs.runEvents(run.id, after, BATCH),
        seqOf: (row) => row.runSeq,
        endsAtFinalStatus: true,
        over: async () => {
          const now = await deps.runs.runNow(run.id);
          return !now || ["succeeded", "failed", "cancelled"].includes(now.status);
        },
      });
    },
  );

  r.get(
    "/api/v1/conversations/:cid/events",
    {
      schema: {
        tags,
        summary: "A conversation's events, all its runs (Server-Sent Events)",
        description: "`id:` is the conversation's sequence number. Stays open for the runs to come. Send `Last-Event-ID` to resume.",
        params: conversationParams,
        querystring: streamQuery,
        produces: ["text/event-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const conversation = await deps.runs.assertCanRead(currentPrincipal(request), { conversationId: request.params.cid });
      await stream(request, reply, deps, {
        read: (after) => deps.runs.conversationEvents(conversation.id, after, BATCH),
        seqOf: (row) => row.conversationSeq,
        endsAtFinalStatus: false,
        over: async () => false,
      });
    },
  );

  r.get(
    "/api/v1/runs/:rid/raw",
    {
      schema: {
        tags,
        summary: "The agent's raw output (NDJSON lines as it printed them), for debugging",
        params: runParams,
        produces: ["application/x-ndjson"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const run = await deps.runs.assertCanRead(principal, { runId: request.params.rid });
      if (!("processId" in run) || !run.processId) throw new OutpostError("RUN_NOT_FOUND", `Run ${request.params.rid} has no agent output (it never started).`);
      const records = await deps.commands.processLogs(principal, run.sandboxId, run.processId, { after: 0, follow: false });
      const lines = (async function* () {
        for await (const item of records) {
          if ("seq" in item && item.stream === "stdout") yield Buffer.from(item.data, "base64");
        }
      })();
      reply.hijack();
      reply.raw.writeHead(200, {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="${run.id}.ndjson"`,
        "cache-control": "no-store",
        "x-request-id": request.id,
      });
      // A failure midway cuts the download short; the client sees a truncated body.
      await pipeline(Readable.from(lines), reply.raw).catch(() => reply.raw.destroy());
    },
  );
}

/** One SSE stream over stored events: send what exists after the cursor, wait for a NOTIFY (or the safety poll), repeat. */
async function stream(
  request: FastifyRequest & { query: { after?: number; follow?: "true" | "false" } },
  reply: FastifyReply,
  deps: RunRouteDeps,
  source: {
    read: (after: number) => Promise<RunEventRow[]>;
    seqOf: (row: RunEventRow) => number;
    over: () => Promise<boolean>;
    /** A run's stream ends with its final status; a conversation's goes on. */
    endsAtFinalStatus: boolean;
  },
): Promise<void> {
  let after = resumeAfter(request.headers["last-event-id"], request.query.after);
  const follow = request.query.follow !== "false";
  const sse = new SseStream(reply, request.id);
  const waker = new StreamWaker(deps.hub, sse.signal, SAFETY_POLL_MS);
  try {
    while (!sse.signal.aborted) {
      waker.beforeRead();
      const rows = await source.read(after);
      let ended = false;
      for (const row of rows) {
        const seq = source.seqOf(row);
        await sse.send({ id: seq, type: row.type, data: presentRunEvent(row, seq) });
        after = seq;
        ended ||= isFinal(row) && source.endsAtFinalStatus;
      }
      if (ended || !follow) break;
      if (rows.length === BATCH) continue;
      // Nothing new: a run whose final status was sent before this stream resumed is over.
      // Its final event commits with its status, so once the status says over, one more
      // read finds anything still unsent.
      if (rows.length === 0 && (await source.over())) {
        if ((await source.read(after)).length === 0) break;
        continue;
      }
      await waker.wait();
    }
  } catch (error) {
    request.log.warn({ err: (error as Error).message }, "run event stream ended by an error");
    await sse.send({
      type: "error",
      data: describeError(new OutpostError("DATABASE_UNAVAILABLE", "The stream lost the database; reconnect with Last-Event-ID.")),
    });
  } finally {
    waker.close();
    sse.end();
  }
}

function isFinal(row: RunEventRow): boolean {
  return row.type === "status" && ["succeeded", "failed", "cancelled"].includes(String(row.data.status));
}

/** Conversations with the status of their latest run. */
function withStatus(runs: RunService, rows: Awaited<ReturnType<RunService["listConversations"]>>) {
  return Promise.all(rows.map(async (row) => presentConversation(row, await runs.lastRunOf(row.id))));
}
