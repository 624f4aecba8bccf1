// /api/v1/projects: create, list, get, update, delete.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, listQuery, page, projectRef } from "../../schemas/common.ts";
import { projectDeleteQuery } from "../../schemas/databases.ts";
import { createProjectBody, project, revealQuery, updateProjectBody } from "../../schemas/projects.ts";
import type { ProjectService } from "../../services/projects.ts";
import { currentPrincipal } from "../auth.ts";
import { IDEMPOTENCY_DESCRIPTION, idempotencyKeyOf } from "../idempotency.ts";
import { presentPage } from "../presenters/page.ts";
import { presentProject } from "../presenters/project.ts";

export function projectRoutes(app: FastifyInstance, projects: ProjectService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["projects"];

  r.post(
    "/api/v1/projects",
    {
      schema: {
        tags,
        summary: "Create a project",
        description: IDEMPOTENCY_DESCRIPTION,
        body: createProjectBody,
        response: { 201: project, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = idempotencyKeyOf(request);
      reply.code(201);
      return presentProject(await projects.create(currentPrincipal(request), request.body, key));
    },
  );

  r.get(
    "/api/v1/projects",
    { schema: { tags, summary: "List the projects you are a member of", querystring: listQuery, response: { 200: page(project), ...errorResponses } } },
    async (request) => presentPage(await projects.list(currentPrincipal(request), request.query.limit, request.query.cursor), presentProject),
  );

  r.get(
    "/api/v1/projects/:id",
    {
      schema: { tags, summary: "Get a project by id or name", params: projectRef, querystring: revealQuery, response: { 200: project, ...errorResponses } },
    },
    async (request) => presentProject(await projects.get(currentPrincipal(request), request.params.id, request.query.reveal === "true")),
  );

  r.patch(
    "/api/v1/projects/:id",
    { schema: { tags, summary: "Update a project", params: projectRef, body: updateProjectBody, response: { 200: project, ...errorResponses } } },
    async (request) => presentProject(await projects.update(currentPrincipal(request), request.params.id, request.body)),
  );

  r.delete(
    "/api/v1/projects/:id",
    {
      schema: {
        tags,
        summary: "Delete a project",
        description: "A project with a database needs ?database=keep or ?database=drop (409 DATABASE_CHOICE_REQUIRED otherwise).",
        params: projectRef,
        querystring: projectDeleteQuery,
        response: { 204: z.null().describe("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      await projects.delete(currentPrincipal(request), request.params.id, { database: request.query.database });
      reply.code(204);
      return null;
    },
  );
}
