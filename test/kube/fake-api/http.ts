// The wire side of the stand-in: turns HTTP requests into store operations the way the
// Kubernetes API server routes them (/api/v1/..., /apis/<group>/<version>/..., namespaced or
// cluster-wide, /status), answers JSON, reports failures as Status objects, records every
// request and plays the failures a test asked for.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { badRequest, errorForCode, KubeApiError, notFound } from "./errors.ts";
import { isPlainObject, jsonPatch, mergePatch } from "./patch.ts";
import {
  apiVersionOf,
  coreVersionsDocument,
  findByPath,
  groupDocumentFor,
  groupsDocument,
  isBuiltIn,
  resourceKey,
  resourceList,
  VERSION_DOCUMENT,
} from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import type { DeleteOptions, ObjectStore, PropagationPolicy } from "./store.ts";
import type { KubeObject, RequestRecord, ResourceType } from "./types.ts";
import type { WatchHub } from "./watch.ts";

/** The API server refuses request bodies above 3 MiB. */
export const BODY_LIMIT = 3 * 1024 * 1024;

export interface FailRule {
  method?: string;
  /** matched against the path and query, e.g. "/pods" or "watch=true" */
  pathIncludes?: string;
  status?: number;
  hang?: boolean;
  count?: number;
}

export interface HttpContext {
  store: ObjectStore;
  watches: WatchHub;
  requests: RequestRecord[];
  rules: FailRule[];
  /** answers held back by hang rules, let go (destroyed) on close */
  hung: Set<ServerResponse>;
  token: string;
  address: string;
}

interface ResourcePath {
  type: ResourceType;
  key: string;
  namespace?: string;
  name?: string;
  status: boolean;
  watch: boolean;
}

