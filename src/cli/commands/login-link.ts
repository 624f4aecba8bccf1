// `outpost login-link`: a fresh one-time link that signs a browser in as you.
import { parse } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { printJson } from "../output.ts";

export const loginLinkHelp = "outpost login-link    print a one-time browser login link";

export async function loginLink(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  const link = await new ApiClient(resolveConnection(values)).request<{ url: string; expiresAt: string }>("POST", "/api/v1/login-links");
  if (values.json) printJson(link);
  else console.log(link.url);
  return 0;
}
