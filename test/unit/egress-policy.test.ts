import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allowCommand,
  canonicalHost,
  DEFAULT_EGRESS_POLICY,
  decideEgress,
  type EgressPolicy,
  egressRuleProblem,
  HOST_MACHINE,
  parseEgressRule,
} from "../../src/domain/egress-policy.ts";

const policy = (p: Partial<EgressPolicy>): EgressPolicy => ({ ...DEFAULT_EGRESS_POLICY, ...p });

describe("egress decisions", () => {
  test("the default level lets registries and git hosts out on their ports, and nothing else", () => {
    const p = policy({});
    for (const [host, port] of [
      ["registry.npmjs.org", 443],
      ["pypi.org", 443],
      ["github.com", 22],
      ["deb.debian.org", 80],
      ["objects.githubusercontent.com", 443],
    ] as const) {
      const d = decideEgress(p, host, port);
      assert.equal(d.allowed, true, `${host}:${port}`);
      assert.equal(d.allowed && d.allowNonPublic, false, "a level never allows private addresses");
    }
    for (const [host, port] of [
      ["registry.npmjs.org", 8080],
      ["evil.example.com", 443],
      ["api.anthropic.com", 443],
      ["githubusercontent.com", 443],
    ] as const) {
      assert.equal(decideEgress(p, host, port).allowed, false, `${host}:${port}`);
    }
  });

  test("custom allows only its list; open allows any host; none allows nothing, not even listed hosts", () => {
    const allow = [{ host: "api.example.com" }, { host: "*.cdn.example.com", port: 443 }];
    const custom = policy({ level: "custom", allow });
    assert.equal(decideEgress(custom, "api.example.com", 8443).allowed, true);
    assert.equal(decideEgress(custom, "a.b.cdn.example.com", 443).allowed, true);
    assert.equal(decideEgress(custom, "cdn.example.com", 443).allowed, false, "*. does not match the bare domain");
    assert.equal(decideEgress(custom, "x.cdn.example.com", 80).allowed, false, "the rule's port");
    assert.equal(decideEgress(custom, "registry.npmjs.org", 443).allowed, false, "custom has no registries");
    assert.equal(decideEgress(policy({ level: "open" }), "anything.example", 1234).allowed, true);
    assert.equal(decideEgress(policy({ level: "none", allow }), "api.example.com", 443).allowed, false);
  });

  test("deny wins over every level and rule, whatever the spelling of the host", () => {
    const p = policy({ level: "open", allow: [{ host: "bad.example.com" }], deny: [{ host: "bad.example.com" }, { host: "1.2.3.4" }] });
    assert.equal(decideEgress(p, "bad.example.com", 443).allowed, false);
    assert.equal(decideEgress(p, "BAD.Example.COM.", 443).allowed, false);
    for (const spelling of ["1.2.3.4", "0x01020304", "[::ffff:1.2.3.4]", "1.2.772"]) assert.equal(decideEgress(p, spelling, 443).allowed, false, spelling);
    assert.match((decideEgress(p, "bad.example.com", 443) as { rule: string }).rule, /^deny /);
  });

  test("only a rule naming a host exactly lets it resolve to a non-public address", () => {
    const p = policy({ level: "open", allow: [{ host: "db.corp.internal" }, { host: "*.corp.internal" }] });
    const exact = decideEgress(p, "db.corp.internal", 5432);
    const wild = decideEgress(p, "x.corp.internal", 5432);
    const open = decideEgress(p, "example.com", 443);
    assert.deepEqual([exact.allowed && exact.allowNonPublic, wild.allowed && wild.allowNonPublic, open.allowed && open.allowNonPublic], [true, false, false]);
  });

  test("the host machine is reachable only on the ports its rules name, even when open", () => {
    const p = policy({ level: "open", allow: [{ host: HOST_MACHINE, port: 8080 }] });
    const allowed = decideEgress(p, HOST_MACHINE, 8080);
    assert.equal(allowed.allowed && allowed.hostMachine, true);
    assert.equal(decideEgress(p, HOST_MACHINE, 5432).allowed, false);
    assert.equal(decideEgress(policy({ level: "open" }), HOST_MACHINE, 8080).allowed, false);
  });

  test("the refusal's command allows the host (and turns 'none' into 'custom')", () => {
    assert.equal(allowCommand("shop", policy({}), "api.example.com", 443), "outpost project update shop --allow api.example.com");
    assert.equal(allowCommand("shop", policy({}), "db.example.com", 5432), "outpost project update shop --allow db.example.com:5432");
    assert.equal(allowCommand("shop", policy({ level: "none" }), HOST_MACHINE, 80), `outpost project update shop --egress custom --allow ${HOST_MACHINE}:80`);
  });
});

describe("egress rules", () => {
  test("the short form parses hosts, wildcards, ports and IPv6 literals", () => {
    assert.deepEqual(parseEgressRule("api.github.com"), { host: "api.github.com" });
    assert.deepEqual(parseEgressRule("*.NPMJS.org:443"), { host: "*.npmjs.org", port: 443 });
    assert.deepEqual(parseEgressRule("[2001:db8::1]:22"), { host: "2001:db8::1", port: 22 });
    assert.deepEqual(parseEgressRule("2001:db8::1"), { host: "2001:db8::1" });
    assert.deepEqual(parseEgressRule(`${HOST_MACHINE}:8080`), { host: HOST_MACHINE, port: 8080 });
  });

  test("bad rules are refused with a reason", () => {
    for (const text of [
      "http://x.com",
      "x.com:0",
      "x.com:99999",
      "x.com:ab",
      "*",
      "*.",
      "a..b",
      "-a.com",
      "a b",
      HOST_MACHINE,
      "*.10.0.0.1",
      "10.0.0.256",
      "",
    ]) {
      assert.equal(typeof parseEgressRule(text), "string", text);
    }
    assert.match(String(egressRuleProblem({ host: HOST_MACHINE })), /needs a port/);
  });

  test("hosts compare in one canonical spelling", () => {
    assert.equal(canonicalHost("Example.COM."), "example.com");
    assert.equal(canonicalHost("[::FFFF:10.0.0.1]"), "10.0.0.1");
    assert.equal(canonicalHost("0x7f.1"), "127.0.0.1");
  });
});
