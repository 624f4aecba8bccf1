// A sandbox branch's pull request on GitHub:
//   POST /sandboxes/{id}/git/pull-request   push the branch, open its pull request or update the open one
//   GET  /sandboxes/{id}/git/pull-request?conversationId=   its state and checks, as GitHub has them now
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorBody, errorResponses, idParam } from "../../schemas/common.ts";
import { openPullRequestBody, pullRequestQuery, pullRequestResource } from "../../schemas/pull-requests.ts";
import type { PullRequestService } from "../../services/git/pull-requests.ts";
import { currentPrincipal } from "../auth.ts";

const tags = ["git"];

export function pullRequestRoutes(app: FastifyInstance, pullRequests: PullRequestService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    "/api/v1/sandboxes/:id/git/pull-request",
    {
      schema: {
        tags,
        summary: "Push the branch and open (or update) its pull request",
        description:
          "Pushes the head branch (the conversation's, else the one checked out), then updates the pull request already open for it (title and body when given) or opens one, drafted from the conversation when title or body are left out. Needs the project's GitHub token credential (GITHUB_TOKEN, or the one projects.git.tokenVariable names); the default branch is never a head (409).",
        params: idParam,
        body: openPullRequestBody,
        response: { 200: pullRequestResource, ...errorResponses, 502: errorBody },
      },
    },
    async (request) => pullRequests.open(currentPrincipal(request), request.params.id, request.body),
  );

  r.get(
    "/api/v1/sandboxes/:id/git/pull-request",
    {
      schema: {
        tags,
        summary: "The pull request's state and checks",
        description: "Read from GitHub now (and kept on the conversation): open, merged or closed, and the head commit's check runs.",
        params: idParam,
        querystring: pullRequestQuery,
        response: { 200: pullRequestResource, ...errorResponses, 502: errorBody },
      },
    },
    async (request) => pullRequests.refresh(currentPrincipal(request), request.params.id, request.query.conversationId),
  );
}
