import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Credential, credentialPlaceholder, injectCredentials, PLACEHOLDER_PATTERN, parseInjectRule } from "../../src/domain/credentials.ts";

const hex = "0123456789abcdef0123456789abcdef";

describe("credential placeholders", () => {
  test("keep the real value's prefix, so clients that check a key's shape accept them, and nothing else of it", () => {
    assert.equal(credentialPlaceholder("sk-ant-api03-SECRET", hex), `sk-ant-outpost-placeholder-${hex}`);
    assert.equal(credentialPlaceholder("ghp_SECRETSECRET", hex), `ghp_outpost-placeholder-${hex}`);
    assert.equal(credentialPlaceholder("github_pat_11AB", hex), `github_pat_outpost-placeholder-${hex}`);
    assert.equal(credentialPlaceholder("plainsecret", hex), `outpost-placeholder-${hex}`);
    assert.match(credentialPlaceholder("sk-proj-XYZ", hex), PLACEHOLDER_PATTERN);
  });
});

describe("credential injection", () => {
  const key: Credential = {
    name: "API_KEY",
    value: "real-key",
    placeholder: `sk-outpost-placeholder-${hex}`,
    inject: [{ host: "api.example.com", header: "x-api-key", format: "raw" }],
  };
  const git: Credential = {
    name: "GIT_TOKEN",
    value: "tok",
    placeholder: `ghp_outpost-placeholder-${hex.replace("0", "1")}`,
    inject: [{ host: "git.example.com", header: "authorization", format: "basic" }],
  };

  test("the placeholder is swapped for the value, only for the credential's exact host", () => {
    const headers = { "x-api-key": key.placeholder, accept: "*/*" };
    assert.deepEqual(injectCredentials(headers, [key], "api.example.com"), { headers: { "x-api-key": "real-key", accept: "*/*" }, used: ["API_KEY"] });
    assert.deepEqual(injectCredentials(headers, [key], "evil.example.com").headers, headers);
    assert.deepEqual(injectCredentials(headers, [key], "x.api.example.com").headers, headers);
  });

  test("a missing header is set; a header the client filled with its own value is left alone", () => {
    assert.equal(injectCredentials({}, [key], "api.example.com").headers["x-api-key"], "real-key");
    assert.deepEqual(injectCredentials({ "x-api-key": "the-clients-own" }, [key], "api.example.com"), {
      headers: { "x-api-key": "the-clients-own" },
      used: [],
    });
  });

  test("basic auth: a bare token goes in as x-access-token; a placeholder inside Basic auth is swapped", () => {
    const set = injectCredentials({}, [git], "git.example.com").headers.authorization as string;
    assert.equal(Buffer.from(set.slice(6), "base64").toString(), "x-access-token:tok");
    const sent = `Basic ${Buffer.from(`me:${git.placeholder}`).toString("base64")}`;
    const swapped = injectCredentials({ authorization: sent }, [git], "git.example.com").headers.authorization as string;
    assert.equal(Buffer.from(swapped.slice(6), "base64").toString(), "me:tok");
  });

  test("inject rules parse from host:header[:format] and refuse what cannot carry a credential", () => {
    assert.deepEqual(parseInjectRule("api.example.com:X-Api-Key"), { host: "api.example.com", header: "x-api-key", format: "raw" });
    assert.deepEqual(parseInjectRule("github.com:authorization:basic"), { host: "github.com", header: "authorization", format: "basic" });
    for (const bad of ["*.example.com:x-key", "a.com:host", "a.com:x key", "a.com:x-key:digest", "a.com", "a.com:x:raw:extra"]) {
      assert.equal(typeof parseInjectRule(bad), "string", bad);
    }
  });
});
