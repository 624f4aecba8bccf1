#!/usr/bin/env node
// The `outpost` command. The real code is bundled into dist/ by `npm run build`
// (npm runs it on install); this stub only explains what to do when it is missing.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/outpost.js", import.meta.url);
if (!existsSync(bundle)) {
  console.error("outpost: dist/outpost.js is missing; run `npm run build` (or `npm install`) first");
  process.exit(2);
}
await import(bundle.href);
