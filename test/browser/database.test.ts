// The project's Database panel in a real headless Chromium against a real `outpost serve`
// whose projects get their databases from the machine's PostgreSQL (the `server`
// provisioner), with a real sandbox that reaches its database as DATABASE_URL. A person sees
// the database ready with its connection string masked and reveals it (the very one the
// sandbox has); a table made from inside the sandbox with psql shows with its row count; the
// query box answers a select and refuses an insert (read-only, and the row is not there
// afterwards); the dump downloads as SQL; reset asks for the project's name and empties it.
// Screenshots land in /tmp/outpost-ui-database*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium`, `psql`/`pg_dump` 15, the machine's PostgreSQL on
// 127.0.0.1:5432, bubblewrap, and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { deleteEverySandbox, exec, runningSandbox } from "../helpers/sandboxes.ts";
import { getOk, uiTestWith } from "../helpers/ui-test.ts";

const SANDBOX_TIMEOUT_MS = 3 * 60_000;
const PROJECT = "db-ui";
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

let server: OutpostServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let projectId: string;
let sandboxId: string;

interface DatabaseInfo {
  status: string;
  name: string;
  connectionString: string;
}

before(async () => {
  [server, browser] = await Promise.all([
    startOutpost({ env: { OUTPOST_DATABASE_PROVISIONER: "server", OUTPOST_DATABASE_ADMIN_URL: ADMIN_URL } }),
    launchChromium(),
  ]);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light", acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const project = await apiJson<{ id: string }>(server, "POST", "/api/v1/projects", { name: PROJECT, database: "postgres" });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  projectId = project.body.id;
  sandboxId = (await runningSandbox(server, projectId, SANDBOX_TIMEOUT_MS)).id;
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    // The database outlives the project unless dropped: drop it with the project.
    if (projectId) await apiJson(server, "DELETE", `/api/v1/projects/${projectId}?database=drop`).catch(() => {});
    await server.stop();
  }
});

const uiTest = uiTestWith(() => page, "database-");

const get = <T>(path: string) => getOk<T>(server, path);

/** psql inside the sandbox, against the DATABASE_URL the sandbox was given. */
async function sandboxPsql(sql: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return exec(server, sandboxId, ["sh", "-c", 'psql "$DATABASE_URL" -X -A -t -v ON_ERROR_STOP=1 -c "$1"', "sh", sql]);
}

