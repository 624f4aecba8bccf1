// Splits a Helm template into text and `{{ … }}` actions, and an action into tokens, for the
// test renderer of deploy/helm/outpost (helm itself cannot be installed here). It follows Go's
// text/template rules for the parts the chart uses: `{{-`/`-}}` trim the whitespace next to
// them, comments are `{{/* … */}}`, strings are "…" or `…`. Anything else throws, so a chart
// edit reaching past the subset fails its test instead of rendering differently from helm.

export class TemplateError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "TemplateError";
  }
}

export type Piece = { kind: "text"; text: string } | { kind: "action"; source: string; where: string };

export type Token =
  | { kind: "field"; path: string[] } // `.` is an empty path, `.Values.x` is ["Values", "x"]
  | { kind: "variable"; name: string; path: string[] } // `$`, `$key`, `$.Values.x`
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "ident"; name: string } // function names, keywords, true/false/nil
  | { kind: "punct"; value: "(" | ")" | "|" | ":=" | "," };

const SPACE = /[ \t\r\n]/;

/** Text and actions in order; comments dropped and trim markers applied. */
export function splitTemplate(source: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let position = 0;
  let trimNextText = false;
  while (position < source.length) {
    const open = source.indexOf("{{", position);
    let text = source.slice(position, open === -1 ? source.length : open);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, "");
    trimNextText = false;
    if (open === -1) {
      pieces.push({ kind: "text", text });
      break;
    }
    const where = `${file}:${lineOf(source, open)}`;
    let start = open + 2;
    // Go's left trim marker is "{{- " (the dash needs whitespace after it: "{{-3" is a number).
    if (source[start] === "-" && SPACE.test(source[start + 1] ?? "")) {
      text = text.replace(/[ \t\r\n]+$/, "");
      start += 2;
    }
    pieces.push({ kind: "text", text });
    const { end, inner } = actionEnd(source, start, where);
    let body = inner;
    // The right trim marker is " -}}".
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -1);
      trimNextText = true;
    }
    position = end;
    const trimmed = body.trim();
    if (trimmed.startsWith("/*")) continue;
    if (trimmed === "") throw new TemplateError(where, "empty action {{ }}");
    pieces.push({ kind: "action", source: trimmed, where });
  }
  return pieces.filter((piece) => piece.kind === "action" || piece.text !== "");
}

/** Where the action starting at `start` closes, skipping `}}` inside strings and comments. */
function actionEnd(source: string, start: number, where: string): { end: number; inner: string } {
  // Go's comments start right after "{{" or "{{- " and end right before "}}" or " -}}".
  if (source.startsWith("/*", start)) {
    const close = source.indexOf("*/", start + 2);
    if (close === -1) throw new TemplateError(where, "unclosed comment");
    const after = close + 2;
    if (source.startsWith("}}", after)) return { end: after + 2, inner: source.slice(start, after) };
    if (/^[ \t\r\n]-\}\}/.test(source.slice(after, after + 4))) return { end: after + 4, inner: source.slice(start, after + 2) };
    throw new TemplateError(where, "a comment must end with */}} or */ -}}");
  }
  if (/^[ \t\r\n]*\/\*/.test(source.slice(start, start + 50))) throw new TemplateError(where, 'a comment must start right after "{{" or "{{- "');
  let index = start;
  while (index < source.length) {
    const char = source[index];
    if (char === '"' || char === "`") {
      index = stringEnd(source, index, where);
      continue;
    }
    if (source.startsWith("}}", index)) return { end: index + 2, inner: source.slice(start, index) };
    index += 1;
  }
  throw new TemplateError(where, "unclosed action: no }}");
}

function stringEnd(source: string, open: number, where: string): number {
  const quote = source[open];
  let index = open + 1;
  while (index < source.length) {
    const char = source[index];
    if (quote === '"' && char === "\\") index += 2;
    else if (char === quote) return index + 1;
    else if (quote === '"' && char === "\n") break;
    else index += 1;
  }
  throw new TemplateError(where, "unterminated string");
}

function lineOf(source: string, index: number): number {
  return source.slice(0, index).split("\n").length;
}

/** The tokens of one action's source (without the braces and trim markers). */
export function tokenize(source: string, where: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < source.length) {
    const rest = source.slice(index);
    const space = rest.match(/^[ \t\r\n]+/);
    if (space) {
      index += space[0].length;
      continue;
    }
    const punct = rest.match(/^(:=|[()|,])/);
    if (punct) {
      tokens.push({ kind: "punct", value: punct[0] as "(" | ")" | "|" | ":=" | "," });
      index += punct[0].length;
      continue;
    }
    const field = rest.match(/^(\.[A-Za-z_][A-Za-z0-9_]*)+|^\./);
    if (field) {
      const previous = tokens.at(-1);
      if (previous?.kind === "punct" && previous.value === ")" && source[index - 1] === ")") {
        throw new TemplateError(where, "fields of a parenthesized value, (…).Field, are outside the subset");
      }
      tokens.push({ kind: "field", path: field[0] === "." ? [] : field[0].slice(1).split(".") });
      index += field[0].length;
      continue;
    }
    const variable = rest.match(/^\$([A-Za-z_][A-Za-z0-9_]*)?((\.[A-Za-z_][A-Za-z0-9_]*)*)/);
    if (variable) {
      tokens.push({ kind: "variable", name: `$${variable[1] ?? ""}`, path: variable[2] ? variable[2].slice(1).split(".") : [] });
      index += variable[0].length;
      continue;
    }
    if (rest[0] === '"') {
      const end = stringEnd(source, index, where);
      tokens.push({ kind: "string", value: goInterpretedString(source.slice(index, end), where) });
      index = end;
      continue;
    }
    if (rest[0] === "`") {
      const end = stringEnd(source, index, where);
      tokens.push({ kind: "string", value: source.slice(index + 1, end - 1) });
      index = end;
      continue;
    }
    const number = rest.match(/^-?[0-9]+(?![0-9A-Za-z_.])/);
    if (number) {
      tokens.push({ kind: "number", value: Number(number[0]) });
      index += number[0].length;
      continue;
    }
    const ident = rest.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (ident) {
      tokens.push({ kind: "ident", name: ident[0] });
      index += ident[0].length;
      continue;
    }
    throw new TemplateError(where, `unsupported syntax at ${JSON.stringify(rest.slice(0, 20))}`);
  }
  return tokens;
}

/** "…" with the escapes Go and JSON share (\" \\ \n \t); others (\x41, \u{…}, octal) throw. */
function goInterpretedString(literal: string, where: string): string {
  for (let index = 1; index < literal.length - 1; index += 1) {
    if (literal[index] !== "\\") continue;
    if (!'"\\nt'.includes(literal[index + 1] ?? "")) throw new TemplateError(where, `unsupported escape in ${literal}`);
    index += 1;
  }
  return JSON.parse(literal) as string;
}
