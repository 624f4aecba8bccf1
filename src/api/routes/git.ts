// Git on a sandbox (docs/api.md, "Git"): everything runs inside the sandbox as its user,
// through GitService; refs and paths were checked by the schemas before anything runs.
//   GET  /sandboxes/{id}/git/status | diff | log | branches
//   POST /sandboxes/{id}/git/branches | switch | commit | push | fetch | pull
//   GET/POST /sandboxes/{id}/git/checkpoints, GET …/{chk}/diff, POST …/{chk}/restore
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, idParam, noFields } from "../../schemas/common.ts";
import {
  checkpoint,
  checkpointParams,
  commitBody,
  commitResult,
  createBranchBody,
  diffQuery,
  gitBranches,
  gitDiff,
  gitLog,
  gitOutputResult,
  gitStatus,
  logQuery,
  pushBody,
  restoreResult,
  switchBranchBody,
} from "../../schemas/git.ts";
import type { GitService } from "../../services/git/git-service.ts";
import { currentPrincipal } from "../auth.ts";
import { clientGone } from "../client-gone.ts";

const tags = ["git"];

/** Ends git's work when the client goes away before the answer. */
const untilClosed = (reply: FastifyReply): AbortSignal => clientGone(reply).signal;

export function gitRoutes(app: FastifyInstance, git: GitService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const base = "/api/v1/sandboxes/:id/git";

  r.get(
    `${base}/status`,
    {
      schema: {
        tags,
        summary: "The branch, where it stands against its upstream, and every changed file",
        params: idParam,
        response: { 200: gitStatus, ...errorResponses },
      },
    },
    async (request, reply) => git.status(currentPrincipal(request), request.params.id, untilClosed(reply)),
  );

  r.get(
    `${base}/diff`,
    {
      schema: {
        tags,
        summary: "A diff: uncommitted changes (untracked files included), the index, or between two revisions",
        description: "Unified text and the same per file with hunks and line numbers. Cut at 8 MiB (`truncated`), at a file boundary.",
        params: idParam,
        querystring: diffQuery,
        response: { 200: gitDiff, ...errorResponses },
      },
    },
    async (request, reply) => git.diff(currentPrincipal(request), request.params.id, request.query, untilClosed(reply)),
  );

  r.get(
    `${base}/log`,
    { schema: { tags, summary: "Commits, newest first", params: idParam, querystring: logQuery, response: { 200: gitLog, ...errorResponses } } },
    async (request, reply) => ({ commits: await git.log(currentPrincipal(request), request.params.id, request.query, untilClosed(reply)) }),
  );

  r.get(
    `${base}/branches`,
    {
      schema: {
        tags,
        summary: "Local branches, with the conversation that works on each",
        params: idParam,
        response: { 200: gitBranches, ...errorResponses },
      },
    },
    async (request, reply) => git.branches(currentPrincipal(request), request.params.id, untilClosed(reply)),
  );

  r.post(
    `${base}/branches`,
    {
      schema: { tags, summary: "Create a branch (and switch to it)", params: idParam, body: createBranchBody, response: { 201: gitStatus, ...errorResponses } },
    },
    async (request, reply) => reply.code(201).send(await git.createBranch(currentPrincipal(request), request.params.id, request.body)),
  );

  r.post(
    `${base}/switch`,
    {
      schema: {
        tags,
        summary: "Switch to a branch",
        description: "Refused by git when uncommitted changes would be overwritten (GIT_FAILED with git's message).",
        params: idParam,
        body: switchBranchBody,
        response: { 200: gitStatus, ...errorResponses },
      },
    },
    async (request) => git.switchBranch(currentPrincipal(request), request.params.id, request.body.branch),
  );

  r.post(
    `${base}/commit`,
    {
      schema: {
        tags,
        summary: "Commit every change (or the paths given), untracked files included",
        description: "Committed by the project's git identity, with the caller as `Co-authored-by`.",
        params: idParam,
        body: commitBody,
        response: { 201: commitResult, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await git.commit(currentPrincipal(request), request.params.id, request.body)),
  );

  r.post(
    `${base}/push`,
    {
      schema: {
        tags,
        summary: "Push a branch to the project's repository (its upstream is set)",
        description: "Credentials are added on the host: a token by the egress proxy (HTTPS), the deploy key by the SSH agent.",
        params: idParam,
        body: pushBody.nullish(),
        response: { 200: gitOutputResult, ...errorResponses },
      },
    },
    async (request, reply) => git.push(currentPrincipal(request), request.params.id, request.body?.branch, untilClosed(reply)),
  );

  r.post(
    `${base}/fetch`,
    {
      schema: {
        tags,
        summary: "Fetch from the project's repository (prunes gone branches)",
        params: idParam,
        body: noFields,
        response: { 200: gitOutputResult, ...errorResponses },
      },
    },
    async (request, reply) => git.fetch(currentPrincipal(request), request.params.id, untilClosed(reply)),
  );

  r.post(
    `${base}/pull`,
    {
      schema: {
        tags,
        summary: "Pull the current branch, fast-forward only",
        params: idParam,
        body: noFields,
        response: { 200: gitOutputResult, ...errorResponses },
      },
    },
    async (request, reply) => git.pull(currentPrincipal(request), request.params.id, untilClosed(reply)),
  );

  const withChk = idParam.extend(checkpointParams.shape);

  r.get(
    `${base}/checkpoints`,
    {
      schema: {
        tags,
        summary: "Checkpoints of the working tree, newest first",
        description: "One is taken before every agent turn (untracked files included, ignored ones not), kept outside the sandbox's reach.",
        params: idParam,
        response: { 200: z.object({ items: z.array(checkpoint) }), ...errorResponses },
      },
    },
    async (request) => ({ items: await git.checkpoints(currentPrincipal(request), request.params.id) }),
  );

  r.post(
    `${base}/checkpoints`,
    {
      schema: {
        tags,
        summary: "Take a checkpoint now",
        params: idParam,
        body: noFields,
        response: { 201: checkpoint, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await git.checkpoint(currentPrincipal(request), request.params.id)),
  );

  r.get(
    `${base}/checkpoints/:chk/diff`,
    {
      schema: { tags, summary: "The working tree now against a checkpoint", params: withChk, response: { 200: gitDiff, ...errorResponses } },
    },
    async (request, reply) => git.checkpointDiff(currentPrincipal(request), request.params.id, request.params.chk, untilClosed(reply)),
  );

  r.post(
    `${base}/checkpoints/:chk/restore`,
    {
      schema: {
        tags,
        summary: "Put the working tree, index and branch back as a checkpoint recorded them",
        description: "The current state is checkpointed first (`undo`): restoring that one undoes the restore.",
        params: withChk,
        body: noFields,
        response: { 200: restoreResult, ...errorResponses },
      },
    },
    async (request) => git.restore(currentPrincipal(request), request.params.id, request.params.chk),
  );
}