describe("the Database panel", () => {
  uiTest("shows the database ready, its connection string masked, and reveals the one the sandbox has", async () => {
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/projects/${PROJECT}/database`);
    await page.getByRole("tab", { name: "Database", selected: true }).waitFor();
    const card = page.getByTestId("database");
    await page.locator('[data-testid=database][data-status="ready"]').waitFor();
    assert.equal(await card.getByTestId("database-status").textContent(), "ready");

    const info = await get<DatabaseInfo>(`/api/v1/projects/${projectId}/database`);
    assert.equal(info.status, "ready");
    assert.equal(await card.getByTestId("database-name").innerText(), info.name);
    assert.match(await card.getByTestId("database-version").innerText(), /^15\./);
    const masked = await card.getByTestId("database-connection-string").innerText();
    assert.equal(masked.trim(), info.connectionString);
    assert.match(masked, /\*\*\*\*/);

    await card.getByRole("button", { name: "Reveal" }).click();
    await card.getByRole("button", { name: "Hide" }).waitFor();
    const revealed = await get<DatabaseInfo>(`/api/v1/projects/${projectId}/database?reveal=true`);
    assert.doesNotMatch(revealed.connectionString, /\*\*\*\*/);
    await card.getByTestId("database-connection-string").filter({ hasText: revealed.connectionString }).waitFor();
    // The very string the sandbox has (compared inside: output would show the password redacted).
    const same = await exec(server, sandboxId, ["sh", "-c", '[ "$DATABASE_URL" = "$1" ]', "sh", revealed.connectionString]);
    assert.equal(same.exitCode, 0, "the revealed connection string is the sandbox's DATABASE_URL");
    await page.screenshot({ path: "/tmp/outpost-ui-database.png", fullPage: true });
    await card.getByRole("button", { name: "Hide" }).click();
    assert.equal((await card.getByTestId("database-connection-string").innerText()).trim(), info.connectionString);
  });

  uiTest("a table made inside the sandbox shows with its row count", async () => {
    const made = await sandboxPsql("create table notes (id int primary key, body text); insert into notes values (1, 'alpha'), (2, 'beta'), (3, 'gamma');");
    assert.equal(made.exitCode, 0, made.stderr);
    const tables = page.getByTestId("database-tables");
    await tables.getByRole("button", { name: "Refresh the tables" }).click();
    const row = tables.locator('[data-table="public.notes"]');
    await row.waitFor();
    assert.equal((await row.getByTestId("database-table-rows").innerText()).trim(), "3");
  });

  uiTest("the query box answers a select", async () => {
    const box = page.getByTestId("database-query");
    await box.getByLabel("SQL", { exact: true }).fill("select id, body from notes order by id");
    await box.getByRole("button", { name: "Run query" }).click();
    const result = box.getByTestId("database-query-result");
    await result.waitFor();
    const headers = await result.getByRole("columnheader").allInnerTexts();
    assert.deepEqual(
      headers.map((h) => h.trim()),
      ["id", "body"],
    );
    const cells = await result.getByRole("cell").allInnerTexts();
    assert.deepEqual(
      cells.map((c) => c.trim()),
      ["1", "alpha", "2", "beta", "3", "gamma"],
    );
    assert.match(await box.getByTestId("database-query-count").innerText(), /^3 rows in /);
  });

  uiTest("the query box refuses an insert: read-only, and the row is not there", async () => {
    const box = page.getByTestId("database-query");
    await box.getByLabel("SQL", { exact: true }).fill("insert into notes values (4, 'delta')");
    await box.getByRole("button", { name: "Run query" }).click();
    const alert = box.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /read-only/i);
    assert.equal(await box.getByTestId("database-query-result").count(), 0);
    const count = await sandboxPsql("select count(*) from notes");
    assert.equal(count.exitCode, 0, count.stderr);
    assert.equal(count.stdout.trim(), "3");
  });

  uiTest("Download dump saves the database as SQL", async () => {
    const card = page.getByTestId("database");
    const [download] = await Promise.all([page.waitForEvent("download"), card.getByRole("link", { name: "Download dump" }).click()]);
    const file = await download.path();
    const sql = readFileSync(file, "utf8");
    assert.match(sql, /CREATE TABLE public\.notes/);
    assert.match(sql, /gamma/);
  });

  uiTest("reset asks for the project's name and empties the database", async () => {
    const card = page.getByTestId("database");
    await card.getByRole("button", { name: "Reset…" }).click();
    const dialog = page.getByRole("dialog", { name: "Reset the database?" });
    await dialog.waitFor();
    const confirm = dialog.getByRole("button", { name: "Reset database" });
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel(`Type ${PROJECT} to confirm`).fill(`${PROJECT}-not`);
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel(`Type ${PROJECT} to confirm`).fill(PROJECT);
    await confirm.click();
    await dialog.waitFor({ state: "hidden" });

    await page.getByTestId("database-tables-empty").waitFor();
    assert.equal(await page.locator('[data-table="public.notes"]').count(), 0);
    const tables = await get<{ items: unknown[] }>(`/api/v1/projects/${projectId}/database/tables`);
    assert.deepEqual(tables.items, []);
    // The sandbox still reaches it, and it is empty.
    const gone = await sandboxPsql("select count(*) from notes");
    assert.notEqual(gone.exitCode, 0);
    assert.match(gone.stderr, /relation "notes" does not exist/);
    await page.screenshot({ path: "/tmp/outpost-ui-database-reset.png", fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
