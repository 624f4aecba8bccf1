// The supervisor's version is the package's: inlined from package.json at bundle time
// (esbuild), because inside a sandbox there is no package.json to read.
import packageJson from "../../../package.json" with { type: "json" };

export const SUPERVISOR_VERSION: string = packageJson.version;
