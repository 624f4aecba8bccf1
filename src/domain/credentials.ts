// Credentials: project variables whose values never enter a sandbox (pure). Inside, the
// variable holds a placeholder; on the host the egress proxy and the model gateway put the
// real value into the request headers named by the credential's inject rules, and only on
// requests to those exact hosts. So code in the sandbox can use a credential where it was
// meant to go, and cannot read it, print it, or send it anywhere else.

export const INJECT_FORMATS = ["raw", "bearer", "basic"] as const;
export type InjectFormat = (typeof INJECT_FORMATS)[number];

export interface InjectRule {
  /** The exact host (no wildcards: a credential goes where it was meant to, nowhere near). */
  host: string;
  /** Lower-case header name, e.g. `x-api-key` or `authorization`. */
  header: string;
  /** How the value becomes the header: as it is, `Bearer <value>`, or `Basic base64(<value>)` (value `user:password`). */
  format: InjectFormat;
}

export interface Credential {
  name: string;
  value: string;
  placeholder: string;
  inject: InjectRule[];
}

/**
 * Where well-known credentials go when `--inject` is not given. Model keys go to their
 * provider (through the gateway, which is where the sandbox's clients send them).
 */
export const DEFAULT_INJECT: Readonly<Record<string, InjectRule[]>> = {
  ANTHROPIC_API_KEY: [{ host: "api.anthropic.com", header: "x-api-key", format: "raw" }],
  ANTHROPIC_AUTH_TOKEN: [{ host: "api.anthropic.com", header: "authorization", format: "bearer" }],
  CLAUDE_CODE_OAUTH_TOKEN: [{ host: "api.anthropic.com", header: "authorization", format: "bearer" }],
  OPENAI_API_KEY: [{ host: "api.openai.com", header: "authorization", format: "bearer" }],
  // Google's Gemini API (the key Gemini CLI and the genai SDKs send as x-goog-api-key).
  GEMINI_API_KEY: [{ host: "generativelanguage.googleapis.com", header: "x-goog-api-key", format: "raw" }],
  GITHUB_TOKEN: [
    { host: "api.github.com", header: "authorization", format: "bearer" },
    { host: "github.com", header: "authorization", format: "basic" },
  ],
  GH_TOKEN: [{ host: "api.github.com", header: "authorization", format: "bearer" }],
};

/**
 * The placeholder a sandbox sees: the real value's leading prefix (`sk-ant-`, `ghp_`,
 * `github_pat_`, `sk-proj-` …, so clients that check a key's shape accept it), then
 * `outpost-placeholder-` and 32 hex digits. Never derived from the value beyond its prefix.
 */
export function credentialPlaceholder(value: string, randomHex: string): string {
  const prefix = /^(?:[A-Za-z]{1,10}[-_]){1,2}/.exec(value)?.[0] ?? "";
  return `${prefix.slice(0, 16)}outpost-placeholder-${randomHex.slice(0, 32)}`;
}

export const PLACEHOLDER_PATTERN = /outpost-placeholder-[0-9a-f]{32}/;

export function formatCredential(value: string, format: InjectFormat): string {
  if (format === "bearer") return `Bearer ${value}`;
  // A bare token (no `user:`) goes in as GitHub and most git hosts take one over HTTPS.
  if (format === "basic") return `Basic ${Buffer.from(value.includes(":") ? value : `x-access-token:${value}`, "utf8").toString("base64")}`;
  return value;
}

export type Headers = Record<string, string | string[] | undefined>;

/** The credentials whose values belong in requests to `host` (exact, case-insensitive). */
export function credentialsFor(credentials: readonly Credential[], host: string): Credential[] {
  const wanted = host.toLowerCase();
  return credentials.filter((c) => c.inject.some((rule) => rule.host === wanted));
}

/**
 * Puts the credentials meant for `host` into a request's headers (a new object; names are
 * lower case as node gives them). Per inject rule: a header that carries the placeholder
 * gets the value in its place (also inside Basic auth); a missing header is set; a header
 * the client filled with something else is left alone (the client brought its own).
 * Returns which credentials were used, for the record (names only).
 */
export function injectCredentials(headers: Headers, credentials: readonly Credential[], host: string): { headers: Headers; used: string[] } {
  const out: Headers = { ...headers };
  const used = new Set<string>();
  const wanted = host.toLowerCase();
  for (const credential of credentials) {
    for (const rule of credential.inject) {
      if (rule.host !== wanted) continue;
      const current = out[rule.header];
      const text = Array.isArray(current) ? current.join(", ") : current;
      if (text === undefined || text === "") {
        out[rule.header] = formatCredential(credential.value, rule.format);
        used.add(credential.name);
      } else if (text.includes(credential.placeholder)) {
        out[rule.header] = text.split(credential.placeholder).join(credential.value);
        used.add(credential.name);
      } else if (rule.format === "basic") {
        const swapped = swapInBasic(text, credential);
        if (swapped) {
          out[rule.header] = swapped;
          used.add(credential.name);
        }
      }
    }
  }
  return { headers: out, used: [...used] };
}

/** `Basic base64(user:<placeholder>)` → the same with the value (git sends the placeholder this way). */
function swapInBasic(header: string, credential: Credential): string | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  if (!decoded.includes(credential.placeholder)) return null;
  return `Basic ${Buffer.from(decoded.split(credential.placeholder).join(credential.value), "utf8").toString("base64")}`;
}

/** Why an inject rule cannot be stored, or null. */
export function injectRuleProblem(rule: InjectRule): string | null {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(rule.host) || rule.host.includes("..")) return "host must be an exact lowercase hostname (no wildcards)";
  if (!/^[a-z0-9-]{1,64}$/.test(rule.header)) return "header must be a lowercase header name like 'x-api-key' or 'authorization'";
  if (["host", "content-length", "transfer-encoding", "connection", "upgrade", "proxy-authorization"].includes(rule.header))
    return `header '${rule.header}' cannot carry a credential`;
  return null;
}

/** Parses the CLI's `host:header[:format]`. */
export function parseInjectRule(text: string): InjectRule | string {
  const [host = "", header = "", format = "raw", ...rest] = text.trim().toLowerCase().split(":");
  if (rest.length > 0 || !(INJECT_FORMATS as readonly string[]).includes(format)) return `'${text}': expected host:header[:raw|bearer|basic]`;
  const rule: InjectRule = { host, header, format: format as InjectFormat };
  const problem = injectRuleProblem(rule);
  return problem ? `'${text}': ${problem}` : rule;
}
