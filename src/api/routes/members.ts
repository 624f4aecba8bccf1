// /api/v1/projects/{id}/members: who may do what in a project. Members are named by user
// id for now (GitHub sign-in comes later); only owners change them.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, projectRef } from "../../schemas/common.ts";
import { addMemberBody, member, memberParams } from "../../schemas/members.ts";
import type { MemberService } from "../../services/members.ts";
import { currentPrincipal } from "../auth.ts";
import { presentMember } from "../presenters/member.ts";

export function memberRoutes(app: FastifyInstance, members: MemberService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["projects"];

  r.get(
    "/api/v1/projects/:id/members",
    {
      schema: {
        tags,
        summary: "List a project's members",
        description: "Every member with their role, in one page (`nextCursor` is always null).",
        params: projectRef,
        response: { 200: z.object({ items: z.array(member), nextCursor: z.null() }), ...errorResponses },
      },
    },
    async (request) => ({ items: (await members.list(currentPrincipal(request), request.params.id)).map(presentMember), nextCursor: null }),
  );

  r.post(
    "/api/v1/projects/:id/members",
    {
      schema: {
        tags,
        summary: "Add a member, or change a member's role",
        description: "Owners only. 201 when the user was added, 200 when their role changed. The last owner cannot be demoted (409).",
        params: projectRef,
        body: addMemberBody,
        response: { 200: member, 201: member, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { member: result, added } = await members.set(currentPrincipal(request), request.params.id, request.body.userId, request.body.role);
      reply.code(added ? 201 : 200);
      return presentMember(result);
    },
  );

  r.delete(
    "/api/v1/projects/:id/members/:userId",
    {
      schema: {
        tags,
        summary: "Remove a member",
        description: "Owners only. The last owner cannot be removed (409).",
        params: memberParams,
        response: { 204: z.null().describe("Removed"), ...errorResponses },
      },
    },
    async (request, reply) => {
      await members.remove(currentPrincipal(request), request.params.id, request.params.userId);
      reply.code(204);
      return null;
    },
  );
}
