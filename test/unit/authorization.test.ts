// The role table and authorize(): who may do what in a project, and how a refusal looks
// (no role: the thing seems missing; too weak a role: 403 naming the role needed).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ADMIN_ACTIONS,
  authorize,
  minimumRole,
  type Principal,
  type ProjectAction,
  ROLE_ACTIONS,
  ROLES,
  type Role,
  requireAdmin,
  requireAllowed,
} from "../../src/domain/authorization.ts";
import { ERRORS } from "../../src/domain/error-registry.ts";
import { notFound, OutpostError } from "../../src/domain/errors.ts";

const bob: Principal = { userId: "usr_bob000000000000", isAdmin: false };
const admin: Principal = { userId: "usr_admin0000000000", isAdmin: true };
const project = { id: "prj_shop00000000000", name: "shop" };

/** What docs/api.md promises, row by row: the weakest role for each action. */
const DOCUMENTED: Record<ProjectAction, Role> = {
  "project.read": "viewer",
  "project.members.read": "viewer",
  "sandbox.read": "viewer",
  "sandbox.process.read": "viewer",
  "sandbox.files.read": "viewer",
  "run.read": "viewer",
  "project.update": "editor",
  "project.env.reveal": "editor",
  "sandbox.create": "editor",
  "sandbox.lifecycle": "editor",
  "sandbox.exec": "editor",
  "sandbox.process.manage": "editor",
  "sandbox.terminal": "editor",
  "sandbox.preview": "editor",
  "sandbox.files.write": "editor",
  "run.create": "editor",
  "run.approve": "editor",
  "project.delete": "owner",
  "project.members.manage": "owner",
};

describe("the role table", () => {
  test("each action needs the role the API docs name for it", () => {
    assert.deepEqual(new Set(ROLE_ACTIONS.owner), new Set(Object.keys(DOCUMENTED)), "the owner may do every project action");
    for (const [action, role] of Object.entries(DOCUMENTED) as [ProjectAction, Role][]) assert.equal(minimumRole(action), role, action);
  });

  test("each role may do everything a weaker one may, and lists no action twice", () => {
    for (let i = 1; i < ROLES.length; i++) {
      const weaker = ROLE_ACTIONS[ROLES[i - 1]!];
      const stronger = new Set(ROLE_ACTIONS[ROLES[i]!]);
      for (const action of weaker) assert.ok(stronger.has(action), `${ROLES[i]} may ${action}`);
    }
    for (const role of ROLES) assert.equal(new Set(ROLE_ACTIONS[role]).size, ROLE_ACTIONS[role].length, role);
  });

  test("a viewer reads but cannot run anything, reveal env values or approve", () => {
    for (const action of [
      "sandbox.exec",
      "sandbox.terminal",
      "sandbox.preview",
      "sandbox.files.write",
      "run.create",
      "run.approve",
      "project.env.reveal",
    ] as const) {
      assert.deepEqual(authorize(bob, action, { role: "viewer" }), { allowed: false, as: "forbidden", needs: "editor" }, action);
    }
    assert.deepEqual(authorize(bob, "sandbox.read", { role: "viewer" }), { allowed: true });
  });

  test("an editor cannot manage members or delete the project", () => {
    assert.deepEqual(authorize(bob, "project.members.manage", { role: "editor" }), { allowed: false, as: "forbidden", needs: "owner" });
    assert.deepEqual(authorize(bob, "project.delete", { role: "editor" }), { allowed: false, as: "forbidden", needs: "owner" });
    assert.deepEqual(authorize(bob, "sandbox.exec", { role: "editor" }), { allowed: true });
  });
});

describe("authorize", () => {
  test("without a role every project action is not found, for admins too", () => {
    for (const action of ROLE_ACTIONS.owner) {
      assert.deepEqual(authorize(bob, action, { role: null }), { allowed: false, as: "not_found" }, action);
      assert.deepEqual(authorize(admin, action, { role: null }), { allowed: false, as: "not_found" }, `admin: ${action}`);
    }
  });

  test("managing users is for admins only, whatever their project roles", () => {
    for (const action of ADMIN_ACTIONS) {
      assert.deepEqual(authorize(admin, action, { role: null }), { allowed: true });
      assert.deepEqual(authorize(bob, action, { role: "owner" }), { allowed: false, as: "forbidden", needs: "admin" });
    }
  });

  test("no role reads as the very same 404 a missing sandbox gives", () => {
    const error = thrown(() => requireAllowed(bob, "sandbox.exec", { kind: "sandbox", ref: "shop-abc123", role: null, project }));
    const missing = notFound("sandbox", "shop-abc123");
    assert.equal(error.status, 404);
    assert.deepEqual([error.code, error.message, error.details, error.fix], [missing.code, missing.message, missing.details, missing.fix]);
  });

  test("too weak a role is 403 FORBIDDEN whose hint names the role and the command that grants it", () => {
    const error = thrown(() => requireAllowed(bob, "sandbox.exec", { kind: "sandbox", ref: "shop-abc123", role: "viewer", project }));
    assert.equal(error.code, "FORBIDDEN");
    assert.equal(ERRORS[error.code].status, 403);
    assert.match(error.message, /is viewer; you need editor to run commands/);
    assert.equal(error.fix, `Ask an owner of 'shop' to run \`outpost project member add ${project.id} ${bob.userId} --role editor\`.`);
    assert.deepEqual(error.details, { action: "sandbox.exec", role: "viewer", needs: "editor" });
  });

  test("a non-admin managing users is told to ask an admin", () => {
    const error = thrown(() => requireAdmin(bob, "user.manage"));
    assert.equal(error.code, "FORBIDDEN");
    assert.match(error.fix ?? "", /admin/);
    assert.doesNotThrow(() => requireAdmin(admin, "user.manage"));
  });
});

function thrown(fn: () => void): OutpostError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof OutpostError);
    return error;
  }
  assert.fail("expected a refusal");
}
