// The few pages a browser may meet on a preview origin when it cannot see the app: not
// signed in to this preview (with a link that opens it through Outpost), a used or expired
// link, or an error on the way to the app. Everything interpolated is escaped.

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}@media(prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8cf}}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** No valid preview cookie: the preview opens from Outpost, which signs this browser in to it. */
export function signInPage(what: string, openUrl: string): string {
  return page(
    "Open this preview from Outpost",
    `<p>${escapeHtml(what)} is a preview of a sandbox. Previews open from Outpost, which signs this browser in to each one separately.</p>
<p><a href="${escapeHtml(openUrl)}">Open it through Outpost</a> (you may be asked to sign in there first).</p>`,
  );
}

export function linkInvalidPage(kind: "code" | "share"): string {
  return kind === "code"
    ? page("This preview link does not work", "<p>It was used already or has expired (links are good for a minute). Open the preview again from Outpost.</p>")
    : page("This share link does not work", "<p>It has expired or was revoked. Ask whoever shared it for a new one.</p>");
}

export function errorPage(message: string, hint: string): string {
  return page("The preview cannot be shown", `<p>${escapeHtml(message)}</p><p>${escapeHtml(hint)}</p>`);
}
