// The template functions the chart may use, with helm's (sprig's) meaning. Arguments arrive
// as in Go: `x | f a` calls f(a, x). Types Go would refuse (a number where a string is
// expected, `eq` across kinds) throw here too. `include`, `and` and `or` live in the
// evaluator, which they need (a named template; arguments evaluated only as far as needed).
import { stringify } from "yaml";
import { TemplateError } from "./lexer.ts";
import { isDictionary, isTrue, printed, typeName } from "./values.ts";

/** Thrown by `required`: the chart refused the values (not a template bug). */
export class RequiredValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequiredValueError";
  }
}

type TemplateFunction = (args: unknown[], where: string) => unknown;

export const FUNCTIONS: Record<string, TemplateFunction> = {
  quote: (args, where) =>
    args
      .filter((arg) => arg !== null && arg !== undefined)
      .map((arg) => JSON.stringify(printed(arg, where)))
      .join(" "),
  default: (args, where) => {
    arity("default", args, 1, 2, where);
    const [fallback, given] = args;
    return args.length === 2 && isTrue(given) ? given : fallback;
  },
  required: (args, where) => {
    arity("required", args, 2, 2, where);
    const [message, value] = args;
    if (value === null || value === undefined || value === "") throw new RequiredValueError(String(message));
    return value;
  },
  toYaml: (args, where) => {
    arity("toYaml", args, 1, 1, where);
    // Helm's toYaml: keys sorted (it goes through JSON), lists not indented under their key,
    // no trailing newline.
    return stringify(args[0] ?? null, { sortMapEntries: true, indentSeq: false, lineWidth: 0 }).replace(/\n$/, "");
  },
  indent: (args, where) => {
    arity("indent", args, 2, 2, where);
    return indent(count(args[0], where), text(args[1], "indent", where));
  },
  nindent: (args, where) => {
    arity("nindent", args, 2, 2, where);
    return `\n${indent(count(args[0], where), text(args[1], "nindent", where))}`;
  },
  b64enc: (args, where) => {
    arity("b64enc", args, 1, 1, where);
    return Buffer.from(text(args[0], "b64enc", where)).toString("base64");
  },
  trunc: (args, where) => {
    arity("trunc", args, 2, 2, where);
    return [...text(args[1], "trunc", where)].slice(0, count(args[0], where)).join("");
  },
  trimSuffix: (args, where) => {
    arity("trimSuffix", args, 2, 2, where);
    const suffix = text(args[0], "trimSuffix", where);
    const value = text(args[1], "trimSuffix", where);
    return suffix !== "" && value.endsWith(suffix) ? value.slice(0, -suffix.length) : value;
  },
  printf: (args, where) => {
    const [format, ...rest] = args;
    return printf(text(format, "printf", where), rest, where);
  },
  eq: (args, where) => {
    if (args.length < 2) throw new TemplateError(where, "eq takes at least two arguments");
    const [first, ...others] = args;
    return others.some((other) => {
      checkComparable(first, other, where);
      return first === other;
    });
  },
  ne: (args, where) => {
    arity("ne", args, 2, 2, where);
    checkComparable(args[0], args[1], where);
    return args[0] !== args[1];
  },
  not: (args, where) => {
    arity("not", args, 1, 1, where);
    return !isTrue(args[0]);
  },
};

function arity(name: string, args: unknown[], min: number, max: number, where: string): void {
  if (args.length < min || args.length > max)
    throw new TemplateError(where, `${name} takes ${min === max ? min : `${min} or ${max}`} arguments, got ${args.length}`);
}

function text(value: unknown, name: string, where: string): string {
  if (typeof value !== "string") throw new TemplateError(where, `${name} wants a string, got a ${typeName(value)}`);
  return value;
}

function count(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new TemplateError(where, `wants a count (0 or more), got ${String(value)}`);
  return value;
}

function indent(spaces: number, value: string): string {
  const pad = " ".repeat(spaces);
  return pad + value.replaceAll("\n", `\n${pad}`);
}

/** eq/ne compare strings with strings and booleans with booleans; numbers are out: helm's
 * values are float64 and template literals int, which Go refuses to compare. */
function checkComparable(left: unknown, right: unknown, where: string): void {
  for (const value of [left, right]) {
    if (typeof value !== "string" && typeof value !== "boolean") throw new TemplateError(where, `eq/ne compare strings or booleans, not a ${typeName(value)}`);
  }
  if (typeof left !== typeof right) throw new TemplateError(where, `eq/ne: incompatible types ${typeName(left)} and ${typeName(right)}`);
}

/** %s (strings), %v (strings, booleans, small numbers) and %%; other verbs throw. */
function printf(format: string, args: unknown[], where: string): string {
  let next = 0;
  const out = format.replace(/%(.)/g, (_match, verb: string) => {
    if (verb === "%") return "%";
    if (verb !== "s" && verb !== "v") throw new TemplateError(where, `printf %${verb} is outside the subset (use %s or %v)`);
    if (next >= args.length) throw new TemplateError(where, "printf has more verbs than arguments");
    const arg = args[next++];
    if (verb === "s" && typeof arg !== "string") throw new TemplateError(where, `printf %s wants a string, got a ${typeName(arg)}`);
    if (isDictionary(arg) || Array.isArray(arg)) throw new TemplateError(where, "printf of a map or list is outside the subset");
    return printed(arg, where);
  });
  if (next !== args.length) throw new TemplateError(where, "printf has more arguments than verbs");
  return out;
}
