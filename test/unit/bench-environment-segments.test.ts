// The environments bench's split of create → running (bench/environments/create.ts) and the
// row order of its table (bench/environments/report.ts). Pure.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createSegments } from "../../bench/environments/create.ts";
import { segmentOrder } from "../../bench/environments/report.ts";

const at = (ms: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, 0, ms)).toISOString();
const t0 = Date.parse(at(0));

describe("bench: where create → running goes", () => {
  const sandbox = {
    createdAt: at(10),
    stages: [
      { name: "environment", state: "done", startedAt: at(40), endedAt: at(45) },
      { name: "workspace", state: "done", startedAt: at(47), endedAt: at(50) },
      { name: "maintenance", state: "pending" },
      { name: "ready", state: "done", startedAt: at(60), endedAt: at(60) },
    ],
  };

  test("POST, queue, each stage and the gap before it, then the event; stages that did not run are left out", () => {
    assert.deepEqual(createSegments(sandbox, t0, t0 + 70), [
      { name: "post", ms: 10 },
      { name: "queued", ms: 30 },
      { name: "environment", ms: 5 },
      { name: "→ workspace", ms: 2 },
      { name: "workspace", ms: 3 },
      { name: "→ ready", ms: 10 },
      { name: "ready", ms: 0 },
      { name: "event", ms: 10 },
    ]);
  });

  test("a stage restamped by its progress lines starts at its first running event", () => {
    const segments = createSegments(sandbox, t0, t0 + 70, new Map([["environment", t0 + 15]]));
    assert.deepEqual(segments.slice(1, 3), [
      { name: "queued", ms: 5 },
      { name: "environment", ms: 30 },
    ]);
  });

  test("rows of several kinds keep each kind's order, a stage only one has goes after the one it follows", () => {
    const names = (...list: string[]) => list.map((name) => ({ name }));
    assert.deepEqual(segmentOrder([names("post", "workspace", "ready"), names("post", "build", "workspace", "ready", "event")]), [
      "post",
      "build",
      "workspace",
      "ready",
      "event",
    ]);
  });
});
