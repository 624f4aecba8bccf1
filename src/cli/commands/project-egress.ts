// The egress and token-budget flags of `outpost project create|update`, and how `project
// get` shows them. Rules are checked here with the parser the API uses, so a bad one fails
// before any request. The API replaces a list it is given; these flags edit one instead
// (`--allow`/`--deny` add, `--remove-rule` takes out), so an update reads the project
// first and sends the whole new list. Two people editing the lists at the same moment can
// lose one's change: the last PATCH wins, as it would through the API.
import { EGRESS_LEVELS, type EgressLevel, type EgressPolicy, type EgressRule, parseEgressRule, ruleText } from "../../domain/egress-policy.ts";
import { UsageError } from "../args.ts";

export const EGRESS_OPTIONS = {
  egress: { type: "string" },
  allow: { type: "string", multiple: true },
  deny: { type: "string", multiple: true },
  "remove-rule": { type: "string", multiple: true },
  "token-budget": { type: "string" },
} as const;

export interface EgressFlagValues {
  egress?: string;
  allow?: string[];
  deny?: string[];
  "remove-rule"?: string[];
  "token-budget"?: string;
}

export interface EgressFlags {
  level?: EgressLevel;
  allow: EgressRule[];
  deny: EgressRule[];
  remove: EgressRule[];
  /** undefined: not given; null: no budget. */
  tokenBudget?: number | null;
}

/** What goes into a create or update request: only the fields that change. */
export interface EgressFields {
  egress?: Partial<EgressPolicy>;
  tokenBudget?: number | null;
}

export function parseEgressFlags(values: EgressFlagValues): EgressFlags {
  const level = values.egress;
  if (level !== undefined && !(EGRESS_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--egress must be one of ${EGRESS_LEVELS.join(", ")}, got '${level}'`);
  }
  return {
    level: level as EgressLevel | undefined,
    allow: rules(values.allow, "--allow"),
    deny: rules(values.deny, "--deny"),
    remove: rules(values["remove-rule"], "--remove-rule"),
    tokenBudget: values["token-budget"] === undefined ? undefined : tokenBudget(values["token-budget"]),
  };
}

export function hasEgressFlags(flags: EgressFlags): boolean {
  return flags.level !== undefined || flags.allow.length + flags.deny.length + flags.remove.length > 0 || flags.tokenBudget !== undefined;
}

/** Whether the change depends on the stored lists (`project update` then reads them first). */
export function editsRuleLists(flags: EgressFlags): boolean {
  return flags.allow.length + flags.deny.length + flags.remove.length > 0;
}

/**
 * The request's `egress` and `tokenBudget`: the level if given, and each list the flags
 * touch, as the stored one (`current`; empty for a new project) minus `--remove-rule`, plus
 * the new rules.
 */
export function egressFields(flags: EgressFlags, current: Pick<EgressPolicy, "allow" | "deny">, project: string): EgressFields {
  const unmatched = flags.remove.find((rule) => !current.allow.some(same(rule)) && !current.deny.some(same(rule)));
  if (unmatched) {
    throw new UsageError(
      `--remove-rule ${ruleText(unmatched)}: project ${project} has no such rule (allow: ${listText(current.allow)}; deny: ${listText(current.deny)})`,
    );
  }
  const change: Partial<EgressPolicy> = {};
  if (flags.level !== undefined) change.level = flags.level;
  const touchesAllow = flags.allow.length > 0 || flags.remove.some((rule) => current.allow.some(same(rule)));
  const touchesDeny = flags.deny.length > 0 || flags.remove.some((rule) => current.deny.some(same(rule)));
  if (touchesAllow) change.allow = edit(current.allow, flags.remove, flags.allow);
  if (touchesDeny) change.deny = edit(current.deny, flags.remove, flags.deny);
  return {
    ...(Object.keys(change).length > 0 ? { egress: change } : {}),
    ...(flags.tokenBudget !== undefined ? { tokenBudget: flags.tokenBudget } : {}),
  };
}

/** `registries; allow api.example.com, host.outpost.internal:8080; deny evil.com`. */
export function egressText(policy: EgressPolicy): string {
  return [
    policy.level,
    ...(policy.allow.length ? [`allow ${listText(policy.allow)}`] : []),
    ...(policy.deny.length ? [`deny ${listText(policy.deny)}`] : []),
  ].join("; ");
}

export function tokenBudgetText(budget: number | null): string {
  return budget === null ? "none" : `${budget} tokens a month`;
}

function rules(texts: string[] | undefined, flag: string): EgressRule[] {
  return (texts ?? []).map((text) => {
    const rule = parseEgressRule(text);
    if (typeof rule === "string") throw new UsageError(`${flag} ${rule}`);
    return rule;
  });
}

function tokenBudget(text: string): number | null {
  if (text === "none") return null;
  const budget = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(budget)) throw new UsageError(`--token-budget takes a whole number of tokens or 'none', got '${text}'`);
  return budget;
}

/** Rules are equal when written the same (the parser writes hosts in one canonical form). */
const same = (rule: EgressRule) => (other: EgressRule) => ruleText(other) === ruleText(rule);

function edit(list: EgressRule[], remove: EgressRule[], add: EgressRule[]): EgressRule[] {
  const kept = list.filter((rule) => !remove.some(same(rule)));
  for (const rule of add) if (!kept.some(same(rule))) kept.push(rule);
  return kept;
}

const listText = (list: EgressRule[]) => list.map(ruleText).join(", ") || "-";
