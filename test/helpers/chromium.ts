// Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core
// (no browser download). OUTPOST_CHROMIUM points at another Chromium binary.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.OUTPOST_CHROMIUM ?? "/usr/bin/chromium";

/** Flags that keep Chromium quiet and local: nothing but the pages a test opens. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install it with \`apt-get install -y chromium\`, or set OUTPOST_CHROMIUM to a Chromium binary`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
}
