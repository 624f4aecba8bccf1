// A project's egress policy and the decision for one outgoing connection (pure). The proxy
// on the host asks decideEgress() for every CONNECT and plain-HTTP request a sandbox makes,
// with the policy read at that moment, so a change applies to the next connection.
//
//   none        nothing leaves through the proxy (the model gateway is separate: it is the
//               platform's own path to the model, metered and budgeted, see model-usage.ts)
//   registries  the package registries and git hosts of REGISTRY_RULES, plus `allow`
//   custom      only `allow`
//   open        any public address
// `deny` wins over everything. Whatever the level, a host that resolves to a non-public
// address (loopback, private, link-local, the host's own …) is dialled only when an allow
// rule names that host exactly (not by wildcard, not by level): see allowNonPublic.
// `host.outpost.internal:<port>` is the host machine's loopback at that port, reachable
// only through a rule naming it with that port.
import { hostKind, normaliseHost } from "./egress-addresses.ts";

export const EGRESS_LEVELS = ["none", "registries", "custom", "open"] as const;
export type EgressLevel = (typeof EGRESS_LEVELS)[number];

export interface EgressRule {
  /** A hostname, `*.` + hostname, or an IP literal. */
  host: string;
  /** Absent: any port. */
  port?: number;
}

export interface EgressPolicy {
  level: EgressLevel;
  allow: EgressRule[];
  deny: EgressRule[];
}

export const DEFAULT_EGRESS_POLICY: EgressPolicy = { level: "registries", allow: [], deny: [] };
export const MAX_EGRESS_RULES = 256;

/** The name sandboxes use for the host machine (like Docker's host.docker.internal). */
export const HOST_MACHINE = "host.outpost.internal";

const WEB = [80, 443];
const web = (...hosts: string[]): EgressRule[] => hosts.flatMap((host) => WEB.map((port) => ({ host, port })));
const git = (...hosts: string[]): EgressRule[] => hosts.flatMap((host) => [...web(host), { host, port: 22 }]);

/**
 * The `registries` level: common package registries and git hosts (web ports; git hosts
 * also SSH on 22). Documented in docs/api.md ("Egress"); keep the two in step.
 */
export const REGISTRY_RULES: readonly EgressRule[] = [
  // JavaScript
  ...web("registry.npmjs.org", "registry.yarnpkg.com", "repo.yarnpkg.com", "nodejs.org", "registry.npmmirror.com"),
  // Python
  ...web("pypi.org", "files.pythonhosted.org"),
  // Rust, Go, Ruby, PHP, JVM, .NET
  ...web("crates.io", "index.crates.io", "static.crates.io", "static.rust-lang.org", "sh.rustup.rs"),
  ...web("proxy.golang.org", "sum.golang.org", "go.dev", "dl.google.com"),
  ...web("rubygems.org", "index.rubygems.org", "packagist.org", "repo.packagist.org"),
  ...web("repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org", "services.gradle.org", "api.nuget.org"),
  // Operating-system packages
  ...web("deb.debian.org", "security.debian.org", "archive.ubuntu.com", "security.ubuntu.com", "dl-cdn.alpinelinux.org"),
  // Git hosts and what their clones and releases download from
  ...git("github.com", "gitlab.com", "bitbucket.org"),
  ...web("api.github.com", "codeload.github.com", "objects.githubusercontent.com", "raw.githubusercontent.com", "*.githubusercontent.com", "ghcr.io"),
  { host: "ssh.github.com", port: 443 },
];

export type EgressDecision =
  | {
      allowed: true;
      /** Which rule let it out, for the record: "registries", "allow example.com:443", "open". */
      rule: string;
      /** A rule names this host exactly: it may resolve to a non-public address. */
      allowNonPublic: boolean;
      /** The host machine's loopback (host.outpost.internal). */
      hostMachine: boolean;
    }
  | { allowed: false; rule: string; reason: string };

/**
 * Lower case, without [] or a trailing dot, IP literals in one spelling (`0x7f.1` and
 * `[::ffff:127.0.0.1]` are 127.0.0.1): rules and requests compare equal however written.
 */
