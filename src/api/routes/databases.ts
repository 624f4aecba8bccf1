// A project's PostgreSQL database (GET, create, reset its password, reset, delete) and the
// databases kept after their project (admins: list, attach, drop). Dumps, restores,
// branches, tables and queries are in database-data.ts. `outpost db <project> …`.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, listQuery, page, projectRef } from "../../schemas/common.ts";
import {
  attachDatabaseBody,
  type Database,
  database,
  databaseIdParam,
  databaseRevealQuery,
  deleteDatabaseQuery,
  dropKeptDatabaseQuery,
  resetDatabaseBody,
} from "../../schemas/databases.ts";
import type { DatabaseService, DatabaseView } from "../../services/databases/databases.ts";
import { currentPrincipal } from "../auth.ts";
import { presentPage } from "../presenters/page.ts";

/** No body, or an empty object (a client that always sends JSON). */
const noBody = z.object({}).strict().nullish();

export function databaseRoutes(app: FastifyInstance, databases: DatabaseService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["databases"];
  const path = "/api/v1/projects/:id/database";

  r.get(
    path,
    {
      schema: {
        tags,
        summary: "A project's database: status, size, version, extensions, connection string",
        description:
          "Asks the server each time: a database removed outside Outpost shows `missing`. The password is in connectionString only with ?reveal=true (editors).",
        params: projectRef,
        querystring: databaseRevealQuery,
        response: { 200: database, ...errorResponses },
      },
    },
    async (request) => presentDatabase(await databases.get(currentPrincipal(request), request.params.id, request.query.reveal === "true")),
  );

  r.post(
    path,
    {
      schema: {
        tags,
        summary: "Create the project's database, or make a missing one again",
        description:
          "201 when it was made now; 200 when it existed (a missing one is made again, empty, with the same name and password). The project's sandboxes get it from their next command.",
        params: projectRef,
        body: noBody,
        response: { 200: database, 201: database, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { view, created } = await databases.create(currentPrincipal(request), request.params.id);
      reply.code(created ? 201 : 200);
      return presentDatabase(view);
    },
  );

  r.post(
    `${path}/reset-password`,
    {
      schema: {
        tags,
        summary: "Give the project's database role a new password",
        description: "New commands in the project's sandboxes get it at once; connections already open stay open.",
        params: projectRef,
        body: noBody,
        response: { 200: database, ...errorResponses },
      },
    },
    async (request) => presentDatabase(await databases.resetPassword(currentPrincipal(request), request.params.id)),
  );

  r.post(
    `${path}/reset`,
    {
      schema: {
        tags,
        summary: "Drop the project's database and make it again, empty",
        description: "Same name, role and password. `confirm` must be the project's name.",
        params: projectRef,
        body: resetDatabaseBody,
        response: { 200: database, ...errorResponses },
      },
    },
    async (request) => presentDatabase(await databases.reset(currentPrincipal(request), request.params.id, request.body.confirm)),
  );

  r.delete(
    path,
    {
      schema: {
        tags,
        summary: "Drop the project's database and its data for good",
        description: "Its branches go too, and the project's `database` becomes none. `confirm` must be the project's name. Owners only.",
        params: projectRef,
        querystring: deleteDatabaseQuery,
        response: { 204: z.null().describe("Dropped"), ...errorResponses },
      },
    },
    async (request, reply) => {
      await databases.delete(currentPrincipal(request), request.params.id, request.query.confirm);
      reply.code(204);
      return null;
    },
  );

  r.get(
    "/api/v1/databases",
    {
      schema: {
        tags,
        summary: "Databases kept after their project was deleted (admins)",
        querystring: listQuery,
        response: { 200: page(database), ...errorResponses },
      },
    },
    async (request) => presentPage(await databases.listKept(currentPrincipal(request), request.query.limit, request.query.cursor), presentDatabase),
  );

  r.post(
    "/api/v1/databases/:dbid/attach",
    {
      schema: {
        tags,
        summary: "Give a kept database to a project that has none (admins)",
        description: "The admin must be an editor or owner of that project. Its sandboxes get the database from their next command.",
        params: databaseIdParam,
        body: attachDatabaseBody,
        response: { 200: database, ...errorResponses },
      },
    },
    async (request) => presentDatabase(await databases.attach(currentPrincipal(request), request.params.dbid, request.body.project)),
  );

  r.delete(
    "/api/v1/databases/:dbid",
    {
      schema: {
        tags,
        summary: "Drop a kept database and its data for good (admins)",
        description: "`confirm` must be the database's name.",
        params: databaseIdParam,
        querystring: dropKeptDatabaseQuery,
        response: { 204: z.null().describe("Dropped"), ...errorResponses },
      },
    },
    async (request, reply) => {
      await databases.dropKept(currentPrincipal(request), request.params.dbid, request.query.confirm);
      reply.code(204);
      return null;
    },
  );
}

export function presentDatabase(view: DatabaseView): Database {
  return { ...view, createdAt: view.createdAt.toISOString() };
}
