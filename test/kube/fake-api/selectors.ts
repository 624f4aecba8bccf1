// Label and field selectors, parsed the way the API server reads `labelSelector=` and
// `fieldSelector=`; a selector that does not parse is a 400, as on a real server.
import { badRequest } from "./errors.ts";
import type { KubeObject } from "./types.ts";

type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!exists";
interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}
export type Matcher = (object: KubeObject) => boolean;

/** Splits on commas that are not inside "in (a,b)" lists. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (char === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

const KEY = "[A-Za-z0-9][-A-Za-z0-9_./]*";
const VALUE = "[-A-Za-z0-9_.]*";

function parseRequirement(text: string): Requirement {
  let match = new RegExp(`^!\\s*(${KEY})$`).exec(text);
  if (match) return { key: match[1]!, operator: "!exists", values: [] };
  match = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(text);
  if (match) {
    const values = match[3]!.split(",").map((value) => value.trim());
    return { key: match[1]!, operator: match[2] as "in" | "notin", values };
  }
  match = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(text);
  if (match) return { key: match[1]!, operator: match[2] === "!=" ? "!=" : "=", values: [match[3]!] };
  match = new RegExp(`^(${KEY})$`).exec(text);
  if (match) return { key: match[1]!, operator: "exists", values: [] };
  throw badRequest(`unable to parse requirement: ${text}`);
}

function satisfies(labels: Record<string, string>, requirement: Requirement): boolean {
  const present = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case "exists":
      return present;
    case "!exists":
      return !present;
    case "=":
    case "in":
      return present && requirement.values.includes(value!);
    case "!=":
    case "notin":
      return !present || !requirement.values.includes(value!);
  }
}

export function parseLabelSelector(text: string | undefined | null): Matcher {
  if (!text) return () => true;
  const requirements = splitTopLevel(text).map(parseRequirement);
  return (object) => requirements.every((requirement) => satisfies(object.metadata.labels ?? {}, requirement));
}

/** Fields a real server lets you select on, beyond metadata.name and metadata.namespace. */
const SELECTABLE_FIELDS: Record<string, string[]> = {
  Pod: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP"],
  Event: [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "source",
    "type",
  ],
  Secret: ["type"],
  Namespace: ["status.phase"],
};

function fieldValue(object: KubeObject, path: string): string {
  let value: unknown = object;
  for (const part of path.split(".")) value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  return value === undefined || value === null ? "" : String(value);
}

export function parseFieldSelector(text: string | undefined | null, kind: string): Matcher {
  if (!text) return () => true;
  const terms = splitTopLevel(text).map((term) => {
    const match = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const [, field, operator, value] = match as unknown as [string, string, string, string];
    const allowed = ["metadata.name", "metadata.namespace", ...(SELECTABLE_FIELDS[kind] ?? [])];
    if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: operator === "!=", value };
  });
  return (object) => terms.every((term) => (fieldValue(object, term.field) === term.value) !== term.negate);
}
