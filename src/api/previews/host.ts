// Where previews live, as pure functions: which requests are a preview's (by Host, or by the
// bearer path on the main origin), the origin of a sandbox's port, and which `next` paths a
// redirect may go to. A preview runs code the agent wrote, so it gets an origin of its own,
// never the UI's and never another sandbox's or port's:
//   http://<port>-<sandbox>.localhost:<OUTPOST_PORT>/   (browsers resolve *.localhost to loopback)
//   <scheme>://<port>-<sandbox>.<OUTPOST_PREVIEW_DOMAIN>/
// The first label holds the port first: sandbox names start with a letter, so it parses
// one way only.

/** One label before the preview domain: `<port>-<sandbox name>`. */
const PREVIEW_LABEL = /^(\d{1,5})-([a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;
/** A sandbox named on the bearer path: its id or name, as API paths take them. */
const SANDBOX_REF = /^[A-Za-z0-9_-]{1,64}$/;
export const BEARER_PREFIX = "/preview";
/** The one path a preview origin keeps for Outpost: exchanging a code or share token for a cookie. */
export const PREVIEW_LOGIN_PATH = "/__outpost/preview-login";
const MAX_NEXT_CHARS = 2048;

/** What a request is, as far as previews go: null when it is the API's. */
export type PreviewClaim =
  | { kind: "origin"; sandbox: string; port: number }
  | { kind: "bearer"; sandbox: string; port: number; path: string }
  /** In the preview namespace, but naming no preview (port 0, a bad label, a bad path). */
  | { kind: "invalid"; where: "origin" | "bearer" };

/** Hostname of a Host header: lower case, without port or trailing dot (an IPv6 literal keeps its brackets). */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const lower = host.trim().toLowerCase();
  const name = lower.startsWith("[") ? lower.slice(0, lower.indexOf("]") + 1) : lower.replace(/:\d*$/, "");
  return name.replace(/\.$/, "");
}

/**
 * Decides from Host and URL alone (synchronously, before any routing) whether a request
 * is a preview's. `domain` is OUTPOST_PREVIEW_DOMAIN (its port, if any, is ignored here:
 * the Host a browser sends carries whichever port it used). `*.localhost` always counts.
 */
export function claimOf(host: string | undefined, url: string, domain: string | undefined): PreviewClaim | null {
  const hostname = hostnameOf(host);
  if (hostname !== undefined) {
    for (const suffix of ["localhost", domain?.replace(/:\d+$/, "")]) {
      if (!suffix || !hostname.endsWith(`.${suffix}`)) continue;
      const label = hostname.slice(0, -suffix.length - 1);
      if (label.includes(".")) continue;
      const parsed = parseLabel(label);
      return parsed ? { kind: "origin", ...parsed } : { kind: "invalid", where: "origin" };
    }
  }
  if (url === BEARER_PREFIX || url.startsWith(`${BEARER_PREFIX}/`) || url.startsWith(`${BEARER_PREFIX}?`)) return bearerClaim(url);
  return null;
}

function parseLabel(label: string): { sandbox: string; port: number } | null {
  const match = PREVIEW_LABEL.exec(label);
  if (!match) return null;
  const port = Number(match[1]);
  return validPort(port) ? { sandbox: match[2] as string, port } : null;
}

const validPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65_535;

/** `/preview/<sandbox>/<port>[/rest][?query]` → what the app sees is `/rest?query`. */
function bearerClaim(url: string): PreviewClaim {
  const match = /^\/preview\/([^/?#]*)\/([^/?#]*)([/?][^#]*)?$/.exec(url);
  if (!match) return { kind: "invalid", where: "bearer" };
  const [, sandbox = "", portText = "", rest = ""] = match;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (!SANDBOX_REF.test(sandbox) || !validPort(port)) return { kind: "invalid", where: "bearer" };
  const path = rest === "" ? "/" : rest.startsWith("?") ? `/${rest}` : rest;
  return { kind: "bearer", sandbox, port, path };
}

/**
 * A path to redirect to after signing in to a preview: only a path on the same origin.
 * Null for anything that could leave it (`//evil.com`, `/\evil.com`, `https://…`), control
 * characters, or over 2048 characters.
 */
export function safeNext(next: string | undefined): string | null {
  if (next === undefined || next === "") return "/";
  if (next.length > MAX_NEXT_CHARS || !next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) return null;
  try {
    const base = "http://preview.invalid";
    const resolved = new URL(next, base);
    if (resolved.origin !== base) return null;
    return `${resolved.pathname}${resolved.search}${resolved.hash}`;
  } catch {
    return null;
  }
}

/** The origins of previews, from the settings and the URL people open the UI at. */
export class PreviewOrigins {
  constructor(
    /** OUTPOST_PREVIEW_DOMAIN, e.g. `preview.example.com` or `previews.test:8443`; undefined: `*.localhost`. */
    readonly domain: string | undefined,
    /** The UI's URL (OUTPOST_PUBLIC_URL, or where the server listens). */
    private readonly publicUrl: () => string,
  ) {}

  /** `http://3000-shop-a1b2c3.localhost:7300`: the origin of one sandbox's port. */
  origin(sandbox: string, port: number): string {
    const ui = new URL(this.publicUrl());
    if (this.domain) return `${ui.protocol}//${port}-${sandbox}.${this.domain}`;
    return `${ui.protocol}//${port}-${sandbox}.localhost${ui.port ? `:${ui.port}` : ""}`;
  }

  /** Whether preview cookies must be Secure (previews are served like the UI: https or not). */
  secure(): boolean {
    return this.publicUrl().startsWith("https:");
  }

  /** The main origin's URL of the API route that opens a preview (a signed-in browser lands in it). */
  openUrl(sandbox: string, port: number, next = "/"): string {
    const query = next === "/" ? "" : `?next=${encodeURIComponent(next)}`;
    return `${this.publicUrl().replace(/\/$/, "")}/api/v1/sandboxes/${encodeURIComponent(sandbox)}/previews/${port}/open${query}`;
  }

  /** Where the one-time code (or share token) is exchanged for the preview's cookie. */
  loginUrl(sandbox: string, port: number, secret: { code: string } | { share: string }, next = "/"): string {
    const query = new URLSearchParams("code" in secret ? { code: secret.code } : { share: secret.share });
    if (next !== "/") query.set("next", next);
    return `${this.origin(sandbox, port)}${PREVIEW_LOGIN_PATH}?${query}`;
  }
}
