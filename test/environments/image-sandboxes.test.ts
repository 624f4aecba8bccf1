// Sandboxes on an image of their own (issue 20), end to end with the real bwrap: a Debian
// root made by debootstrap (kept between runs, see helpers/environments.ts) boots a sandbox;
// commands run as the sandbox user, `user: "root"` as root inside; `apt-get install` works
// as root and persists across stop and start; on the host nothing of the sandbox runs as
// root, and its two host uids are its own.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEBIAN_ROOT_CACHE, stageOf } from "../helpers/environments.ts";
import { deleteEverySandbox, exec, hostPidsOfUid, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

/** The pid and every descendant of it, alive now. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {}
  }
  const found: number[] = [];
  const visit = (pid: number) => {
    found.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return found;
}

describe("a sandbox on a Debian image, root inside and never on the host", () => {
  let s: TestServer;
  let box: any;

  before(async () => {
    s = await startTestServer("embedded", { debianRootCache: DEBIAN_ROOT_CACHE });
    const env = await api(s, "POST", "/api/v1/environments", { body: { name: "deb", image: "debian:bookworm" } });
    assert.equal(env.status, 201, JSON.stringify(env.body));
    const project = await api(s, "POST", "/api/v1/projects", { body: { name: "imaged", environment: "deb", egress: { allow: ["deb.debian.org"] } } });
    assert.equal(project.status, 201, JSON.stringify(project.body));
    assert.equal(project.body.environment, "deb");
    box = await runningSandbox(s, "imaged", 600_000);
  });
  after(async () => {
    if (s) await deleteEverySandbox(s);
    await s?.close();
  });

  test("the environment stage comes first and names the image; the sandbox runs Debian's userland", async () => {
    const stage = await stageOf(s, box.id, "environment");
    assert.equal(stage?.state, "done");
    assert.match(stage?.message ?? "", /^deb: (built|cached) \(img-/);
    const release = await exec(s, box.id, ["cat", "/etc/os-release"]);
    assert.match(release.stdout, /bookworm/);
  });

  test("commands run as the sandbox user by default, as root inside when asked", async () => {
    const user = await exec(s, box.id, ["sh", "-c", "id -u; id -un; echo $HOME"]);
    assert.equal(user.stdout, "1000\noutpost\n/home/outpost\n");
    const root = await exec(
      s,
      box.id,
      ["sh", "-c", "id -u; echo $HOME; touch /usr/local/bin/made-by-root && echo ok; test -r /run/outpost/ca-bundle.pem && echo trusts"],
      {
        user: "root",
      },
    );
    assert.equal(root.stdout, "0\n/root\nok\ntrusts\n", root.stderr);
    const denied = await exec(s, box.id, ["touch", "/usr/local/bin/not-by-user"]);
    assert.notEqual(denied.exitCode, 0, "the sandbox user cannot write the image");
    // System users and groups work as package scripts use them (root's block maps ids 0–999).
    const system = await exec(
      s,
      box.id,
      [
        "sh",
        "-c",
        "groupadd -r appgroup && useradd -r -g appgroup svc && chgrp appgroup /usr/local/bin/made-by-root && stat -c %G /usr/local/bin/made-by-root && setpriv --reuid=svc --regid=appgroup --clear-groups id -un",
      ],
      { user: "root" },
    );
    assert.equal(system.stdout, "appgroup\nsvc\n", system.stderr);
  });

  test("apt-get install works as root and the package survives a stop and a start", async () => {
    const install = await exec(s, box.id, ["sh", "-c", "apt-get update -qq && apt-get install -y -qq jq >/dev/null && jq --version"], {
      user: "root",
      timeoutMs: 600_000,
    });
    assert.equal(install.exitCode, 0, install.stderr.slice(-2000));
    assert.match(install.stdout, /^jq-/m);

    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/stop`)).status, 202);
    await waitForPhase(s, box.id, ["stopped"]);
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/start`)).status, 202);
    await waitForPhase(s, box.id, ["running"], 120_000);
    const after = await exec(s, box.id, ["sh", "-c", "jq --version && ls /usr/local/bin/made-by-root"]);
    assert.equal(after.exitCode, 0, after.stderr);
    assert.match(after.stdout, /^jq-/);
  });

  test("on the host, the sandbox's processes run as its two unprivileged uids, never as root", async () => {
    // What the driver recorded on the host (the API does not show host uids).
    const dir = join(s.settings.dataDir, "sandboxes", box.id);
    const { hostUid, hostRootUid } = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8"));
    const initPid = JSON.parse(readFileSync(join(dir, "runtime.json"), "utf8")).init.pid;
    assert.ok(Number.isInteger(hostUid) && Number.isInteger(hostRootUid) && hostUid !== hostRootUid, `${hostUid} ${hostRootUid}`);
    assert.ok(hostUid >= 200000 && hostRootUid >= 200000, "both are in the reserved range, not 0");
    // A root command that stays: on the host it is the sandbox's root uid.
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: ["sleep", "300"], user: "root" } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.ok(hostPidsOfUid(hostRootUid).length > 0, "root inside is the sandbox's root host uid");
    const tree = processTree(initPid);
    assert.ok(tree.length >= 2, "the supervisor and the sleep");
    for (const pid of tree) {
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      // The user's uid, or root's block (root and the system ids inside).
      for (const uid of uids?.slice(1) ?? [])
        assert.ok(Number(uid) === hostUid || (Number(uid) >= hostRootUid && Number(uid) < hostRootUid + 1000), `pid ${pid} runs as host uid ${uid}`);
    }
  });
});
