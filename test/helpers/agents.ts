// Agent CLIs for tests are installed once per machine into a shared folder (the installer
// is safe to share: installs go through a staging folder and a rename), instead of once
// per test's data dir: Claude Code alone is some 400 MB.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const AGENTS_DIR = join(tmpdir(), "outpost-test-agents");
mkdirSync(AGENTS_DIR, { recursive: true, mode: 0o755 });