export function canonicalHost(host: string): string {
  return normaliseHost(host.trim());
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

function ruleMatches(rule: EgressRule, host: string, port: number): boolean {
  return (rule.port === undefined || rule.port === port) && hostMatches(canonicalHost(rule.host), host);
}

export function ruleText(rule: EgressRule): string {
  const host = rule.host.includes(":") ? `[${rule.host}]` : rule.host;
  return rule.port === undefined ? host : `${host}:${rule.port}`;
}

export function decideEgress(policy: EgressPolicy, rawHost: string, port: number): EgressDecision {
  const host = canonicalHost(rawHost);
  const denied = policy.deny.find((rule) => ruleMatches(rule, host, port));
  if (denied) return { allowed: false, rule: `deny ${ruleText(denied)}`, reason: `the project denies ${ruleText(denied)}` };
  if (policy.level === "none") return { allowed: false, rule: "level none", reason: "the project's egress level is 'none'" };

  if (host === HOST_MACHINE) {
    // Only an exact rule with this very port: the host's other ports stay out of reach.
    const named = policy.allow.find((rule) => canonicalHost(rule.host) === HOST_MACHINE && rule.port === port);
    if (named) return { allowed: true, rule: `allow ${ruleText(named)}`, allowNonPublic: true, hostMachine: true };
    return { allowed: false, rule: "host machine", reason: `no rule allows ${HOST_MACHINE}:${port}` };
  }

  const allowed = policy.allow.find((rule) => ruleMatches(rule, host, port));
  if (allowed) {
    return { allowed: true, rule: `allow ${ruleText(allowed)}`, allowNonPublic: !allowed.host.startsWith("*."), hostMachine: false };
  }
  if (policy.level === "registries" && REGISTRY_RULES.some((rule) => ruleMatches(rule, host, port))) {
    return { allowed: true, rule: "registries", allowNonPublic: false, hostMachine: false };
  }
  if (policy.level === "open") return { allowed: true, rule: "open", allowNonPublic: false, hostMachine: false };
  const reason =
    policy.level === "registries"
      ? `${host}:${port} is not a known registry or git host, nor in the project's allow list`
      : `${host}:${port} is not in the project's allow list`;
  return { allowed: false, rule: `level ${policy.level}`, reason };
}

/** The command that would let this connection out, for the refusal an agent reads. */
export function allowCommand(projectName: string, policy: EgressPolicy, host: string, port: number): string {
  const canonical = canonicalHost(host);
  const target = canonical === HOST_MACHINE || WEB.indexOf(port) === -1 ? ruleText({ host: canonical, port }) : ruleText({ host: canonical });
  const level = policy.level === "none" ? " --egress custom" : "";
  return `outpost project update ${projectName}${level} --allow ${target}`;
}

/** Parses `host`, `host:port`, `*.host`, `[v6]:port` (the CLI's and API's short form). */
export function parseEgressRule(text: string): EgressRule | string {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  let host: string;
  let portText: string | undefined;
  if (bracketed) {
    host = bracketed[1] ?? "";
    portText = bracketed[2];
  } else if ((trimmed.match(/:/g) ?? []).length > 1) {
    host = trimmed; // a bare IPv6 literal: no port possible without brackets
  } else {
    const colon = trimmed.lastIndexOf(":");
    host = colon === -1 ? trimmed : trimmed.slice(0, colon);
    portText = colon === -1 ? undefined : trimmed.slice(colon + 1);
  }
  const rule: EgressRule = { host: host.startsWith("*.") ? `*.${canonicalHost(host.slice(2))}` : canonicalHost(host) };
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return `'${text}': the port must be a number from 1 to 65535`;
    rule.port = Number(portText);
  }
  const problem = egressRuleProblem(rule);
  return problem ? `'${text}': ${problem}` : rule;
}

/** Why a rule cannot be stored, or null. Hosts: DNS names, `*.` + DNS name, IP literals. */
export function egressRuleProblem(rule: EgressRule): string | null {
  if (rule.port !== undefined && (!Number.isInteger(rule.port) || rule.port < 1 || rule.port > 65_535)) return "the port must be a number from 1 to 65535";
  const host = rule.host;
  if (host === HOST_MACHINE && rule.port === undefined)
    return `${HOST_MACHINE} needs a port (e.g. ${HOST_MACHINE}:8080): the rule opens that one port of the host`;
  const kind = hostKind(host.startsWith("*.") ? host.slice(2) : host);
  if (kind === "invalid") return "must be a lowercase hostname like 'api.github.com' or '*.npmjs.org', or an IP address";
  if (kind === "ip") return host.startsWith("*.") ? "a wildcard needs a hostname, not an IP address" : null;
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (name.length === 0 || name.length > 253) return "must be a hostname of 1 to 253 characters";
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  if (!name.split(".").every((part) => label.test(part))) return "must be a lowercase hostname like 'api.github.com' or '*.npmjs.org', or an IP address";
  return null;
}
