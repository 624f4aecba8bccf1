// `outpost user create|list|token` (admin only): make users and mint their API tokens.
import type { NewToken, User } from "../../schemas/users.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";

export const userHelp = `outpost user create <name>                  (admin) a new user; give them a token and a project role
outpost user list                           (admin)
outpost user token <user id|name> [--name N]  (admin) a new API token for the user, printed once`;

export async function user(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { name: { type: "string" } });
  const [verb, ref, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (values.name !== undefined && verb !== "token") throw new UsageError("--name goes with `outpost user token`");
  const api = new ApiClient(resolveConnection(values));
  const need = (what: string) => {
    if (!ref) throw new UsageError(`outpost user ${verb} needs a ${what}`);
    return ref;
  };

  switch (verb) {
    case "create": {
      const created = await api.request<User>("POST", "/api/v1/users", { name: need("name") });
      if (values.json) printJson(created);
      else
        console.log(
          keyValues([
            ["name", created.name],
            ["id", created.id],
            ["next", `outpost user token ${created.name}; outpost project member add <project> ${created.id} --role editor`],
          ]),
        );
      return 0;
    }
    case "list": {
      if (ref) throw new UsageError(`unexpected argument '${ref}'`);
      const items = await api.listAll<User>("/api/v1/users");
      if (values.json) printJson({ items, nextCursor: null });
      else
        console.log(
          table(
            items.map((u) => ({ ...u, admin: u.isAdmin ? "yes" : "" })),
            ["name", "id", "admin", "createdAt"],
          ),
        );
      return 0;
    }
    case "token": {
      const path = `/api/v1/users/${encodeURIComponent(need("user id or name"))}/tokens`;
      const minted = await api.request<NewToken>("POST", path, { name: values.name ?? "cli" });
      if (values.json) printJson(minted);
      else {
        // The token alone on stdout, so that `$(outpost user token bob)` captures it.
        console.log(minted.token);
        console.error(`token ${minted.id} for ${ref}: shown only now; use it as OUTPOST_TOKEN or \`Authorization: Bearer …\``);
      }
      return 0;
    }
    default:
      throw new UsageError(verb ? `unknown verb 'user ${verb}'` : "outpost user needs a verb: create, list, token");
  }
}
