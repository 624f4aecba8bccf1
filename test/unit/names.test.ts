import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { branchNameProblem, envNameProblem, projectNameProblem, repoUrlProblem } from "../../src/domain/names.ts";

describe("project names", () => {
  test("lowercase DNS labels up to 40 characters are accepted", () => {
    for (const name of ["a", "web", "my-app-2", "a".repeat(40)]) assert.equal(projectNameProblem(name), null, name);
  });

  test("names that are not DNS-safe are refused with a reason", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["a".repeat(41), /at most 40/],
      ["My-App", /lowercase/],
      ["my_app", /lowercase/],
      ["../etc", /lowercase/],
      ["a.b", /lowercase/],
      ["1app", /start with a lowercase letter/],
      ["-app", /start with a lowercase letter/],
      ["app-", /end with '-'/],
      ["app\u00e9", /lowercase/],
    ];
    for (const [name, reason] of cases) assert.match(projectNameProblem(name) ?? "accepted", reason, JSON.stringify(name));
  });
});

describe("repository URLs", () => {
  test("https, http, ssh and scp-like URLs are accepted", () => {
    for (const url of ["https://github.com/acme/app.git", "http://git.local/acme/app", "ssh://git@github.com/acme/app.git", "git@github.com:acme/app.git"]) {
      assert.equal(repoUrlProblem(url), null, url);
    }
  });

  test("transports that run commands or read the host are refused", () => {
    for (const url of ["ext::sh -c touch% /tmp/pwned", "ext::ssh", "file:///etc", "/etc/passwd", "../repo", "git://example.com/x", "fd::3", "-uhelp"]) {
      assert.notEqual(repoUrlProblem(url), null, url);
    }
  });

  test("credentials inside the URL are refused so they are never stored in plain text", () => {
    assert.match(repoUrlProblem("https://user:ghp_secret@github.com/acme/app.git") ?? "", /password or token/);
  });

  test("an scp-like path that looks like an option is refused", () => {
    assert.notEqual(repoUrlProblem("git@github.com:-oProxyCommand=x"), null);
    // Hosts and users ssh would read as options.
    for (const url of [
      "ssh://-oProxyCommand=x/a.git",
      "ssh://-oProxyCommand=x@host/a.git",
      "git@-oProxyCommand=x:a.git",
      "-oX@host:a.git",
      "https://-evil.example/a.git",
    ]) {
      assert.notEqual(repoUrlProblem(url), null, url);
    }
    for (const url of ["ssh://git@[::1]:2222/a.git", "https://git.example.co.uk/a/b.git", "ssh://root@host.outpost.internal:2222/srv/a.git"]) {
      assert.equal(repoUrlProblem(url), null, url);
    }
  });
});

describe("branch names", () => {
  test("ordinary branch names pass", () => {
    for (const name of ["main", "feature/x-1", "release-2.0"]) assert.equal(branchNameProblem(name), null, name);
  });
  test("names git would refuse or that look like options fail", () => {
    for (const name of ["", "-f", "a..b", "a b", "x.lock", "a/", "/a", "a//b", "a~1", "a^", "a:b", ".hidden", "a/.b", "@"]) {
      assert.notEqual(branchNameProblem(name), null, JSON.stringify(name));
    }
  });
});

describe("env names", () => {
  test("env names follow shell rules", () => {
    for (const n of ["PATH", "_x", "API_KEY_2"]) assert.equal(envNameProblem(n), null, n);
    for (const n of ["", "1A", "A-B", "A B", "A=B"]) assert.notEqual(envNameProblem(n), null, n);
  });
});
