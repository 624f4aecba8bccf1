import type { EgressLevel } from "../api/client.ts";

/** The egress levels as people choose between them (docs/api.md, Egress). */
export const EGRESS_LEVEL_OPTIONS: { value: EgressLevel; label: string; description: string }[] = [
  { value: "registries", label: "Registries", description: "Package registries and git hosts, plus the allowed domains (the default)" },
  { value: "custom", label: "Custom", description: "Only the allowed domains" },
  { value: "none", label: "None", description: "Nothing leaves the sandbox" },
  { value: "open", label: "Open", description: "Any public address" },
];
