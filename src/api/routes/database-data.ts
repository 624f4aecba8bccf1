// What is in a project's database: a plain SQL dump (streamed out), a restore (streamed in),
// its tables with row counts, one read-only query, and branches (copies for a conversation,
// promoted or dropped). The database itself (create, reset, delete) is databases.ts.
//   GET    /projects/{id}/database/dump
//   POST   /projects/{id}/database/restore           body: SQL (any content type), streamed
//   GET    /projects/{id}/database/tables
//   POST   /projects/{id}/database/query              { sql }
//   POST   /projects/{id}/database/branches           { conversationId? }
//   GET    /projects/{id}/database/branches
//   POST   /projects/{id}/database/branches/{dbid}/promote   { confirm }
//   DELETE /projects/{id}/database/branches/{dbid}
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, projectRef } from "../../schemas/common.ts";
import {
  branchParams,
  createBranchBody,
  databaseBranch,
  databaseBranches,
  databaseQueryAnswer,
  databaseQueryBody,
  databaseRestoreAnswer,
  databaseTables,
  promoteBranchBody,
} from "../../schemas/database-data.ts";
import { databaseRevealQuery } from "../../schemas/databases.ts";
import type { BranchView } from "../../services/databases/branches.ts";
import type { DatabaseData } from "../../services/databases/data.ts";
import { currentPrincipal } from "../auth.ts";
import { writeWithBackpressure } from "../backpressure.ts";

const tags = ["databases"];
const base = "/api/v1/projects/:id/database";

