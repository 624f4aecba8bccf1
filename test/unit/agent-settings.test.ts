import assert from "node:assert/strict";
import { test } from "node:test";
import { agentSettings, approvalRuleProblem, needsApproval } from "../../src/domain/agents/settings.ts";

test("approval rules: a tool name, a tool with a pattern on its main input, or every tool", () => {
  const rules = ["Bash(git push*)", "WebFetch"];
  assert.equal(needsApproval(rules, "Bash", { command: "git push origin main" }), true);
  assert.equal(needsApproval(rules, "Bash", { command: "git status" }), false);
  assert.equal(needsApproval(rules, "WebFetch", { url: "https://example.com" }), true);
  assert.equal(needsApproval(rules, "Write", { file_path: "/workspace/a" }), false);
  assert.equal(needsApproval(["*"], "Write", { file_path: "/workspace/a" }), true);
  assert.equal(needsApproval(["Write(/workspace/secret*)"], "Write", { file_path: "/workspace/secrets.txt" }), true);
  assert.equal(needsApproval(["Bash(rm *)"], "Bash", { command: "rm -rf /\nls" }), true, "a pattern spans lines");
});

test("rules that are not well formed are named", () => {
  assert.equal(approvalRuleProblem("Bash(git push*)"), null);
  assert.match(approvalRuleProblem("Bash(") ?? "", /is not Tool or Tool\(pattern\)/);
  assert.match(approvalRuleProblem("") ?? "", /is not/);
});

test("settings fill what is missing with the defaults", () => {
  const settings = agentSettings({ permissionMode: "approve", limits: { maxDurationSec: 60 } as never });
  assert.equal(settings.permissionMode, "approve");
  assert.equal(settings.limits.maxDurationSec, 60);
  assert.equal(settings.limits.stallTimeoutSec, 300);
  assert.deepEqual(agentSettings(null).approvalRules, ["Bash(git push*)", "WebFetch", "WebSearch"]);
});
