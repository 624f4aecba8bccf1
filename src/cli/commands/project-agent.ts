// The agent-run flags of `outpost project update`: how runs ask before acting and their
// limits (the project's `agent` settings). Rules are checked here with the API's own check,
// so a bad one fails before any request. --approval-rule replaces the whole list (give it
// once per rule), as the API does with a list it is given.
import { type AgentSettings, approvalRuleProblem, PERMISSION_MODES, type PermissionMode } from "../../domain/agents/settings.ts";
import { UsageError } from "../args.ts";

export const AGENT_OPTIONS = {
  "permission-mode": { type: "string" },
  "approval-rule": { type: "string", multiple: true },
  "no-approval-rules": { type: "boolean", default: false },
  "max-run-seconds": { type: "string" },
  "stall-seconds": { type: "string" },
  "max-turns": { type: "string" },
  "max-cost-usd": { type: "string" },
} as const;

export const agentFlagsHelp = `    --permission-mode bypass|approve: bypass (the default) lets the agent act, the sandbox is the boundary;
    approve makes tool calls that match an --approval-rule wait for \`outpost approve\`. --approval-rule
    'Tool' or 'Tool(glob)', e.g. 'Bash(git push*)', '*' (repeat it; the list replaces the project's;
    --no-approval-rules empties it). Per run: --max-run-seconds N, --stall-seconds N (no output for that
    long ends it), --max-turns N|none, --max-cost-usd X|none.`;

export interface AgentFlagValues {
  "permission-mode"?: string;
  "approval-rule"?: string[];
  "no-approval-rules"?: boolean;
  "max-run-seconds"?: string;
  "stall-seconds"?: string;
  "max-turns"?: string;
  "max-cost-usd"?: string;
}

export type AgentChange = {
  permissionMode?: PermissionMode;
  approvalRules?: string[];
  limits?: { maxDurationSec?: number; stallTimeoutSec?: number; maxTurns?: number | null; maxCostUsd?: number | null };
};

/** The `agent` field of a PATCH, or undefined when no agent flag was given. */
export function agentChange(values: AgentFlagValues): AgentChange | undefined {
  const change: AgentChange = {};
  const mode = values["permission-mode"];
  if (mode !== undefined) {
    if (!(PERMISSION_MODES as readonly string[]).includes(mode))
      throw new UsageError(`--permission-mode must be one of ${PERMISSION_MODES.join(", ")}, got '${mode}'`);
    change.permissionMode = mode as PermissionMode;
  }
  if (values["approval-rule"]?.length && values["no-approval-rules"]) throw new UsageError("--approval-rule and --no-approval-rules contradict each other");
  if (values["no-approval-rules"]) change.approvalRules = [];
  if (values["approval-rule"]?.length) {
    for (const rule of values["approval-rule"]) {
      const problem = approvalRuleProblem(rule);
      if (problem) throw new UsageError(`--approval-rule ${problem}`);
    }
    change.approvalRules = values["approval-rule"];
  }
  const limits: NonNullable<AgentChange["limits"]> = {};
  if (values["max-run-seconds"] !== undefined) limits.maxDurationSec = wholeNumber(values["max-run-seconds"], "--max-run-seconds");
  if (values["stall-seconds"] !== undefined) limits.stallTimeoutSec = wholeNumber(values["stall-seconds"], "--stall-seconds");
  if (values["max-turns"] !== undefined) limits.maxTurns = values["max-turns"] === "none" ? null : wholeNumber(values["max-turns"], "--max-turns");
  if (values["max-cost-usd"] !== undefined) limits.maxCostUsd = values["max-cost-usd"] === "none" ? null : dollars(values["max-cost-usd"]);
  if (Object.keys(limits).length) change.limits = limits;
  return Object.keys(change).length ? change : undefined;
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new UsageError(`${flag} takes a whole number, got '${text}'`);
  return Number(text);
}

function dollars(text: string): number {
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(text)) throw new UsageError(`--max-cost-usd takes an amount in dollars such as 2.50, or none; got '${text}'`);
  return Number(text);
}

/** `approve (Bash(git push*), WebFetch); runs ≤ 3600 s, stall 300 s` for `project get`. */
export function agentText(agent: AgentSettings | undefined): string | null {
  if (!agent) return null;
  const rules = agent.permissionMode === "approve" ? ` (${agent.approvalRules.join(", ") || "no rules: nothing waits"})` : "";
  const { limits } = agent;
  const extra = [limits.maxTurns !== null ? `${limits.maxTurns} turns` : "", limits.maxCostUsd !== null ? `$${limits.maxCostUsd}` : ""].filter(Boolean);
  return `${agent.permissionMode}${rules}; runs ≤ ${limits.maxDurationSec} s, stall ${limits.stallTimeoutSec} s${extra.length ? `, ≤ ${extra.join(", ")}` : ""}`;
}
