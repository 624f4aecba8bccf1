// GET /api/v1/me: who the caller is. The web UI asks this first: it decides between the
// app and the sign-in page (401), and whether to offer admin-only parts (the users list).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../../schemas/common.ts";
import { currentUser } from "../auth.ts";

const me = z.object({ id: z.string(), name: z.string(), isAdmin: z.boolean() }).meta({ id: "Me" });

export function meRoutes(app: FastifyInstance): void {
  app
    .withTypeProvider<ZodTypeProvider>()
    .get(
      "/api/v1/me",
      { schema: { tags: ["auth"], summary: "The signed-in user (token or session)", response: { 200: me, ...errorResponses } } },
      async (request) => {
        const user = currentUser(request);
        return { id: user.id, name: user.name, isAdmin: user.isAdmin };
      },
    );
}
