// Environments (issue 20): `outpost environment …`. Installation-wide: anyone signed in reads
// and uses them; the creator or an admin changes, builds and deletes one.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, noFields } from "../../schemas/common.ts";
import {
  createEnvironmentBody,
  type Environment,
  environment,
  environmentBuild,
  environmentBuildLog,
  environmentRef,
  updateEnvironmentBody,
} from "../../schemas/environments.ts";
import type { BuildRow, EnvironmentService, EnvironmentView } from "../../services/environments/environments.ts";
import { currentPrincipal } from "../auth.ts";

export function environmentRoutes(app: FastifyInstance, environments: EnvironmentService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["environments"];
  const path = "/api/v1/environments";

  r.get(
    path,
    { schema: { tags, summary: "List environments", response: { 200: z.object({ items: z.array(environment) }), ...errorResponses } } },
    async (request) => ({ items: (await environments.list(currentPrincipal(request))).map(presentEnvironment) }),
  );

  r.post(
    path,
    {
      schema: {
        tags,
        summary: "Create an environment",
        description:
          "A base image plus a setup script run once as root inside and cached (by image, script and setup env), a maintenance script run at every start, and the setup phase's env and egress. Nothing is built until a build or a sandbox needs it.",
        body: createEnvironmentBody,
        response: { 201: environment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name, ...input } = request.body;
      reply.code(201);
      return presentEnvironment(await environments.create(currentPrincipal(request), name, input));
    },
  );

  r.get(
    `${path}/:ref`,
    {
      schema: {
        tags,
        summary: "An environment, with its cache state and last build",
        params: environmentRef,
        response: { 200: environment, ...errorResponses },
      },
    },
    async (request) => presentEnvironment(await environments.get(currentPrincipal(request), request.params.ref)),
  );

  r.patch(
    `${path}/:ref`,
    {
      schema: {
        tags,
        summary: "Change an environment",
        description:
          "The fields given replace the stored ones. A changed image, script or setup env is built at the next start of a sandbox that uses it (or by a build).",
        params: environmentRef,
        body: updateEnvironmentBody,
        response: { 200: environment, ...errorResponses },
      },
    },
    async (request) => presentEnvironment(await environments.update(currentPrincipal(request), request.params.ref, request.body)),
  );

  r.delete(
    `${path}/:ref`,
    { schema: { tags, summary: "Delete an environment no project uses", params: environmentRef, response: { 204: z.null(), ...errorResponses } } },
    async (request, reply) => {
      await environments.remove(currentPrincipal(request), request.params.ref);
      reply.code(204);
      return null;
    },
  );

  r.post(
    `${path}/:ref/builds`,
    {
      schema: {
        tags,
        summary: "Build an environment now",
        description: "Makes its image and runs its setup script unless cached; answers at once. Follow it with GET …/builds/latest.",
        params: environmentRef,
        body: noFields,
        response: { 202: environmentBuild, ...errorResponses },
      },
    },
    async (request, reply) => {
      reply.code(202);
      return presentBuild(await environments.build(currentPrincipal(request), request.params.ref));
    },
  );

  r.get(
    `${path}/:ref/builds/latest`,
    { schema: { tags, summary: "The latest build, with its log", params: environmentRef, response: { 200: environmentBuildLog, ...errorResponses } } },
    async (request) => {
      const build = await environments.lastBuild(currentPrincipal(request), request.params.ref);
      return { ...presentBuild(build), log: build.log };
    },
  );
}

function presentBuild(build: BuildRow) {
  return {
    id: build.id,
    state: build.state,
    key: build.key,
    cached: build.cached,
    error: build.error,
    startedAt: build.startedAt.toISOString(),
    finishedAt: build.finishedAt?.toISOString() ?? null,
  };
}

export function presentEnvironment(view: EnvironmentView): Environment {
  return {
    id: view.id,
    name: view.name,
    ownerId: view.ownerId,
    image: view.image,
    setup: view.setup,
    maintenance: view.maintenance,
    setupEnv: view.setupEnv,
    setupEgress: view.setupEgress,
    poolSize: view.poolSize,
    cache: view.cache,
    warm: view.warm,
    projects: view.projects,
    lastBuild: view.lastBuild ? presentBuild(view.lastBuild) : null,
    createdAt: view.createdAt.toISOString(),
    updatedAt: view.updatedAt.toISOString(),
  };
}
