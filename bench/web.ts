// The web UI's weight and build time: what index.html makes a browser load before any
// interaction (its module script, the chunks it preloads, its stylesheets), each file raw,
// gzip and brotli, against the budget of 250 KB of gzipped JavaScript; and how long
// the build's web step takes (`npm run build` rebuilding web/dist from scratch), next to the
// check it makes when nothing changed (what `npm start` pays every time).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { buildWeb } from "../scripts/build-web.mjs";
import { ms, table } from "./lib/format.ts";
import { REPO_ROOT } from "./lib/outpost.ts";

/** The budget, in bytes (decimal kilobytes: the stricter reading). */
export const INITIAL_JS_GZIP_BUDGET = 250_000;

export interface WebAsset {
  path: string;
  kind: "js" | "css";
  raw: number;
  gzip: number;
  brotli: number;
}

export interface WebResults {
  assets: WebAsset[];
  buildMs: number;
  freshCheckMs: number;
}

const DIST = join(REPO_ROOT, "web", "dist");

/** The files index.html loads up front: module scripts, modulepreloads, stylesheets. */
export function initialAssets(html: string): { path: string; kind: "js" | "css" }[] {
  const found: { path: string; kind: "js" | "css" }[] = [];
  for (const tag of html.match(/<(script|link)\b[^>]*>/g) ?? []) {
    const url = /\b(?:src|href)="(\/[^"]+)"/.exec(tag)?.[1];
    if (!url) continue;
    if (tag.startsWith("<script") && /type="module"/.test(tag)) found.push({ path: url, kind: "js" });
    else if (/rel="modulepreload"/.test(tag)) found.push({ path: url, kind: "js" });
    else if (/rel="stylesheet"/.test(tag)) found.push({ path: url, kind: "css" });
  }
  return found;
}

export async function benchWeb(progress: (line: string) => void): Promise<WebResults> {
  progress("building web/dist from scratch (vite build, then .br/.gz twins)");
  const started = performance.now();
  await buildWeb({ force: true });
  const buildMs = performance.now() - started;
  const checkStarted = performance.now();
  const outcome = await buildWeb();
  const freshCheckMs = performance.now() - checkStarted;
  if (outcome !== "fresh") throw new Error(`a second build step right after a build should find web/dist fresh, not ${outcome}`);
  const html = readFileSync(join(DIST, "index.html"), "utf8");
  const assets = initialAssets(html).map(({ path, kind }) => {
    const body = readFileSync(join(DIST, path));
    return {
      path,
      kind,
      raw: body.length,
      gzip: gzipSync(body, { level: 9 }).length,
      brotli: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  });
  return { assets, buildMs, freshCheckMs };
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

export function webReport({ assets, buildMs, freshCheckMs }: WebResults): string {
  const sum = (list: WebAsset[], key: "raw" | "gzip" | "brotli") => list.reduce((total, a) => total + a[key], 0);
  const js = assets.filter((a) => a.kind === "js");
  const css = assets.filter((a) => a.kind === "css");
  const jsGzip = sum(js, "gzip");
  const rows = [
    ["initial asset of /", "raw", "gzip", "brotli"],
    ...assets.map((a) => [a.path, kb(a.raw), kb(a.gzip), kb(a.brotli)]),
    ["JavaScript total", kb(sum(js, "raw")), kb(jsGzip), kb(sum(js, "brotli"))],
    ["CSS total", kb(sum(css, "raw")), kb(sum(css, "gzip")), kb(sum(css, "brotli"))],
  ];
  const verdict = jsGzip <= INITIAL_JS_GZIP_BUDGET ? "within" : "OVER";
  return [
    "Web UI: what / loads before any interaction (pages, dialogs and sandbox tabs are chunks loaded on use)",
    table(rows),
    `  initial JavaScript ${kb(jsGzip)} gzip: ${verdict} the ${kb(INITIAL_JS_GZIP_BUDGET)} budget (${((jsGzip / INITIAL_JS_GZIP_BUDGET) * 100).toFixed(0)}%)`,
    `  build's web step: ${ms(buildMs)} from scratch; ${freshCheckMs.toFixed(1)} ms when nothing changed (each npm start)`,
    "",
  ].join("\n");
}

export const webOverBudget = (results: WebResults) =>
  results.assets.filter((a) => a.kind === "js").reduce((total, a) => total + a.gzip, 0) > INITIAL_JS_GZIP_BUDGET;
