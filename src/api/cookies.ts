// The only cookie Outpost sets is the browser session; a tiny parser is all it needs.

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function sessionCookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  // Lax, not Strict: the login link is opened from a terminal (a cross-site navigation)
  // and must land signed in. Mutations are additionally checked against Origin.
  return `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}
