// Turns a template's pieces into a tree for the test renderer of the Helm chart. The control
// structures are Go's if / else if / else, with, range (over a list or a map, optionally
// binding `$value` or `$key, $value`) and top-level define; `template`, `block`, `break`,
// `continue`, variable declarations elsewhere and `else with` are outside the subset and throw.
import { type Piece, TemplateError, type Token, tokenize } from "./lexer.ts";

export type Operand =
  | { kind: "field"; path: string[] }
  | { kind: "variable"; name: string; path: string[] }
  | { kind: "literal"; value: string | number | boolean | null }
  | { kind: "function"; name: string }
  | { kind: "pipeline"; pipeline: Pipeline };

export interface Command {
  operands: Operand[];
}

export interface Pipeline {
  commands: Command[];
  where: string;
}

export type Node =
  | { type: "text"; text: string }
  | { type: "output"; pipeline: Pipeline }
  | { type: "if"; branches: { condition: Pipeline; body: Node[] }[]; otherwise: Node[] }
  | { type: "with"; pipeline: Pipeline; body: Node[]; otherwise: Node[] }
  | { type: "range"; keyVariable: string | null; valueVariable: string | null; pipeline: Pipeline; body: Node[]; otherwise: Node[] };

export interface ParsedTemplate {
  body: Node[];
  defines: Map<string, Node[]>;
}

const UNSUPPORTED_KEYWORDS = new Set(["template", "block", "break", "continue"]);

/** Parses one file: its output nodes and the named templates it defines. */
export function parseTemplate(pieces: Piece[]): ParsedTemplate {
  const defines = new Map<string, Node[]>();
  const parser = new Parser(pieces, defines);
  const { nodes, stop } = parser.list(true);
  if (stop) throw new TemplateError(stop.where, `unexpected {{ ${stop.keyword} }}`);
  return { body: nodes, defines };
}

interface Stop {
  keyword: "end" | "else";
  tokens: Token[];
  where: string;
}

class Parser {
  #index = 0;

  constructor(
    private readonly pieces: Piece[],
    private readonly defines: Map<string, Node[]>,
  ) {}

