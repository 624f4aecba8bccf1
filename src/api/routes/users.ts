// /api/v1/users: admins create users and mint their API tokens (a token is shown once).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses, idParam, listQuery, page } from "../../schemas/common.ts";
import { createTokenBody, createUserBody, newToken, user } from "../../schemas/users.ts";
import type { UserService } from "../../services/users.ts";
import { currentPrincipal } from "../auth.ts";
import { presentPage } from "../presenters/page.ts";
import { presentNewToken, presentUser } from "../presenters/user.ts";

export function userRoutes(app: FastifyInstance, users: UserService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["users"];

  r.post(
    "/api/v1/users",
    {
      schema: {
        tags,
        summary: "Create a user (admin only)",
        description: "The user can do nothing until they have a token (`POST /api/v1/users/{id}/tokens`) and a role on a project.",
        body: createUserBody,
        response: { 201: user, ...errorResponses },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return presentUser(await users.create(currentPrincipal(request), request.body.name));
    },
  );

  r.get(
    "/api/v1/users",
    { schema: { tags, summary: "List users (admin only)", querystring: listQuery, response: { 200: page(user), ...errorResponses } } },
    async (request) => presentPage(await users.list(currentPrincipal(request), request.query.limit, request.query.cursor), presentUser),
  );

  r.post(
    "/api/v1/users/:id/tokens",
    {
      schema: {
        tags,
        summary: "Create an API token for a user (admin only)",
        description: "The token is in this answer only; Outpost keeps just its hash.",
        params: idParam,
        body: createTokenBody,
        response: { 201: newToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return presentNewToken(await users.createToken(currentPrincipal(request), request.params.id, request.body.name));
    },
  );
}
