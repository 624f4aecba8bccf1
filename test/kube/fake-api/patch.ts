// The patch formats a client can send, applied to a plain JSON object.
// - JSON merge patch (RFC 7386): maps merge, null deletes, anything else replaces.
// - Strategic merge patch is treated as a merge patch. The real one merges some lists by a key
//   (containers by name, for one); the stand-in replaces them. That is honest enough for
//   clients that send whole lists, which is what Outpost does.
// - Server-side apply is approximated the same way: the applied fields are merged in (maps
//   merged, lists replaced). Field ownership, conflicts between managers and the removal of
//   fields a manager stopped applying are not modelled.
// - JSON patch (RFC 6902), which the typed client APIs send unless told otherwise.
import { KubeApiError } from "./errors.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

const patchError = (message: string) => new KubeApiError(422, "Invalid", `the server rejected our request due to an error in our request: ${message}`);

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchError(`invalid JSON pointer "${path}"`);
  return path
    .slice(1)
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The container that holds the last token of a path, and that token. */
function parentOf(document: Json, path: string): { container: Json; token: string } {
  const tokens = pointer(path);
  const token = tokens.pop();
  if (token === undefined) throw patchError("the whole document cannot be a patch target here");
  let container: Json = document;
  for (const part of tokens) {
    const next: Json | undefined = Array.isArray(container) ? container[Number(part)] : isPlainObject(container) ? container[part] : undefined;
    if (next === undefined) throw patchError(`path "${path}" does not exist`);
    container = next;
  }
  return { container, token };
}

function read(document: Json, path: string): Json {
  const { container, token } = parentOf(document, path);
  const value = Array.isArray(container) ? container[Number(token)] : isPlainObject(container) ? container[token] : undefined;
  if (value === undefined) throw patchError(`path "${path}" does not exist`);
  return value;
}

function remove(document: Json, path: string): void {
  const { container, token } = parentOf(document, path);
  if (Array.isArray(container) && Number(token) < container.length) container.splice(Number(token), 1);
  else if (isPlainObject(container) && Object.hasOwn(container, token)) delete container[token];
  else throw patchError(`path "${path}" does not exist`);
}

function add(document: Json, path: string, value: Json, replace: boolean): void {
  const { container, token } = parentOf(document, path);
  if (Array.isArray(container)) {
    const index = token === "-" ? container.length : Number(token);
    if (!Number.isInteger(index) || index > container.length) throw patchError(`index "${token}" is out of range`);
    container.splice(index, replace ? 1 : 0, value);
  } else if (isPlainObject(container)) {
    if (replace && !Object.hasOwn(container, token)) throw patchError(`path "${path}" does not exist`);
    container[token] = value;
  } else throw patchError(`path "${path}" does not exist`);
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw patchError("a JSON patch must be a list of operations");
  const document = structuredClone(target) as Json;
  for (const operation of operations as Operation[]) {
    const value = structuredClone(operation.value) as Json;
    switch (operation.op) {
      case "add":
        add(document, operation.path, value, false);
        break;
      case "replace":
        add(document, operation.path, value, true);
        break;
      case "remove":
        remove(document, operation.path);
        break;
      case "move": {
        const moved = read(document, operation.from ?? "");
        remove(document, operation.from ?? "");
        add(document, operation.path, moved, false);
        break;
      }
      case "copy":
        add(document, operation.path, structuredClone(read(document, operation.from ?? "")), false);
        break;
      case "test":
        if (canonicalJson(read(document, operation.path)) !== canonicalJson(value)) throw patchError(`test failed at "${operation.path}"`);
        break;
      default:
        throw patchError(`unknown operation "${operation.op}"`);
    }
  }
  return document;
}

/** JSON with keys sorted, so two objects that differ only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const entries = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
