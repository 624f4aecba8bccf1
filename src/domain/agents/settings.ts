// A project's agent settings: how runs ask before acting, and their limits. Stored as JSON
// on the project (projects.agent); the missing parts take the defaults below.

export const PERMISSION_MODES = ["bypass", "approve"] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

export interface RunLimitSettings {
  /** Wall time of one run (turn). */
  maxDurationSec: number;
  /** Agent turns (model round trips) per run, when the agent can limit them; null: no limit. */
  maxTurns: number | null;
  /** Cost per run as the agent reports it; null: no limit. Checked as usage arrives. */
  maxCostUsd: number | null;
  /** A run that prints nothing for this long while no tool runs is stalled. */
  stallTimeoutSec: number;
}

export interface AgentSettings {
  /** bypass: the sandbox is the boundary, nothing waits. approve: tool calls that match a
   * rule wait for a person; the others go ahead. */
  permissionMode: PermissionMode;
  /** `Tool` or `Tool(glob)`, e.g. `Bash(git push*)`, `WebFetch`, `*` (every tool). */
  approvalRules: string[];
  limits: RunLimitSettings;
}

export const DEFAULT_AGENT_SETTINGS: AgentSettings = {
  permissionMode: "bypass",
  approvalRules: ["Bash(git push*)", "WebFetch", "WebSearch"],
  limits: { maxDurationSec: 3600, maxTurns: null, maxCostUsd: null, stallTimeoutSec: 300 },
};

export function agentSettings(stored: Partial<AgentSettings> | null | undefined): AgentSettings {
  return {
    permissionMode: stored?.permissionMode ?? DEFAULT_AGENT_SETTINGS.permissionMode,
    approvalRules: stored?.approvalRules ?? DEFAULT_AGENT_SETTINGS.approvalRules,
    limits: { ...DEFAULT_AGENT_SETTINGS.limits, ...stored?.limits },
  };
}

const RULE = /^(\*|[A-Za-z][A-Za-z0-9_.:-]{0,99})(?:\((.{1,500})\))?$/s;

/** Why a rule is not well formed, or null. */
export function approvalRuleProblem(rule: string): string | null {
  return RULE.test(rule) ? null : `'${rule.slice(0, 80)}' is not Tool or Tool(pattern), e.g. Bash(git push*)`;
}

/** The input field a rule's pattern is matched against, per tool. */
function subject(tool: string, input: unknown): string | null {
  if (typeof input !== "object" || input === null) return null;
  const record = input as Record<string, unknown>;
  for (const key of ["command", "url", "file_path", "path", "pattern", "query"]) {
    if (typeof record[key] === "string") return record[key] as string;
  }
  return tool === "" ? null : JSON.stringify(input);
}

/** True when a tool call must wait for a person under these rules. */
export function needsApproval(rules: readonly string[], tool: string, input: unknown): boolean {
  return rules.some((rule) => {
    const match = RULE.exec(rule);
    if (!match) return false;
    const [, name, pattern] = match;
    if (name !== "*" && name !== tool) return false;
    if (pattern === undefined) return true;
    const value = subject(tool, input);
    return value !== null && globToRegExp(pattern).test(value);
  });
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\?]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "s");
}