export function databaseDataRoutes(app: FastifyInstance, data: DatabaseData): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    `${base}/dump`,
    {
      schema: {
        tags,
        summary: "A plain SQL dump of the project's database (streamed)",
        description:
          "pg_dump --format=plain --no-owner --no-privileges, as the project's role, as an attachment `<database>.sql`; load it with POST …/database/restore or psql. Needs PostgreSQL client tools on the Outpost host at least as new as the server (else 501 with the package to install). A dump that fails midway ends the connection early. Editors (it is all the data).",
        params: projectRef,
        produces: ["text/plain"],
        response: { 501: errorResponses[503], ...errorResponses },
      },
    },
    async (request, reply) => {
      const gone = clientGone(reply);
      const dump = await data.dumps.dump(currentPrincipal(request), request.params.id, gone.signal);
      reply.hijack();
      reply.raw.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        "content-disposition": `attachment; filename="${dump.name}.sql"`,
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cache-control": "no-store",
        "x-request-id": request.id,
      });
      try {
        for await (const chunk of dump.body) {
          if (gone.signal.aborted) break;
          await writeWithBackpressure(reply.raw, chunk);
        }
      } catch (error) {
        // No trailer can carry an error: the missing closing chunk tells the client it is incomplete.
        reply.log.warn({ err: error }, "a database dump broke off");
        reply.raw.destroy();
        return;
      }
      if (gone.signal.aborted) reply.raw.destroy();
      else reply.raw.end();
    },
  );

  r.get(
    `${base}/tables`,
    {
      schema: {
        tags,
        summary: "The tables in the project's database, with row counts",
        description: "Small tables (up to 8 MiB) are counted (`exact: true`); bigger ones show the planner's estimate. Read as the project's role.",
        params: projectRef,
        response: { 200: databaseTables, ...errorResponses },
      },
    },
    async (request) => ({ items: await data.browser.tables(currentPrincipal(request), request.params.id) }),
  );

  r.post(
    `${base}/query`,
    {
      schema: {
        tags,
        summary: "Run one read-only SQL statement in the project's database",
        description:
          "As the project's role, in a READ ONLY transaction that is never committed, with statement_timeout 5 s; one statement only. At most 500 rows and 1 MiB come back (`truncated`). A write is refused (422 DATABASE_QUERY_FAILED). Editors.",
        params: projectRef,
        body: databaseQueryBody,
        response: { 200: databaseQueryAnswer, ...errorResponses },
      },
    },
    async (request) => data.browser.query(currentPrincipal(request), request.params.id, request.body.sql),
  );

  r.post(
    `${base}/branches`,
    {
      schema: {
        tags,
        summary: "Branch the project's database: a copy, optionally for a conversation",
        description:
          "CREATE DATABASE … TEMPLATE on its server: the database's open connections are ended for the moment the copy takes. The copy has a role and password of its own (GET …/branches?reveal=true). Editors.",
        params: projectRef,
        body: createBranchBody,
        response: { 201: databaseBranch, ...errorResponses },
      },
    },
    async (request, reply) => {
      const branch = await data.branches.create(currentPrincipal(request), request.params.id, { conversationId: request.body.conversationId });
      reply.code(201);
      return presentBranch(branch);
    },
  );

  r.get(
    `${base}/branches`,
    {
      schema: {
        tags,
        summary: "The branches of the project's database",
        params: projectRef,
        querystring: databaseRevealQuery,
        response: { 200: databaseBranches, ...errorResponses },
      },
    },
    async (request) => ({
      items: (await data.branches.list(currentPrincipal(request), request.params.id, request.query.reveal === "true")).map(presentBranch),
    }),
  );

  r.post(
    `${base}/branches/:dbid/promote`,
    {
      schema: {
        tags,
        summary: "Make a branch the project's database (the current one is dropped)",
        description:
          "`confirm` must be the project's name. The project's sandboxes get the branch's login from their next command; connections to the old database end. The other branches stay, as branches of the promoted one.",
        params: branchParams,
        body: promoteBranchBody,
        response: { 200: databaseBranch, ...errorResponses },
      },
    },
    async (request) => presentBranch(await data.branches.promote(currentPrincipal(request), request.params.id, request.params.dbid, request.body.confirm)),
  );

  r.delete(
    `${base}/branches/:dbid`,
    {
      schema: {
        tags,
        summary: "Drop a branch of the project's database",
        params: branchParams,
        response: { 204: z.null().describe("Dropped"), ...errorResponses },
      },
    },
    async (request, reply) => {
      await data.branches.drop(currentPrincipal(request), request.params.id, request.params.dbid);
      reply.code(204);
      return null;
    },
  );

  // The restore takes its body as raw bytes, streamed into psql: a scope of its own, where
  // the only body parser hands the request stream on untouched (no 1 MiB limit applies).
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    raw.withTypeProvider<ZodTypeProvider>().post(
      `${base}/restore`,
      {
        schema: {
          tags,
          summary: "Load SQL into the project's database (a plain dump)",
          description:
            "The body (any content type, e.g. a file from GET …/database/dump) is streamed into psql as the project's role, in one transaction that stops at the first error: all of it or nothing. psql's backslash commands are refused (restricted mode); pg_dump's own \\restrict lines are understood. Load into an empty database (POST …/database/reset first) to avoid clashes. Editors.",
          params: projectRef,
          consumes: ["text/plain", "application/sql", "application/octet-stream"],
          response: { 200: databaseRestoreAnswer, 501: errorResponses[503], ...errorResponses },
        },
      },
      async (request) => {
        const incoming = request.raw;
        const gone = new AbortController();
        incoming.once("close", () => {
          if (!incoming.complete) gone.abort(new Error("the client went away during the upload"));
        });
        try {
          return await data.dumps.restore(currentPrincipal(request), request.params.id, incoming.iterator({ destroyOnReturn: false }), gone.signal);
        } finally {
          // What psql did not read is read and dropped, so the client gets its answer after sending.
          if (!incoming.complete) incoming.resume();
        }
      },
    );
  });
}

function presentBranch(view: BranchView): z.infer<typeof databaseBranch> {
  return { ...view, status: view.status === "dropped" ? "missing" : view.status, createdAt: view.createdAt.toISOString() };
}

/** Aborts when the client disconnects before the response is complete. */
function clientGone(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
