// The project's git token goes to its repository's host (Basic, as git sends it) on top of
// the credential's own rules; SSH repositories and other credentials are left alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Credential } from "../../src/domain/credentials.ts";
import { withRepositoryToken } from "../../src/services/egress.ts";

const token: Credential = {
  name: "GITHUB_TOKEN",
  value: "ghp_x",
  placeholder: "ghp_outpost-placeholder-0",
  inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }],
};
const other: Credential = { ...token, name: "OTHER", inject: [{ host: "api.example.com", header: "x-key", format: "raw" }] };

test("the token variable gets the repository host, as Basic auth", () => {
  const [withHost, untouched] = withRepositoryToken([token, other], "https://git.example.com:8443/acme/app.git", "GITHUB_TOKEN");
  assert.deepEqual(withHost?.inject, [...token.inject, { host: "git.example.com", header: "authorization", format: "basic" }]);
  assert.equal(untouched, other);
});

test("another token variable, an SSH or absent repository, or a rule already there: nothing added", () => {
  assert.deepEqual(withRepositoryToken([token], "https://git.example.com/a.git", "GIT_TOKEN"), [token]);
  assert.deepEqual(withRepositoryToken([token], "git@git.example.com:a.git", "GITHUB_TOKEN"), [token]);
  assert.deepEqual(withRepositoryToken([token], null, "GITHUB_TOKEN"), [token]);
  const already = { ...token, inject: [{ host: "git.example.com", header: "authorization", format: "bearer" as const }] };
  assert.deepEqual(withRepositoryToken([already], "https://git.example.com/a.git", "GITHUB_TOKEN"), [already]);
});
