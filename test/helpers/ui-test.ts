// Browser tests: a `test` that leaves a screenshot of the page behind when it fails (and
// whatever else `onFailure` prints, e.g. the server's log), and a GET that must answer 200.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { apiJson, type OutpostServer } from "../cli/harness.ts";

export type UiTest = (name: string, body: () => Promise<void>, timeout?: number) => void;

/** `page` is read when a test fails (it is made in before()); screenshots go to /tmp/outpost-ui-<prefix>failure-<name>.png. */
export function uiTestWith(page: () => Page, prefix: string, onFailure?: () => void): UiTest {
  return (name, body, timeout) => {
    test(name, { timeout }, async () => {
      try {
        await body();
      } catch (error) {
        const file = `/tmp/outpost-ui-${prefix}failure-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`;
        await page()
          .screenshot({ path: file, fullPage: true })
          .catch(() => {});
        onFailure?.();
        throw error;
      }
    });
  };
}

/** The API's answer to a GET that must succeed. */
export async function getOk<T>(server: OutpostServer, path: string): Promise<T> {
  const answer = await apiJson<T>(server, "GET", path);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}