const notFoundPath = () => new KubeApiError(404, "NotFound", "the server could not find the requested resource");
const methodNotAllowed = (method: string) =>
  new KubeApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`);

function send(res: ServerResponse, record: RequestRecord, status: number, body: unknown): void {
  record.status = status;
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | "too large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > BODY_LIMIT ? "too large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function takeRule(rules: FailRule[], method: string, target: string): FailRule | undefined {
  const index = rules.findIndex((rule) => (!rule.method || rule.method.toUpperCase() === method) && (!rule.pathIncludes || target.includes(rule.pathIncludes)));
  if (index < 0) return undefined;
  const rule = rules[index]!;
  rule.count = (rule.count ?? 1) - 1;
  if (rule.count <= 0) rules.splice(index, 1);
  return rule;
}

/** A discovery document; "missing" for a discovery path of a group or version not served;
 *  undefined when the path is not a discovery path. */
function discovery(segments: string[], address: string): object | undefined | "missing" {
  const [root, first, second] = segments;
  if (root === "version" && segments.length === 1) return VERSION_DOCUMENT;
  if (root === "api" && segments.length === 1) return coreVersionsDocument(address);
  if (root === "api" && segments.length === 2) return resourceList("", first!) ?? "missing";
  if (root === "apis" && segments.length === 1) return groupsDocument();
  if (root === "apis" && segments.length === 2) return groupDocumentFor(first!) ?? "missing";
  if (root === "apis" && segments.length === 3) return resourceList(first!, second!) ?? "missing";
  return undefined;
}

function resourcePath(segments: string[]): ResourcePath {
  const [root] = segments;
  if (root !== "api" && root !== "apis") throw notFoundPath();
  const group = root === "api" ? "" : segments[1]!;
  const version = root === "api" ? segments[1]! : segments[2]!;
  let rest = segments.slice(root === "api" ? 2 : 3);
  const watch = rest[0] === "watch";
  if (watch) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && rest[2] !== "status" && rest[2] !== "finalize") {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...more] = rest;
  const type = findByPath(group, version, plural ?? "");
  if (!type || more.length > 0 || (namespace !== undefined && !type.namespaced)) throw notFoundPath();
  if (subresource !== undefined && !(subresource === "status" && type.status)) throw notFoundPath();
  return { type, key: resourceKey(type), namespace, name, status: subresource === "status", watch };
}

function parseBody(raw: Buffer, contentType: string): unknown {
  if (raw.length === 0) return undefined;
  const text = raw.toString("utf8");
  try {
    // Server-side apply bodies are YAML (JSON is YAML too); everything else is JSON.
    return contentType === "application/apply-patch+yaml" ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`the body of the request could not be decoded: ${(error as Error).message}`);
  }
}

function objectBody(body: unknown): KubeObject {
  if (!isPlainObject(body)) throw badRequest("the body of the request was not a JSON object");
  return body as KubeObject;
}

/** Names and namespaces come from the URL; a body that says otherwise is refused. */
function checkIdentity(path: ResourcePath, object: KubeObject): KubeObject {
  const metadata = (object.metadata ?? {}) as Partial<KubeObject["metadata"]>;
  if (path.name !== undefined && metadata.name && metadata.name !== path.name) {
    throw badRequest(`the name of the object (${metadata.name}) does not match the name on the URL (${path.name})`);
  }
  if (path.namespace !== undefined && metadata.namespace && metadata.namespace !== path.namespace) {
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  return {
    ...object,
    metadata: { ...metadata, ...(path.name !== undefined ? { name: path.name } : {}), ...(path.namespace !== undefined ? { namespace: path.namespace } : {}) },
  } as KubeObject;
}

function listBody(path: ResourcePath, items: KubeObject[], resourceVersion: number, more?: { continue: string; remaining: number }) {
  const strip = isBuiltIn(path.type);
  return {
    kind: `${path.type.kind}List`,
    apiVersion: apiVersionOf(path.type),
    metadata: { resourceVersion: String(resourceVersion), ...(more ? { continue: more.continue, remainingItemCount: more.remaining } : {}) },
    items: strip ? items.map(({ apiVersion: _apiVersion, kind: _kind, ...rest }) => rest) : items,
  };
}

function list(ctx: HttpContext, path: ResourcePath, query: URLSearchParams): object {
  const matches = selectorsOf(path, query);
  let items = ctx.store.list(path.key, path.namespace, matches);
  const token = query.get("continue");
  if (token) {
    const after = Buffer.from(token, "base64url").toString("utf8");
    items = items.filter((item) => `${item.metadata.namespace ?? ""}/${item.metadata.name}` > after);
  }
  const limit = Number(query.get("limit") ?? 0);
  if (limit > 0 && items.length > limit) {
    const page = items.slice(0, limit);
    const last = page[page.length - 1]!;
    const next = Buffer.from(`${last.metadata.namespace ?? ""}/${last.metadata.name}`).toString("base64url");
    return listBody(path, page, ctx.store.resourceVersion, { continue: next, remaining: items.length - limit });
  }
  return listBody(path, items, ctx.store.resourceVersion);
}

function selectorsOf(path: ResourcePath, query: URLSearchParams) {
  const labels = parseLabelSelector(query.get("labelSelector"));
  const fields = parseFieldSelector(query.get("fieldSelector"), path.type.kind);
  const byName = path.name;
  return (object: KubeObject) => labels(object) && fields(object) && (byName === undefined || object.metadata.name === byName);
}

function deleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
  const options = isPlainObject(body) ? body : {};
  let policy = (query.get("propagationPolicy") ?? options.propagationPolicy) as PropagationPolicy | undefined;
  if (!policy && (query.get("orphanDependents") === "true" || options.orphanDependents === true)) policy = "Orphan";
  if (policy && !["Orphan", "Background", "Foreground"].includes(policy)) throw badRequest(`unknown propagationPolicy "${policy}"`);
  return {
    propagationPolicy: policy,
    preconditions: isPlainObject(options.preconditions) ? (options.preconditions as DeleteOptions["preconditions"]) : undefined,
  };
}

function patch(ctx: HttpContext, path: ResourcePath, contentType: string, body: unknown, query: URLSearchParams): [number, KubeObject] {
  const { store } = ctx;
  const stored = store.get(path.key, path.namespace, path.name!);
  const mode = path.status ? "only" : "ignore";
  const identify = (object: unknown) => checkIdentity(path, objectBody(object));
  switch (contentType) {
    case "application/apply-patch+yaml": {
      if (!query.get("fieldManager")) throw badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      const applied = identify(body);
      if (!stored) {
        if (path.status) throw notFound(path.type, path.name!);
        return [201, store.create(path.key, applied, "ignore")];
      }
      return [200, store.update(path.key, identify(mergePatch(stored, applied)), mode)];
    }
    case "application/merge-patch+json":
    case "application/strategic-merge-patch+json":
      if (!stored) throw notFound(path.type, path.name!);
      if (!isPlainObject(body)) throw badRequest("a merge patch must be a JSON object");
      return [200, store.update(path.key, identify(mergePatch(stored, body)), mode)];
    case "application/json-patch+json":
      if (!stored) throw notFound(path.type, path.name!);
      return [200, store.update(path.key, identify(jsonPatch(stored, body)), mode)];
    default:
      throw new KubeApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      );
  }
}

function startWatch(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, record: RequestRecord, path: ResourcePath, query: URLSearchParams): void {
  if (record.method !== "GET") throw methodNotAllowed(record.method);
  const resourceVersion = query.get("resourceVersion") ?? "";
  if (resourceVersion !== "" && !/^\d+$/.test(resourceVersion)) throw badRequest(`invalid resource version: ${resourceVersion}`);
  const timeout = query.get("timeoutSeconds");
  record.status = 200;
  ctx.watches.serve(
    {
      key: path.key,
      type: path.type,
      namespace: path.namespace,
      matches: selectorsOf(path, query),
      resourceVersion,
      timeoutSeconds: timeout ? Number(timeout) : undefined,
      bookmarks: query.get("allowWatchBookmarks") === "true",
    },
    req,
    res,
  );
}

/** The status code and body a request on a resource gets. */
function answer(ctx: HttpContext, method: string, path: ResourcePath, contentType: string, body: unknown, query: URLSearchParams): [number, unknown] {
  const { store } = ctx;
  if (path.name === undefined) {
    if (method === "GET") return [200, list(ctx, path, query)];
    if (method === "POST" && (path.namespace !== undefined || !path.type.namespaced)) {
      return [201, store.create(path.key, checkIdentity(path, objectBody(body)), "ignore")];
    }
    if (method === "DELETE") {
      const options = deleteOptions(body, query);
      const gone = store
        .list(path.key, path.namespace, selectorsOf(path, query))
        .map((object) => store.delete(path.key, object.metadata.namespace, object.metadata.name, options));
      return [200, listBody(path, gone, store.resourceVersion)];
    }
    throw methodNotAllowed(method);
  }
  switch (method) {
    case "GET": {
      const object = store.get(path.key, path.namespace, path.name);
      if (!object) throw notFound(path.type, path.name);
      return [200, object];
    }
    case "PUT":
      return [200, store.update(path.key, checkIdentity(path, objectBody(body)), path.status ? "only" : "ignore")];
    case "PATCH":
      return patch(ctx, path, contentType, body, query);
    case "DELETE":
      if (path.status) throw methodNotAllowed(method);
      return [200, store.delete(path.key, path.namespace, path.name, deleteOptions(body, query))];
    default:
      throw methodNotAllowed(method);
  }
}

export function handleRequest(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://stand-in");
  const method = (req.method ?? "GET").toUpperCase();
  const segments = url.pathname
    .split("/")
    .filter((segment) => segment !== "")
    .map((segment) => decodeURIComponent(segment));
  const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "") || segments.includes("watch");
  const record: RequestRecord = { method, path: url.pathname, query: url.search.slice(1), status: 0, watch };
  ctx.requests.push(record);
  const fail = (error: unknown) => {
    if (res.headersSent) return res.destroy();
    const status = error instanceof KubeApiError ? error : new KubeApiError(500, "InternalError", `stand-in API server failed: ${(error as Error).stack}`);
    send(res, record, status.code, status.body);
  };

  const rule = takeRule(ctx.rules, method, url.pathname + url.search);
  if (rule?.hang) {
    ctx.hung.add(res);
    res.on("close", () => ctx.hung.delete(res));
    return;
  }
  readBody(req).then((raw) => {
    try {
      if (rule) throw errorForCode(rule.status ?? 500);
      if (req.headers.authorization !== `Bearer ${ctx.token}`) throw new KubeApiError(401, "Unauthorized", "Unauthorized");
      if (raw === "too large") throw new KubeApiError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${BODY_LIMIT}`);
      const document = method === "GET" ? discovery(segments, ctx.address) : undefined;
      if (document === "missing") throw notFoundPath();
      if (document) return send(res, record, 200, document);
      const path = resourcePath(segments);
      const query = url.searchParams;
      if (query.get("dryRun")) throw badRequest("dryRun is not supported by the stand-in API server");
      if (path.watch || (method === "GET" && ["true", "1"].includes(query.get("watch") ?? ""))) return startWatch(ctx, req, res, record, path, query);
      const contentType = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
      const [status, body] = answer(ctx, method, path, contentType, parseBody(raw, contentType), query);
      send(res, record, status, body);
    } catch (error) {
      fail(error);
    }
  }, fail);
}
