// Bundles the TypeScript sources into dist/ with esbuild (fast enough to run before every
// `npm start`). Type checking is separate: `npm run lint` runs `tsc --noEmit`.
//   dist/outpost.js     the control plane and CLI; npm dependencies stay external.
//   dist/supervisor.js  the in-sandbox daemon, self-contained (no node_modules inside a sandbox).
import { existsSync } from "node:fs";
import { build } from "esbuild";

const common = { bundle: true, platform: "node", target: "node20", format: "esm", sourcemap: "linked", logLevel: "warning" };
// esbuild's ESM output needs `require` for the few CommonJS dependencies it inlines.
const banner = { js: "import { createRequire as __outpostCreateRequire } from 'node:module'; const require = __outpostCreateRequire(import.meta.url);" };

await build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/outpost.js", packages: "external", banner });
if (existsSync("src/supervisor/daemon/main.ts")) {
  await build({ ...common, entryPoints: ["src/supervisor/daemon/main.ts"], outfile: "dist/supervisor.js", banner });
}
