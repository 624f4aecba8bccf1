// The web UI's API types (web/src/api/schema.d.ts) are generated from the server's OpenAPI
// document. A route or schema changed without regenerating them leaves the UI compiling
// against an API that no longer exists: this test regenerates them and compares.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { SCHEMA_TYPES_PATH, schemaTypes, serverOpenApiDocument } from "../../scripts/openapi.ts";

test("web/src/api/schema.d.ts matches the server's OpenAPI document (else run `npm run openapi`)", async () => {
  const document = await serverOpenApiDocument();
  assert.ok(document.paths?.["/api/v1/projects"], "the document describes the projects");
  const fresh = await schemaTypes(document);
  const committed = readFileSync(SCHEMA_TYPES_PATH, "utf8");
  if (committed !== fresh) {
    const a = committed.split("\n");
    const b = fresh.split("\n");
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.fail(
      `web/src/api/schema.d.ts is stale: run \`npm run openapi\` and commit it. First difference at line ${line + 1}:\n  committed: ${a[line]}\n  generated: ${b[line]}`,
    );
  }
});
