// Checkpoints in a real sandbox (bubblewrap, supervisor link): a turn that deletes, edits,
// adds, commits, and removes the checkpoint from the sandbox's git (ref deleted, gc) is
// rolled back byte for byte (modes and symlinks too, ignored files left alone, HEAD back), and
// the rollback is undone by restoring the "before-restore" checkpoint.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CheckpointService } from "../../src/services/git/checkpoints.ts";
import type { GitRunner } from "../../src/services/git/git-runner.ts";
import { sandboxGitRunner } from "../../src/services/git/sandbox-git.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

const GIT = "git -c user.name=Agent -c user.email=agent@example.test";

const SETUP = `set -e
cd /workspace
rm -rf .git ./* ./.gitignore
git init -q -b main
printf '*.log\\nbuild/\\n' > .gitignore
printf '# demo\\n' > README.md
mkdir -p src && printf "console.log('v1');\\n" > src/app.js
printf '#!/bin/sh\\necho run\\n' > run.sh && chmod 755 run.sh
ln -s src/app.js app-link
printf 'a file that becomes a folder\\n' > notes
${GIT} add -A && ${GIT} commit -q -m first
printf "console.log('v2, staged');\\n" > src/app.js && ${GIT} add src/app.js
printf "console.log('v3, modified after staging');\\n" > src/app.js
printf 'not added\\n' > untracked.txt
mkdir -p new-dir/deeper && printf '\\000\\001\\377' > new-dir/deeper/data.bin
printf 'ignored\\n' > debug.log
mkdir -p build && printf 'ignored output\\n' > build/out.js
`;

const turn = (checkpointId: string) => `set -e
cd /workspace
rm README.md untracked.txt && rm -r new-dir
printf "console.log('the agent was here');\\n" > src/app.js
chmod 644 run.sh
rm app-link && ln -s README.md app-link
rm notes && mkdir notes && printf 'a folder now\\n' > notes/inside.txt
printf 'new\\n' > added.txt
printf 'ignored, changed by the turn\\n' > debug.log
${GIT} add -A && ${GIT} commit -q -m "the agent's commit"
printf 'untracked after the commit\\n' > after-commit.txt
git update-ref -d refs/outpost/checkpoints/${checkpointId}
git reflog expire --expire=now --all
git gc -q --prune=now
`;

/** Every file and symlink but .git: mode and sha256, or the link's target; sorted. */
const LISTING = `cd /workspace && find . -path ./.git -prune -o -type l -printf 'L %p -> %l\\n' -o -type f -printf 'F %p %m ' -exec sha256sum {} \\; | sed 's/  .*$//' | sort`;

describe("checkpoints in a real sandbox", () => {
  let s: TestServer;
  let box: any;
  let runner: GitRunner;
  let service: CheckpointService;

  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "chk" } });
    box = await runningSandbox(s, "chk");
    const { client } = await s.server.sandboxes.driver.connect(box.id);
    runner = sandboxGitRunner(client, {});
    service = new CheckpointService({ pool: s.server.pool, dataDir: s.dataDir });
  });
  after(async () => s?.close());

  const sh = async (script: string): Promise<string> => {
    const result = await exec(s, box.id, script);
    assert.equal(result.exitCode, 0, `script failed: ${result.stderr}`);
    return result.stdout;
  };
  const state = async () => ({
    files: (await sh(LISTING)).trim().split("\n"),
    head: (await sh("git rev-parse HEAD")).trim(),
    branch: (await sh("git symbolic-ref HEAD")).trim(),
    staged: await sh("git diff --cached"),
    status: await sh("git status --porcelain=v2 --untracked-files=all"),
  });

  test("a turn is rolled back exactly, and the rollback undone", async () => {
    await sh(SETUP);
    const chk = await service.create({ id: box.id, projectId: box.projectId }, runner, { reason: "turn" });
    const atCheckpoint = await state();
    assert.ok(atCheckpoint.files.some((line) => line.startsWith("F ./run.sh 755 ")));
    assert.ok(atCheckpoint.files.includes("L ./app-link -> src/app.js"));

    await sh(turn(chk.id));
    assert.notEqual((await exec(s, box.id, `git cat-file -e ${chk.commit}`)).exitCode, 0, "the sandbox's git no longer has the checkpoint");
    const afterTurn = await state();
    assert.notDeepEqual(afterTurn.files, atCheckpoint.files);

    const { restored, undo } = await service.restore({ id: box.id, projectId: box.projectId }, runner, chk.id);
    assert.equal(restored.id, chk.id);
    const back = await state();
    const ignoredLog = (files: string[]) => files.find((line) => line.startsWith("F ./debug.log "));
    // Ignored files are left alone: debug.log keeps what the turn wrote.
    assert.equal(ignoredLog(back.files), ignoredLog(afterTurn.files));
    const withoutLog = (files: string[]) => files.filter((line) => !line.startsWith("F ./debug.log "));
    assert.deepEqual(withoutLog(back.files), withoutLog(atCheckpoint.files));
    assert.deepEqual({ ...back, files: [] }, { ...atCheckpoint, files: [] });

    await service.restore({ id: box.id, projectId: box.projectId }, runner, undo.id);
    assert.deepEqual(await state(), afterTurn);
  });
});