  /** Nodes up to the next {{ end }} or {{ else … }} (returned as `stop`), or the end of input. */
  list(topLevel = false): { nodes: Node[]; stop: Stop | null } {
    const nodes: Node[] = [];
    while (this.#index < this.pieces.length) {
      const piece = this.pieces[this.#index++]!;
      if (piece.kind === "text") {
        nodes.push({ type: "text", text: piece.text });
        continue;
      }
      const tokens = tokenize(piece.source, piece.where);
      const first = tokens[0];
      const keyword = first?.kind === "ident" ? first.name : null;
      if (keyword === "end" || keyword === "else") return { nodes, stop: { keyword, tokens: tokens.slice(1), where: piece.where } };
      if (keyword === "if") nodes.push(this.#if(tokens.slice(1), piece.where));
      else if (keyword === "with") nodes.push(this.#with(tokens.slice(1), piece.where));
      else if (keyword === "range") nodes.push(this.#range(tokens.slice(1), piece.where));
      else if (keyword === "define") {
        if (!topLevel) throw new TemplateError(piece.where, "define is allowed at the top level only");
        this.#define(tokens.slice(1), piece.where);
      } else if (keyword !== null && UNSUPPORTED_KEYWORDS.has(keyword))
        throw new TemplateError(piece.where, `{{ ${keyword} }} is outside the supported subset`);
      else {
        if (tokens[0]?.kind === "variable" && tokens[1]?.kind === "punct" && tokens[1].value === ":=") {
          throw new TemplateError(piece.where, "variables can only be declared by range ($key, $value := …)");
        }
        nodes.push({ type: "output", pipeline: parsePipeline(tokens, piece.where) });
      }
    }
    return { nodes, stop: null };
  }

  #if(tokens: Token[], where: string): Node {
    const branches: { condition: Pipeline; body: Node[] }[] = [];
    let condition = parsePipeline(tokens, where);
    for (;;) {
      const { nodes, stop } = this.list();
      if (!stop) throw new TemplateError(where, "if without {{ end }}");
      branches.push({ condition, body: nodes });
      if (stop.keyword === "end") {
        if (stop.tokens.length > 0) throw new TemplateError(stop.where, "{{ end }} takes nothing");
        return { type: "if", branches, otherwise: [] };
      }
      const next = stop.tokens[0];
      if (next?.kind === "ident" && next.name === "if") {
        condition = parsePipeline(stop.tokens.slice(1), stop.where);
        continue;
      }
      if (stop.tokens.length > 0) throw new TemplateError(stop.where, "only {{ else }} and {{ else if … }} are supported");
      return { type: "if", branches, otherwise: this.#finalBranch(where) };
    }
  }

  #with(tokens: Token[], where: string): Node {
    const pipeline = parsePipeline(tokens, where);
    const { body, otherwise } = this.#bodyAndElse(where);
    return { type: "with", pipeline, body, otherwise };
  }

  #range(tokens: Token[], where: string): Node {
    let keyVariable: string | null = null;
    let valueVariable: string | null = null;
    const assign = tokens.findIndex((token) => token.kind === "punct" && token.value === ":=");
    if (assign !== -1) {
      const declared = tokens.slice(0, assign);
      const names = declared.filter((token) => !(token.kind === "punct" && token.value === ","));
      const wellFormed =
        names.every((token) => token.kind === "variable" && token.path.length === 0 && token.name !== "$") &&
        (declared.length === 1 || (declared.length === 3 && declared[1]?.kind === "punct"));
      if (!wellFormed) throw new TemplateError(where, "range declares `$value :=` or `$key, $value :=`");
      const variableNames = names.map((token) => (token as { name: string }).name);
      if (variableNames.length === 1) valueVariable = variableNames[0]!;
      else [keyVariable, valueVariable] = [variableNames[0]!, variableNames[1]!];
    }
    const pipeline = parsePipeline(tokens.slice(assign + 1), where);
    const { body, otherwise } = this.#bodyAndElse(where);
    return { type: "range", keyVariable, valueVariable, pipeline, body, otherwise };
  }

  #define(tokens: Token[], where: string): void {
    const name = tokens[0];
    if (tokens.length !== 1 || name?.kind !== "string") throw new TemplateError(where, 'define takes one name: {{ define "name" }}');
    if (this.defines.has(name.value)) throw new TemplateError(where, `template ${name.value} is defined twice`);
    const { nodes, stop } = this.list();
    if (stop?.keyword !== "end" || stop.tokens.length > 0) throw new TemplateError(where, `define ${name.value} needs a plain {{ end }}`);
    this.defines.set(name.value, nodes);
  }

  #bodyAndElse(where: string): { body: Node[]; otherwise: Node[] } {
    const { nodes, stop } = this.list();
    if (!stop) throw new TemplateError(where, "missing {{ end }}");
    if (stop.keyword === "end") {
      if (stop.tokens.length > 0) throw new TemplateError(stop.where, "{{ end }} takes nothing");
      return { body: nodes, otherwise: [] };
    }
    if (stop.tokens.length > 0) throw new TemplateError(stop.where, "only a plain {{ else }} is supported here");
    return { body: nodes, otherwise: this.#finalBranch(where) };
  }

  #finalBranch(where: string): Node[] {
    const { nodes, stop } = this.list();
    if (stop?.keyword !== "end" || stop.tokens.length > 0) throw new TemplateError(where, "{{ else }} must be followed by {{ end }}");
    return nodes;
  }
}

/** `a b | c d (e f)`: commands separated by `|`, each a function call or a single operand. */
export function parsePipeline(tokens: Token[], where: string): Pipeline {
  if (tokens.length === 0) throw new TemplateError(where, "missing value");
  const commands: Command[] = [];
  let operands: Operand[] = [];
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index]!;
    if (token.kind === "punct" && token.value === "|") {
      if (operands.length === 0) throw new TemplateError(where, "empty command in pipeline");
      commands.push({ operands });
      operands = [];
      index += 1;
      continue;
    }
    if (token.kind === "punct" && token.value === "(") {
      const close = matchingParen(tokens, index, where);
      operands.push({ kind: "pipeline", pipeline: parsePipeline(tokens.slice(index + 1, close), where) });
      index = close + 1;
      continue;
    }
    if (token.kind === "punct") throw new TemplateError(where, `unexpected ${token.value}`);
    operands.push(operandOf(token));
    index += 1;
  }
  if (operands.length === 0) throw new TemplateError(where, "empty command in pipeline");
  commands.push({ operands });
  return { commands, where };
}

function operandOf(token: Exclude<Token, { kind: "punct" }>): Operand {
  switch (token.kind) {
    case "field":
      return { kind: "field", path: token.path };
    case "variable":
      return { kind: "variable", name: token.name, path: token.path };
    case "string":
    case "number":
      return { kind: "literal", value: token.value };
    case "ident":
      if (token.name === "true" || token.name === "false") return { kind: "literal", value: token.name === "true" };
      if (token.name === "nil") return { kind: "literal", value: null };
      return { kind: "function", name: token.name };
  }
}

function matchingParen(tokens: Token[], open: number, where: string): number {
  let depth = 0;
  for (let index = open; index < tokens.length; index += 1) {
    const token = tokens[index]!;
    if (token.kind !== "punct") continue;
    if (token.value === "(") depth += 1;
    if (token.value === ")") depth -= 1;
    if (depth === 0) return index;
  }
  throw new TemplateError(where, "unbalanced parentheses");
}
