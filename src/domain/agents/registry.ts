// Every agent Outpost can run, by name; a name without an adapter here is refused with a
// clear error. Gemini CLI's model calls go through the gateway's /gemini route (GEMINI_API_KEY).
import type { AgentAdapter, AgentName } from "./adapter.ts";
import { claudeCodeAdapter } from "./claude-code.ts";
import { codexAdapter } from "./codex.ts";
import { customAdapter } from "./custom.ts";
import { geminiAdapter } from "./gemini.ts";
import { opencodeAdapter } from "./opencode.ts";

const ADAPTERS = new Map<AgentName, AgentAdapter>(
  [claudeCodeAdapter, codexAdapter, geminiAdapter, opencodeAdapter, customAdapter].map((adapter) => [adapter.name, adapter]),
);

export function agentAdapter(name: string): AgentAdapter | null {
  return ADAPTERS.get(name as AgentName) ?? null;
}

export function availableAgents(): AgentName[] {
  return [...ADAPTERS.keys()];
}

/** `claude-code=2.1.340,codex=0.172.0` → a map; the configured versions replace the pinned ones. */
export function parseAgentVersions(text: string | undefined): Map<string, string> {
  const versions = new Map<string, string>();
  for (const pair of (text ?? "").split(",").filter(Boolean)) {
    const [name, version] = pair.split("=");
    if (name && version) versions.set(name, version);
  }
  return versions;
}
