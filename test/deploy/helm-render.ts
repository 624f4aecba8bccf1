// Renders deploy/helm/outpost the way `helm template` would, for tests: helm cannot be
// installed on this machine or CI's, and a chart nobody renders breaks unnoticed. It knows
// exactly the template subset deploy/README.md lists (the go-template/ folder); anything
// beyond it throws, so a chart edit that needs more fails here rather than rendering wrong.
// A real cluster run (scripts/test-kubernetes-cluster.sh) uses helm itself.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parse } from "yaml";
import { Evaluator } from "./go-template/evaluate.ts";
import { splitTemplate } from "./go-template/lexer.ts";
import { type Node, parseTemplate } from "./go-template/parser.ts";
import { type Dictionary, isDictionary } from "./go-template/values.ts";

export { RequiredValueError } from "./go-template/functions.ts";
export { TemplateError } from "./go-template/lexer.ts";

export interface RenderOptions {
  release?: { name?: string; namespace?: string };
  /** Like `--set`/`-f`: merged over values.yaml (maps key by key, anything else replaced). */
  values?: Dictionary;
}

export interface RenderedChart {
  /** Rendered text by template path (e.g. "templates/deployment.yaml"); blank ones left out. */
  manifests: Map<string, string>;
  /** templates/NOTES.txt, what `helm install` prints. */
  notes: string;
}

/** Helm's release names: DNS-1123 labels of at most 53 characters. */
const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/;

export function renderChart(chartDir: string, options: RenderOptions = {}): RenderedChart {
  const name = options.release?.name ?? "outpost";
  const namespace = options.release?.namespace ?? "outpost";
  if (!RELEASE_NAME.test(name)) throw new Error(`invalid release name ${name}`);
  const chart = chartObject(parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Dictionary);
  const baseValues = (parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) ?? {}) as Dictionary;
  const values = mergeValues(baseValues, options.values ?? {});
  const root = {
    Values: values,
    Release: { Name: name, Namespace: namespace, Service: "Helm", IsInstall: true, IsUpgrade: false, Revision: 1 },
    Chart: chart,
  };

  const templatesDir = join(chartDir, "templates");
  const parsed = filesUnder(templatesDir).map((path) => {
    const file = relative(chartDir, path);
    return { file, ...parseTemplate(splitTemplate(readFileSync(path, "utf8"), file)) };
  });
  const defines = new Map<string, Node[]>();
  for (const template of parsed) {
    for (const [defined, body] of template.defines) {
      if (defines.has(defined)) throw new Error(`${template.file}: template ${defined} is defined in two files`);
      defines.set(defined, body);
    }
  }
  const evaluator = new Evaluator(defines);
  const manifests = new Map<string, string>();
  let notes = "";
  for (const template of parsed) {
    const text = evaluator.render(template.body, root);
    if (basename(template.file) === "NOTES.txt") notes = text;
    else if (!basename(template.file).startsWith("_") && text.trim() !== "") manifests.set(template.file, text);
  }
  return { manifests, notes };
}

/** Helm's .Chart: Chart.yaml's fields, capitalised (appVersion → AppVersion). */
function chartObject(chartYaml: Dictionary): Dictionary {
  const names: Record<string, string> = {
    apiVersion: "APIVersion",
    name: "Name",
    version: "Version",
    appVersion: "AppVersion",
    description: "Description",
    type: "Type",
  };
  return Object.fromEntries(Object.entries(chartYaml).flatMap(([key, value]) => (names[key] ? [[names[key], value]] : [])));
}

/**
 * Overrides over values.yaml. A key values.yaml lacks is refused unless its map is empty there
 * (a free-form map such as annotations): a misspelt override would otherwise test nothing.
 */
export function mergeValues(base: Dictionary, overrides: Dictionary, path = ""): Dictionary {
  const merged: Dictionary = { ...base };
  const freeForm = Object.keys(base).length === 0;
  for (const [key, value] of Object.entries(overrides)) {
    const where = path ? `${path}.${key}` : key;
    if (!freeForm && !Object.hasOwn(base, key)) throw new Error(`values.yaml has no ${where}`);
    const current = base[key];
    merged[key] = isDictionary(current) && isDictionary(value) ? mergeValues(current, value, where) : value;
  }
  return merged;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** Renders one template source on its own (tests of the renderer itself). */
export function renderTemplate(source: string, data: unknown, helpers = ""): string {
  const helperTemplate = parseTemplate(splitTemplate(helpers, "_helpers.tpl"));
  const template = parseTemplate(splitTemplate(source, "template"));
  const defines = new Map([...helperTemplate.defines, ...template.defines]);
  return new Evaluator(defines).render(template.body, data);
}
