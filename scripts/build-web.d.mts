// Types of scripts/build-web.mjs, for the TypeScript that imports it (bench/web.ts).
export function webInputsHash(): string;
export function buildWeb(options?: { force?: boolean }): Promise<"fresh" | "built" | "skipped">;
