// Browser sign-in, Jupyter-style: the server prints a one-time login link; opening it
// trades the code for a session cookie. `POST /api/v1/login-links` mints a new link for
// the caller (the CLI's `outpost login-link`).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../../schemas/common.ts";
import { type AuthService, LOGIN_CODE_TTL_SECONDS, SESSION_COOKIE, SESSION_TTL_SECONDS } from "../../services/auth.ts";
import { currentUser } from "../auth.ts";
import { sessionCookie } from "../cookies.ts";

const loginLink = z.object({ url: z.string(), expiresAt: z.string() }).meta({ id: "LoginLink" });

export function sessionRoutes(app: FastifyInstance, auth: AuthService, publicUrl: () => string): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get("/login", { schema: { hide: true, querystring: z.object({ code: z.string().max(200).optional() }) } }, async (request, reply) => {
    // Link checkers and chat previews send HEAD: only a GET (the browser following the
    // link) may spend the one-time code.
    if (request.method === "HEAD") return reply.code(200).type("text/html; charset=utf-8").send("");
    const sessionId = request.query.code ? await auth.openSession(request.query.code) : null;
    if (!sessionId) {
      return reply
        .code(401)
        .type("text/html; charset=utf-8")
        .send(
          `<!doctype html><html><head><meta charset="utf-8"><title>Outpost</title></head><body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>This login link does not work</h1><p>It was used already or has expired. Print a new one with <code>outpost login-link</code>.</p></body></html>`,
        );
    }
    const secure = publicUrl().startsWith("https:");
    reply.header("set-cookie", sessionCookie(SESSION_COOKIE, sessionId, SESSION_TTL_SECONDS, secure));
    return reply.redirect("/", 303);
  });

  r.post(
    "/api/v1/login-links",
    {
      schema: {
        tags: ["auth"],
        summary: "Create a one-time browser login link for yourself",
        response: { 201: loginLink, ...errorResponses },
      },
    },
    async (request, reply) => {
      const code = await auth.createLoginCode(currentUser(request));
      reply.code(201);
      return { url: `${publicUrl()}/login?code=${code}`, expiresAt: new Date(Date.now() + LOGIN_CODE_TTL_SECONDS * 1000).toISOString() };
    },
  );
}
