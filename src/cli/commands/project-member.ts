// `outpost project member add|list|remove`: who may do what in a project (viewer, editor,
// owner; docs/api.md has the table). Members are named by user id (`outpost user list`).
import { ROLES } from "../../domain/authorization.ts";
import type { Member } from "../../schemas/members.ts";
import { type GlobalFlags, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { printJson, table } from "../output.ts";

export const memberHelp = `outpost project member list <project>
outpost project member add <project> <user id> [--role viewer|editor|owner]   (default editor; also changes a role)
outpost project member remove <project> <user id>`;

export async function projectMember(positionals: string[], values: GlobalFlags & { role?: string }): Promise<number> {
  const [verb, project, userId, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!verb) throw new UsageError("outpost project member needs a verb: list, add, remove");
  if (!project) throw new UsageError(`outpost project member ${verb} needs a project id or name`);
  if (values.role !== undefined && verb !== "add") throw new UsageError("--role goes with `outpost project member add`");
  const api = new ApiClient(resolveConnection(values));
  const base = `/api/v1/projects/${encodeURIComponent(project)}/members`;
  const needUser = () => {
    if (!userId) throw new UsageError(`outpost project member ${verb} needs a user id (usr_…)`);
    return userId;
  };

  switch (verb) {
    case "list": {
      if (userId) throw new UsageError(`unexpected argument '${userId}'`);
      const page = await api.request<{ items: Member[] }>("GET", base);
      if (values.json) printJson(page);
      else console.log(table(page.items, ["name", "userId", "role", "createdAt"]));
      return 0;
    }
    case "add": {
      const role = values.role ?? "editor";
      if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
      const member = await api.request<Member>("POST", base, { userId: needUser(), role });
      if (values.json) printJson(member);
      else console.log(`${member.name} (${member.userId}) is ${member.role} of ${project}`);
      return 0;
    }
    case "remove":
      await api.request("DELETE", `${base}/${encodeURIComponent(needUser())}`);
      if (!values.json) console.log(`removed ${userId} from ${project}`);
      return 0;
    default:
      throw new UsageError(`unknown verb 'project member ${verb}'`);
  }
}
