// /api/v1/projects/{id}/sandboxes (create) and /api/v1/sandboxes/… (read, verbs, delete).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses, idParam, page, projectRef } from "../../schemas/common.ts";
import { deleteQuery, noBody, sandbox, sandboxListQuery } from "../../schemas/sandboxes.ts";
import type { SandboxService } from "../../services/sandboxes.ts";
import { currentPrincipal } from "../auth.ts";
import { IDEMPOTENCY_DESCRIPTION, idempotencyKeyOf } from "../idempotency.ts";
import { presentPage } from "../presenters/page.ts";
import { presentSandbox } from "../presenters/sandbox.ts";

export function sandboxRoutes(app: FastifyInstance, sandboxes: SandboxService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["sandboxes"];

  r.post(
    "/api/v1/projects/:id/sandboxes",
    {
      schema: {
        tags,
        summary: "Create a sandbox for a project",
        description: `Answers at once with phase \`pending\`; follow \`sandbox.stage\` / \`sandbox.phase\` on the events stream. ${IDEMPOTENCY_DESCRIPTION}`,
        params: projectRef,
        body: noBody,
        response: { 201: sandbox, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = idempotencyKeyOf(request);
      reply.code(201);
      return presentSandbox(await sandboxes.create(currentPrincipal(request), request.params.id, key));
    },
  );

  r.get(
    "/api/v1/sandboxes",
    {
      schema: {
        tags,
        summary: "List the sandboxes of projects you are a member of",
        querystring: sandboxListQuery,
        response: { 200: page(sandbox), ...errorResponses },
      },
    },
    async (request) => {
      const rows = await sandboxes.list(currentPrincipal(request), {
        projectRef: request.query.project,
        includeDeleted: request.query.includeDeleted === "true",
        limit: request.query.limit,
        cursor: request.query.cursor,
      });
      return presentPage(rows, presentSandbox);
    },
  );

  r.get(
    "/api/v1/sandboxes/:id",
    { schema: { tags, summary: "Get a sandbox by id or name", params: idParam, response: { 200: sandbox, ...errorResponses } } },
    async (request) => presentSandbox(await sandboxes.get(currentPrincipal(request), request.params.id)),
  );

  for (const verb of ["start", "stop", "restart"] as const) {
    r.post(
      `/api/v1/sandboxes/:id/${verb}`,
      {
        schema: {
          tags,
          summary: `${verb[0]?.toUpperCase()}${verb.slice(1)} a sandbox`,
          description: "Writes the desired state and answers 202; the reconciler does the work.",
          params: idParam,
          body: noBody,
          response: { 202: sandbox, ...errorResponses },
        },
      },
      async (request, reply) => {
        reply.code(202);
        return presentSandbox(await sandboxes.act(currentPrincipal(request), request.params.id, verb));
      },
    );
  }

  r.delete(
    "/api/v1/sandboxes/:id",
    {
      schema: {
        tags,
        summary: "Delete a sandbox",
        description: "Compute and files go; with keepWorkspace=true the workspace stays on disk. Answers 202 in phase `deleting`.",
        params: idParam,
        querystring: deleteQuery,
        response: { 202: sandbox, ...errorResponses },
      },
    },
    async (request, reply) => {
      reply.code(202);
      const options = { keepWorkspace: request.query.keepWorkspace === "true" };
      return presentSandbox(await sandboxes.act(currentPrincipal(request), request.params.id, "delete", options));
    },
  );
}
