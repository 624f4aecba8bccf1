// Runs a parsed template against its data, as Go's text/template does for the subset the chart
// uses. One deliberate difference: reading a key that is not there throws (like
// `helm lint --strict`) instead of giving nil, so a misspelt value fails the chart test.

import { FUNCTIONS } from "./functions.ts";
import { TemplateError } from "./lexer.ts";
import type { Node, Operand, Pipeline } from "./parser.ts";
import { isDictionary, isTrue, printed, typeName } from "./values.ts";

interface Scope {
  dot: unknown;
  variables: ReadonlyMap<string, unknown>;
  depth: number;
}

const MAX_INCLUDE_DEPTH = 100;

export class Evaluator {
  constructor(private readonly defines: ReadonlyMap<string, Node[]>) {}

  /** The text `nodes` produce with `dot` as `.` and `$`. */
  render(nodes: Node[], dot: unknown): string {
    return this.#nodes(nodes, { dot, variables: new Map([["$", dot]]), depth: 0 });
  }

  #nodes(nodes: Node[], scope: Scope): string {
    let out = "";
    for (const node of nodes) out += this.#node(node, scope);
    return out;
  }

  #node(node: Node, scope: Scope): string {
    switch (node.type) {
      case "text":
        return node.text;
      case "output":
        return printed(this.#pipeline(node.pipeline, scope), node.pipeline.where);
      case "if": {
        for (const branch of node.branches) {
          if (isTrue(this.#pipeline(branch.condition, scope))) return this.#nodes(branch.body, scope);
        }
        return this.#nodes(node.otherwise, scope);
      }
      case "with": {
        const value = this.#pipeline(node.pipeline, scope);
        return isTrue(value) ? this.#nodes(node.body, { ...scope, dot: value }) : this.#nodes(node.otherwise, scope);
      }
      case "range": {
        const value = this.#pipeline(node.pipeline, scope);
        const entries = rangeEntries(value, node.pipeline.where);
        if (entries.length === 0) return this.#nodes(node.otherwise, scope);
        let out = "";
        for (const [key, element] of entries) {
          const variables = new Map(scope.variables);
          if (node.keyVariable) variables.set(node.keyVariable, key);
          if (node.valueVariable) variables.set(node.valueVariable, element);
          out += this.#nodes(node.body, { ...scope, dot: element, variables });
        }
        return out;
      }
    }
  }

  #pipeline(pipeline: Pipeline, scope: Scope): unknown {
    let previous: { value: unknown } | null = null;
    for (const command of pipeline.commands) {
      const [head, ...rest] = command.operands;
      if (head?.kind === "function") {
        const args = rest.map((operand) => () => this.#operand(operand, scope, pipeline.where));
        if (previous) {
          const passed = previous.value;
          args.push(() => passed);
        }
        previous = { value: this.#call(head.name, args, scope, pipeline.where) };
        continue;
      }
      if (!head || rest.length > 0) throw new TemplateError(pipeline.where, "only a function takes arguments");
      if (previous) throw new TemplateError(pipeline.where, "a pipeline passes its value to functions only");
      previous = { value: this.#operand(head, scope, pipeline.where) };
    }
    return previous?.value;
  }

  #operand(operand: Operand, scope: Scope, where: string): unknown {
    switch (operand.kind) {
      case "literal":
        return operand.value;
      case "field":
        return walk(scope.dot, operand.path, where);
      case "variable": {
        if (!scope.variables.has(operand.name)) throw new TemplateError(where, `undefined variable ${operand.name}`);
        return walk(scope.variables.get(operand.name), operand.path, where, operand.name);
      }
      case "pipeline":
        return this.#pipeline(operand.pipeline, scope);
      case "function":
        throw new TemplateError(where, `call ${operand.name} in parentheses when it is an argument`);
    }
  }

  #call(name: string, args: (() => unknown)[], scope: Scope, where: string): unknown {
    if (name === "and" || name === "or") {
      if (args.length < 2) throw new TemplateError(where, `${name} takes at least two arguments`);
      let value: unknown;
      for (const arg of args) {
        value = arg();
        if (isTrue(value) === (name === "or")) return value;
      }
      return value;
    }
    if (name === "include") {
      if (args.length !== 2) throw new TemplateError(where, 'include takes a name and a value: include "name" .');
      const template = args[0]!();
      if (typeof template !== "string") throw new TemplateError(where, "include's first argument is a template name");
      const body = this.defines.get(template);
      if (!body) throw new TemplateError(where, `no template named ${template}`);
      if (scope.depth >= MAX_INCLUDE_DEPTH) throw new TemplateError(where, `include nested more than ${MAX_INCLUDE_DEPTH} deep`);
      const dot = args[1]!();
      return this.#nodes(body, { dot, variables: new Map([["$", dot]]), depth: scope.depth + 1 });
    }
    const fn = FUNCTIONS[name];
    if (!fn) throw new TemplateError(where, `function ${name} is outside the supported subset`);
    return fn(
      args.map((arg) => arg()),
      where,
    );
  }
}

function walk(start: unknown, path: string[], where: string, origin = ""): unknown {
  let current = start;
  for (const [index, key] of path.entries()) {
    const so = `${origin}.${path.slice(0, index + 1).join(".")}`;
    if (current === null || current === undefined) throw new TemplateError(where, `nil pointer evaluating ${so}`);
    if (!isDictionary(current)) throw new TemplateError(where, `can't read field ${key} of a ${typeName(current)} (${so})`);
    if (!Object.hasOwn(current, key)) throw new TemplateError(where, `${so} is not set (values.yaml must define every key the templates read)`);
    current = current[key];
  }
  return current;
}

/** [key, element] pairs: a list's indexes, a map's keys in sorted order (as Go does). */
function rangeEntries(value: unknown, where: string): [unknown, unknown][] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map((element, index) => [index, element]);
  if (isDictionary(value)) {
    return Object.keys(value)
      .sort()
      .map((key) => [key, value[key]]);
  }
  throw new TemplateError(where, `range over a ${typeName(value)} is outside the subset`);
}
