// The web UI at `/`: its client-side routes answer index.html, /assets/ its built files
// (src/api/static.ts). Public: the files hold no data (registerAuth lets routes with
// `config.public` through); what the UI shows comes from the API with the session cookie.
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { packageRoot } from "../../package-root.ts";
import { BuiltUi, UI_ROUTES } from "../static.ts";

export function homeRoutes(app: FastifyInstance, uiDir = join(packageRoot(), "web", "dist")): void {
  const ui = new BuiltUi(uiDir);
  const options = { schema: { hide: true }, config: { public: true }, logLevel: "warn" } as const;
  for (const path of UI_ROUTES) app.get(path, options, (request, reply) => ui.sendIndex(request, reply));
  app.get<{ Params: { "*": string } }>("/assets/*", options, (request, reply) => ui.sendAsset(request.params["*"], request, reply));
}
