// A project's SSH deploy key: GET shows its public half, POST makes one (or a new one in
// place of the old: a rotation). `outpost project deploy-key <project> [--rotate]`.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { z } from "zod";
import { errorResponses, noFields, projectRef } from "../../schemas/common.ts";
import { deployKey } from "../../schemas/deploy-keys.ts";
import type { DeployKeyService, DeployKeyView } from "../../services/git/deploy-keys.ts";
import { currentPrincipal } from "../auth.ts";

export function projectGitRoutes(app: FastifyInstance, deployKeys: DeployKeyService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["git"];

  r.get(
    "/api/v1/projects/:id/git/deploy-key",
    { schema: { tags, summary: "A project's SSH deploy key (public half)", params: projectRef, response: { 200: deployKey, ...errorResponses } } },
    async (request) => present(await deployKeys.get(currentPrincipal(request), request.params.id)),
  );

  r.post(
    "/api/v1/projects/:id/git/deploy-key",
    {
      schema: {
        tags,
        summary: "Make the project's SSH deploy key, or rotate it",
        description:
          "Makes an ed25519 key whose private half stays on the host: sandboxes use it through an ssh-agent socket that signs only SSH logins, and SSH leaves the sandbox only for the project's repository. A project that has a key gets a new one (the old one stops working at once; remove it from the repository). When the repository is reached over SSH and no host keys are pinned, the host's keys are scanned and pinned.",
        params: projectRef,
        body: noFields,
        response: { 201: deployKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const made = await deployKeys.create(currentPrincipal(request), request.params.id);
      reply.code(201);
      return { ...present(made.key), ...(made.warning ? { warning: made.warning } : {}) };
    },
  );
}

function present(view: DeployKeyView): z.infer<typeof deployKey> {
  return { publicKey: view.publicKey, fingerprint: view.fingerprint, createdAt: view.createdAt.toISOString(), knownHosts: view.knownHosts };
}
