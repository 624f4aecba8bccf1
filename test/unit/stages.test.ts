// A sandbox's stages as the reconciler records them (domain/sandbox-lifecycle.ts withStage):
// the times a user reads say when each stage really started and ended.
import assert from "node:assert/strict";
import { test } from "node:test";
import { freshStages, withStage } from "../../src/domain/sandbox-lifecycle.ts";

test("a stage's progress lines keep its start; it ends when done; a stage run again starts anew", () => {
  let stages = freshStages(["environment", "workspace"]);
  stages = withStage(stages, "environment", "running", "2026-11-30T10:00:00.000Z");
  stages = withStage(stages, "environment", "running", "2026-11-30T10:00:05.000Z", "apt-get: 40%");
  stages = withStage(stages, "environment", "running", "2026-11-30T10:00:09.000Z", "apt-get: 90%");
  let environment = stages.find((stage) => stage.name === "environment");
  assert.equal(environment?.startedAt, "2026-11-30T10:00:00.000Z", "progress does not move the start");
  assert.equal(environment?.message, "apt-get: 90%");
  stages = withStage(stages, "environment", "done", "2026-11-30T10:00:10.000Z", "built");
  environment = stages.find((stage) => stage.name === "environment");
  assert.deepEqual([environment?.startedAt, environment?.endedAt, environment?.state], ["2026-11-30T10:00:00.000Z", "2026-11-30T10:00:10.000Z", "done"]);
  stages = withStage(stages, "environment", "running", "2026-11-30T11:00:00.000Z");
  environment = stages.find((stage) => stage.name === "environment");
  assert.equal(environment?.startedAt, "2026-11-30T11:00:00.000Z", "a new start");
  assert.equal(environment?.endedAt, undefined);
});
