import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSettings } from "../../src/config/settings.ts";
import { checkNode } from "../../src/doctor.ts";
import { StartupError } from "../../src/domain/errors.ts";

describe("settings", () => {
  test("defaults bind to 127.0.0.1:7300 with ./.outpost as the data dir", () => {
    const s = loadSettings({});
    assert.equal(s.host, "127.0.0.1");
    assert.equal(s.port, 7300);
    assert.ok(s.dataDir.endsWith("/.outpost"));
    assert.equal(s.databaseUrl, undefined);
  });
  test("OUTPOST_PORT, OUTPOST_HOST, OUTPOST_DATA_DIR and DATABASE_URL are honoured", () => {
    const s = loadSettings({ OUTPOST_PORT: "8123", OUTPOST_HOST: "0.0.0.0", OUTPOST_DATA_DIR: "/tmp/x", DATABASE_URL: "postgres://u@h/db" });
    assert.deepEqual([s.port, s.host, s.dataDir, s.databaseUrl], [8123, "0.0.0.0", "/tmp/x", "postgres://u@h/db"]);
  });
  test("a bad value is a start-up error naming the variable and the fix", () => {
    assert.throws(
      () => loadSettings({ OUTPOST_PORT: "http" }),
      (e: unknown) => e instanceof StartupError && /port/.test(e.message) && /OUTPOST_PORT/.test(e.fix),
    );
    assert.throws(
      () => loadSettings({ DATABASE_URL: "mysql://x" }),
      (e: unknown) => e instanceof StartupError && /DATABASE_URL/.test(e.fix),
    );
  });
});

describe("doctor's Node check", () => {
  test("Node 20.10 and newer pass, older versions fail with a fix", () => {
    assert.equal(checkNode("20.10.0").ok, true);
    assert.equal(checkNode("24.1.0").ok, true);
    const old = checkNode("18.19.0");
    assert.equal(old.ok, false);
    assert.match(old.fix ?? "", /Node\.js/);
  });
});
