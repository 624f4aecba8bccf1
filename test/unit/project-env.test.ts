import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { envBytes, MAX_ENV_TOTAL_BYTES, MAX_ENV_VARS, projectEnvProblem } from "../../src/domain/project-env.ts";

describe("project env bounds", () => {
  test("size counts NAME=value and a NUL per entry, in UTF-8 bytes", () => {
    assert.equal(envBytes({}), 0);
    assert.equal(envBytes({ A: "1" }), 4);
    assert.equal(envBytes({ EURO: "€" }), 4 + 3 + 2);
  });

  test("an environment at the bounds fits; one variable or one byte more does not", () => {
    const vars = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`V${i}`, ""]));
    assert.equal(projectEnvProblem(vars(MAX_ENV_VARS)), null);
    assert.match(projectEnvProblem(vars(MAX_ENV_VARS + 1)) ?? "", /at most 200 env variables \(this would make 201\)/);

    const fill = (extra: number) => ({ BIG: "x".repeat(MAX_ENV_TOTAL_BYTES - 5 + extra) });
    assert.equal(envBytes(fill(0)), MAX_ENV_TOTAL_BYTES);
    assert.equal(projectEnvProblem(fill(0)), null);
    assert.match(projectEnvProblem(fill(1)) ?? "", /at most 256 KiB in all/);
  });
});
