// Serves the built web UI (web/dist, made by `npm run build`): index.html for the UI's own
// routes, so a reload or a pasted link to /projects/shop opens the app there, and the
// hashed files under /assets/, cached for good (a new build has new names). The files hold
// no data, so they are public; the data comes from the API with the session cookie.
// Only web/dist's own files are ever read: the asset table comes from listing that folder,
// so no part of a URL becomes a path.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyReply, FastifyRequest } from "fastify";

/** The UI's client-side routes (web/src/routes.tsx): each answers index.html. */
export const UI_ROUTES = ["/", "/projects", "/projects/*", "/sandboxes/*"] as const;

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The page's own rules: scripts and styles from this origin only (Mantine sets style
 * attributes, hence 'unsafe-inline' for styles), API calls, SSE and WebSockets to this
 * origin, no framing of the UI by other sites. Frames of other origins are allowed: the
 * Preview tab shows a sandbox's app from its own origin.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-src http: https:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join("; ");

const NOT_BUILT =
  '<!doctype html><meta charset=utf-8><title>Outpost</title><p style="font-family:system-ui,sans-serif">The web UI is not built: run <code>npm install</code> (it brings the build tools) and <code>npm run build</code>, then reload. The API works meanwhile (<a href="/docs">/docs</a>).</p>';

interface Asset {
  path: string;
  type: string;
  etag: string;
  body: Buffer;
  /** Precompressed twins written by the build (name.br, name.gz). */
  br?: Buffer;
  gzip?: Buffer;
}

interface Index {
  mtimeMs: number;
  body: Buffer;
  etag: string;
}

/** A listing of the assets folder is redone at most this often when a name is missing. */
const RELIST_MS = 1000;

export class BuiltUi {
  readonly #dir: string;
  #index: Index | null = null;
  #names = new Set<string>();
  #listedAt = 0;
  #listing: Promise<void> | null = null;
  readonly #assets = new Map<string, Asset>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** index.html, re-read when a build replaced it (one stat per request). */
  async index(): Promise<Index | null> {
    const path = join(this.#dir, "index.html");
    const info = await stat(path).catch(() => null);
    if (!info) return null;
    if (this.#index?.mtimeMs !== info.mtimeMs) {
      const body = await readFile(path);
      this.#index = { mtimeMs: info.mtimeMs, body, etag: etagOf(body) };
      // A new build: its assets have new names; the old ones stay listed until re-read.
      this.#listedAt = 0;
    }
    return this.#index;
  }

  async asset(name: string): Promise<Asset | null> {
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(name) || name.endsWith(".gz") || name.endsWith(".br")) return null;
    const cached = this.#assets.get(name);
    if (cached) return cached;
    if (!this.#names.has(name)) await this.#list();
    if (!this.#names.has(name)) return null;
    const path = join(this.#dir, "assets", name);
    const body = await readFile(path).catch(() => null);
    if (!body) return null;
    const twin = (suffix: string) => (this.#names.has(name + suffix) ? readFile(path + suffix).catch(() => undefined) : undefined);
    const [br, gzip] = await Promise.all([twin(".br"), twin(".gz")]);
    const asset: Asset = { path, type: TYPES[extname(name)] ?? "application/octet-stream", etag: etagOf(body), body, br, gzip };
    this.#assets.set(name, asset);
    return asset;
  }

  /** Lists the assets folder again, at most once per RELIST_MS; concurrent callers (the
   *  page's script and stylesheet arrive together) share one listing. */
  #list(): Promise<void> {
    if (this.#listing) return this.#listing;
    if (Date.now() - this.#listedAt < RELIST_MS) return Promise.resolve();
    this.#listing = readdir(join(this.#dir, "assets"))
      .catch(() => [])
      .then((names) => {
        this.#names = new Set(names);
        this.#listedAt = Date.now();
      })
      .finally(() => {
        this.#listing = null;
      });
    return this.#listing;
  }

  async sendIndex(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const index = await this.index();
    securityHeaders(reply);
    if (!index) return reply.code(503).type("text/html; charset=utf-8").header("cache-control", "no-store").send(NOT_BUILT);
    reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").header("etag", index.etag);
    if (request.headers["if-none-match"] === index.etag) return reply.code(304).send();
    return reply.send(index.body);
  }

  async sendAsset(name: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const asset = await this.asset(name);
    if (!asset) {
      reply.callNotFound();
      return reply;
    }
    reply.type(asset.type).header("cache-control", "public, max-age=31536000, immutable").header("vary", "accept-encoding");
    reply.header("x-content-type-options", "nosniff");
    const accepted = acceptedEncodings(request.headers["accept-encoding"]);
    if (asset.br && accepted.has("br"))
      return reply
        .header("content-encoding", "br")
        .header("etag", `${asset.etag.slice(0, -1)}-br"`)
        .send(asset.br);
    if (asset.gzip && accepted.has("gzip"))
      return reply
        .header("content-encoding", "gzip")
        .header("etag", `${asset.etag.slice(0, -1)}-gz"`)
        .send(asset.gzip);
    return reply.header("etag", asset.etag).send(asset.body);
  }
}

function securityHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "same-origin");
}

const etagOf = (body: Buffer) => `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;

/** Content codings the client accepts (q=0 excludes one). */
export function acceptedEncodings(header: string | string[] | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name && (q === undefined || Number(q) > 0)) accepted.add(name);
  }
  return accepted;
}
