// The layers of the control plane, checked by `npm run lint` (docs/architecture.md, "Layers"):
//   api → services → (reconciler | drivers | store | supervisor client) → domain
// plus: no cycles; the in-sandbox supervisor imports nothing of the control plane but the
// protocol; the CLI talks HTTP and never loads the server; only the composition roots
// (server.ts and src/startup/, doctor.ts, the CLI's serve and doctor commands) may
// reach into every layer.
const ROOTS = "^src/(server|doctor)\\.ts$|^src/startup/|^src/cli/commands/(serve|doctor)\\.ts$";
const LEAVES = "^src/(package-root|version|logger|random)\\.ts$";
const PROTOCOL = "^src/supervisor/(protocol|protocol-schemas|protocol-values|frames|ndjson)\\.ts$|^src/supervisor/link/(preface|versions)\\.ts$";

/** A rule: files matching `from` may import only `allowed` (and npm packages / node builtins). */
const layer = (name, from, allowed) => ({
  name,
  severity: "error",
  comment: `${name}: may import only ${allowed}`,
  from: { path: from, pathNot: ROOTS },
  to: { path: "^src/", pathNot: `${allowed}|${LEAVES}` },
});

module.exports = {
  forbidden: [
    // No cycles, type-only imports included: a loop of types is still a loop to read.
    { name: "no-cycles", severity: "error", from: { path: "^src/" }, to: { circular: true } },
    layer("domain-is-pure", "^src/domain/", "^src/domain/"),
    layer("schemas", "^src/schemas/", "^src/(schemas|domain)/"),
    layer("supervisor-daemon-only-protocol", "^src/supervisor/daemon/", `^src/supervisor/daemon/|${PROTOCOL}`),
    layer("supervisor-protocol", PROTOCOL, PROTOCOL),
    layer("supervisor-client", "^src/supervisor/(client[^/]*\\.ts|link/)", `^src/supervisor/(client[^/]*\\.ts|link/)|${PROTOCOL}`),
    layer("store", "^src/store/", "^src/(store|domain|config)/"),
    layer("crypto", "^src/crypto/", "^src/(crypto|domain)/"),
    layer("config", "^src/config/", "^src/(config|domain|crypto)/"),
    layer("db", "^src/db/", "^src/(db|config|domain)/"),
    layer("drivers", "^src/drivers/", `^src/(drivers|domain)/|^src/supervisor/(client[^/]*\\.ts|link/)|${PROTOCOL}`),
    layer("reconciler", "^src/reconciler/", `^src/(reconciler|domain|store)/|^src/drivers/(driver|errors)\\.ts$|^src/supervisor/link/registry\\.ts$`),
    layer("services", "^src/services/", `^src/(services|domain|store|crypto)/|^src/drivers/(driver|errors)\\.ts$|^src/supervisor/(client[^/]*\\.ts|link/)|${PROTOCOL}`),
    // The egress proxy and model gateway: an edge like api/, serving sandboxes instead of people.
    layer("egress", "^src/egress/", "^src/(egress|services|domain|crypto|config)/"),
    layer("api", "^src/api/", `^src/(api|services|schemas|domain|config)/|${PROTOCOL}`),
    layer("cli-speaks-http", "^src/cli/", `^src/(cli|config|domain|schemas)/|${PROTOCOL}`),
    // The CLI uses the API's types, never its zod schemas at run time.
    {
      name: "cli-uses-api-types-only",
      severity: "error",
      from: { path: "^src/cli/", pathNot: ROOTS },
      to: { path: "^src/schemas/", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
