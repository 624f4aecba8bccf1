// The installation-wide cap on running sandboxes. Pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { capacityProblem } from "../../src/domain/capacity.ts";

const MiB = 1024 * 1024;
const cap = { maxSandboxes: 3, maxMemoryBytes: 10_000 * MiB };

test("one more fits while both the count and the memory stay within the cap", () => {
  assert.equal(capacityProblem(cap, { count: 2, memoryBytes: 8000 * MiB }, 2000 * MiB), null);
});

test("the count is capped, and the problem says how many run and the cap", () => {
  assert.match(capacityProblem(cap, { count: 3, memoryBytes: 0 }, MiB) ?? "", /3 sandboxes already run.*\(3\)/);
});

test("the sum of memory limits is capped, and the problem names the figures", () => {
  assert.match(capacityProblem(cap, { count: 1, memoryBytes: 9000 * MiB }, 2000 * MiB) ?? "", /9000 MiB.*2000 MiB.*10000 MiB/);
});
