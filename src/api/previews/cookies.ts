// The preview cookie: set by the preview origin itself (host-only: no Domain attribute, so
// no other preview and not the UI ever receives it), HttpOnly (the app's JavaScript cannot
// read it), SameSite=Lax (another site's page cannot make requests that carry it, except
// top-level navigations). The app behind the preview may set cookies of its own on its
// origin: the proxy forwards those, and removes only this one from what it forwards.

export const PREVIEW_COOKIE = "outpost_preview";

/** Every value of `name` in a Cookie header: a browser may send several (other paths or domains). */
export function cookieValues(header: string | string[] | undefined, name: string): string[] {
  const values: string[] = [];
  for (const line of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of line.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
    }
  }
  // A session value is 43 characters of base64url: anything else is not ours to look up.
  return values.filter((value) => /^[A-Za-z0-9_-]{16,128}$/.test(value)).slice(0, 8);
}

/** The Cookie header without `name` (undefined when nothing else is left). */
export function withoutCookie(header: string, name: string): string | undefined {
  const kept = header
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part !== "" && part.slice(0, Math.max(part.indexOf("="), 0)).trim() !== name);
  return kept.length ? kept.join("; ") : undefined;
}

export function previewCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${PREVIEW_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure ? "; Secure" : ""}`;
}
