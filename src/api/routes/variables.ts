// A project's variables of every kind (env, secret, credential): POST sets one, GET lists
// them (names, kinds and where credentials go: never values), DELETE unsets one.
// `outpost secret set|list|unset` is the CLI for these.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, projectRef } from "../../schemas/common.ts";
import { setVariableBody, variable, variableParams } from "../../schemas/projects.ts";
import type { VariableService, VariableView } from "../../services/variables.ts";
import { currentPrincipal } from "../auth.ts";

export function variableRoutes(app: FastifyInstance, variables: VariableService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["secrets"];

  r.post(
    "/api/v1/projects/:id/secrets",
    {
      schema: {
        tags,
        summary: "Set a variable (env, secret or credential)",
        description:
          "env: handed to commands as it is. secret: handed to commands, redacted as [secret:NAME] from output Outpost streams or keeps. credential: never enters the sandbox; commands see `placeholder`, and the egress proxy and model gateway put the value into requests to the `inject` hosts.",
        params: projectRef,
        body: setVariableBody,
        response: { 200: variable, ...errorResponses },
      },
    },
    async (request) => present(await variables.set(currentPrincipal(request), request.params.id, request.body)),
  );

  r.get(
    "/api/v1/projects/:id/secrets",
    {
      schema: {
        tags,
        summary: "List a project's variables (without values)",
        params: projectRef,
        response: { 200: z.object({ items: z.array(variable) }), ...errorResponses },
      },
    },
    async (request) => ({ items: (await variables.list(currentPrincipal(request), request.params.id)).map(present) }),
  );

  r.delete(
    "/api/v1/projects/:id/secrets/:name",
    { schema: { tags, summary: "Unset a variable", params: variableParams, response: { 204: z.null().describe("Unset"), ...errorResponses } } },
    async (request, reply) => {
      await variables.unset(currentPrincipal(request), request.params.id, request.params.name);
      reply.code(204);
      return null;
    },
  );
}

function present(view: VariableView): z.infer<typeof variable> {
  return { name: view.name, kind: view.kind, inject: view.inject, placeholder: view.placeholder, updatedAt: view.updatedAt.toISOString() };
}
