// A signal for work done on behalf of one HTTP request: it aborts when the client goes away
// before the answer is complete (so a git fetch or a long exec stops with nobody to tell).
import type { FastifyReply } from "fastify";

export function clientGone(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
