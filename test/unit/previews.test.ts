// The pure parts of previews: which Host or path is a preview's, which `next` a redirect may
// follow, the preview cookie, OUTPOST_PREVIEW_DOMAIN, the supervisor's /proc/net parsing;
// and the proxy's first-byte deadline and malformed answers over real local sockets.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from "node:net";
import { describe, test } from "node:test";
import { cookieValues, previewCookie, withoutCookie } from "../../src/api/previews/cookies.ts";
import { claimOf, PreviewOrigins, safeNext } from "../../src/api/previews/host.ts";
import { proxyRequest } from "../../src/api/previews/proxy.ts";
import { loadSettings } from "../../src/config/settings.ts";
import { StartupError } from "../../src/domain/errors.ts";
import { parseProcNet } from "../../src/supervisor/daemon/ports.ts";

describe("preview hosts and paths", () => {
  test("<port>-<sandbox>.localhost and .<preview domain> are previews, with any port in the Host", () => {
    assert.deepEqual(claimOf("3000-shop-a1b2c3.localhost:7300", "/x", undefined), { kind: "origin", sandbox: "shop-a1b2c3", port: 3000 });
    assert.deepEqual(claimOf("3000-SHOP-A1B2C3.LOCALHOST.", "/", undefined), { kind: "origin", sandbox: "shop-a1b2c3", port: 3000 });
    assert.deepEqual(claimOf("8080-web-xyz123.preview.example.com", "/", "preview.example.com:8443"), { kind: "origin", sandbox: "web-xyz123", port: 8080 });
    assert.deepEqual(claimOf("8080-web-xyz123.localhost", "/", "preview.example.com"), { kind: "origin", sandbox: "web-xyz123", port: 8080 });
  });

  test("other hosts are the API's: the main origin, deeper names, other domains, IP literals", () => {
    for (const host of ["127.0.0.1:7300", "localhost:7300", "outpost.example.com", "a.3000-shop-a1b2c3.localhost", "[::1]:7300", undefined]) {
      assert.equal(claimOf(host, "/api/v1/projects", "preview.example.com"), null, String(host));
    }
    assert.equal(claimOf("3000-shop-a1b2c3.example.com", "/", "preview.example.com"), null);
  });

  test("a name in the preview namespace that names no preview is invalid, not the API's", () => {
    for (const label of ["0-shop", "70000-shop", "abc-shop", "3000-shop-", "3000-Shop_1", "3000", "-shop", "99999-shop"]) {
      assert.deepEqual(claimOf(`${label}.localhost:7300`, "/", undefined), { kind: "invalid", where: "origin" }, label);
    }
  });

  test("/preview/<sandbox>/<port>/… on the main origin, with the rest of the path for the app", () => {
    assert.deepEqual(claimOf("127.0.0.1:7300", "/preview/shop-a1b2c3/3000/a/b?c=1", undefined), {
      kind: "bearer",
      sandbox: "shop-a1b2c3",
      port: 3000,
      path: "/a/b?c=1",
    });
    assert.equal((claimOf("127.0.0.1", "/preview/sbx_abc/80", undefined) as { path: string }).path, "/");
    assert.equal((claimOf("127.0.0.1", "/preview/sbx_abc/80?x=1", undefined) as { path: string }).path, "/?x=1");
    for (const url of ["/preview", "/preview/", "/preview/shop", "/preview/shop/0/", "/preview/shop/65536/", "/preview/sh%20op/80/", "/preview/shop/8a0/"]) {
      assert.deepEqual(claimOf("127.0.0.1", url, undefined), { kind: "invalid", where: "bearer" }, url);
    }
    assert.equal(claimOf("127.0.0.1", "/previews/x", undefined), null);
  });

  test("next: only a path on the same origin", () => {
    assert.equal(safeNext(undefined), "/");
    assert.equal(safeNext("/app?tab=1#top"), "/app?tab=1#top");
    assert.equal(safeNext("/a/../b"), "/b");
    for (const bad of ["https://evil.com", "//evil.com", "/\\evil.com", "\\\\evil.com", "evil.com", "javascript:alert(1)", "/a\nb", `/${"a".repeat(2048)}`]) {
      assert.equal(safeNext(bad), null, bad);
    }
  });

  test("origins follow the UI's scheme and port, or the preview domain", () => {
    const local = new PreviewOrigins(undefined, () => "http://127.0.0.1:7300");
    assert.equal(local.origin("shop-a1b2c3", 3000), "http://3000-shop-a1b2c3.localhost:7300");
    assert.equal(local.openUrl("shop-a1b2c3", 3000, "/x?y=1"), "http://127.0.0.1:7300/api/v1/sandboxes/shop-a1b2c3/previews/3000/open?next=%2Fx%3Fy%3D1");
    assert.equal(local.secure(), false);
    const domain = new PreviewOrigins("preview.example.com", () => "https://outpost.example.org");
    assert.equal(domain.origin("shop-a1b2c3", 3000), "https://3000-shop-a1b2c3.preview.example.com");
    assert.equal(domain.loginUrl("shop-a1b2c3", 3000, { share: "tok" }), "https://3000-shop-a1b2c3.preview.example.com/__outpost/preview-login?share=tok");
    assert.equal(domain.secure(), true);
  });
});

describe("the preview cookie", () => {
  const token = "A".repeat(43);
  test("is host-only, HttpOnly, SameSite=Lax, Path=/ (Secure over https)", () => {
    assert.equal(previewCookie(token, 60, false), `outpost_preview=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60`);
    assert.match(previewCookie(token, 60, true), /; Secure$/);
    assert.doesNotMatch(previewCookie(token, 60, true), /Domain/i);
  });

  test("every value of it is read (several may arrive), junk is ignored, and it alone is removed from what the app gets", () => {
    assert.deepEqual(cookieValues(`a=1; outpost_preview=${token}; outpost_preview=${"B".repeat(43)}; outpost_preview=<junk>`, "outpost_preview"), [
      token,
      "B".repeat(43),
    ]);
    assert.deepEqual(cookieValues(undefined, "outpost_preview"), []);
    assert.equal(withoutCookie(`theme=dark; outpost_preview=${token}; lang=en`, "outpost_preview"), "theme=dark; lang=en");
    assert.equal(withoutCookie(`outpost_preview=${token}`, "outpost_preview"), undefined);
    assert.equal(withoutCookie("flag; outpost_previewer=1", "outpost_preview"), "flag; outpost_previewer=1");
  });
});

describe("OUTPOST_PREVIEW_DOMAIN", () => {
  test("a DNS name, optionally with a port, lower-cased", () => {
    assert.equal(loadSettings({ OUTPOST_PREVIEW_DOMAIN: "Preview.Example.COM." }).previewDomain, "preview.example.com");
    assert.equal(loadSettings({ OUTPOST_PREVIEW_DOMAIN: "previews.test:8443" }).previewDomain, "previews.test:8443");
    assert.equal(loadSettings({}).previewDomain, undefined);
  });

  test("a URL, a single label, a wildcard or the UI's own domain is a start-up error naming the variable", () => {
    for (const [value, extra] of [
      ["https://preview.example.com", {}],
      ["localhost", {}],
      ["*.preview.example.com", {}],
      ["preview.example.com/path", {}],
      ["example.com", { OUTPOST_PUBLIC_URL: "https://outpost.example.com" }],
      ["outpost.example.com", { OUTPOST_PUBLIC_URL: "https://outpost.example.com" }],
    ] as const) {
      assert.throws(
        () => loadSettings({ OUTPOST_PREVIEW_DOMAIN: value, ...extra }),
        (e: unknown) => e instanceof StartupError && /OUTPOST_PREVIEW_DOMAIN/.test(e.fix),
        value,
      );
    }
    assert.equal(
      loadSettings({ OUTPOST_PREVIEW_DOMAIN: "preview-example.com", OUTPOST_PUBLIC_URL: "https://outpost.example.com" }).previewDomain,
      "preview-example.com",
    );
  });
});

describe("the supervisor's /proc/net/tcp parsing", () => {
  const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  test("LISTEN sockets with their address and inode; connections and garbage skipped", () => {
    const tcp = `${head}   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1234 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1235 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0BB8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 1236 1 0000000000000000 20 4 30 10 -1
   3: garbage line
   4: 0100007F:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1237 1
`;
    assert.deepEqual(parseProcNet(tcp, 4), [
      { port: 3000, address: "127.0.0.1", inode: "1234" },
      { port: 8080, address: "0.0.0.0", inode: "1235" },
    ]);
  });

  test("IPv6: ::, ::1 and IPv4-mapped addresses", () => {
    const tcp6 = `${head}   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 99 1
   1: 00000000000000000000000001000000:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 98 1
   2: 0000000000000000FFFF00000100007F:0BBA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 97 1
`;
    assert.deepEqual(
      parseProcNet(tcp6, 6).map((s) => [s.port, s.address]),
      [
        [3000, "::"],
        [3001, "::1"],
        [3002, "::ffff:127.0.0.1"],
      ],
    );
  });
});

describe("the proxy towards an untrusted app (real local sockets)", () => {
  /** A front server proxying every request to `appPort` through a plain TCP socket as the tunnel. */
  async function front(appPort: number, firstByteTimeoutMs: number): Promise<{ server: Server; port: number; errors: Error[] }> {
    const errors: Error[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const tunnel = connect(appPort, "127.0.0.1");
      proxyRequest(req, res, tunnel, { host: "3000-x.localhost", path: req.url ?? "/", mode: "origin", proto: "http", firstByteTimeoutMs }).catch(
        (error: Error) => {
          errors.push(error);
          res.writeHead(599).end((error as { code?: string }).code);
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as AddressInfo).port, errors };
  }

  async function tcpApp(onConnection: (socket: Socket) => void): Promise<{ close(): void; port: number }> {
    const sockets = new Set<Socket>();
    const app = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      onConnection(socket);
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    return {
      port: (app.address() as AddressInfo).port,
      close: () => {
        for (const socket of sockets) socket.destroy();
        app.close();
      },
    };
  }

  const get = (port: number) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on("error", reject)
        .end();
    });

  test("an app that never answers gets PREVIEW_APP_TIMEOUT once the first-byte deadline passes", async () => {
    const app = await tcpApp(() => {});
    const proxy = await front(app.port, 200);
    try {
      assert.deepEqual(await get(proxy.port), { status: 599, body: "PREVIEW_APP_TIMEOUT" });
    } finally {
      app.close();
      proxy.server.close();
    }
  });

  test("headers over 16 KiB or bytes that are not HTTP are PREVIEW_APP_BAD_RESPONSE; a slow body after the headers streams on", async () => {
    const huge = await tcpApp((socket) => socket.end(`HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(20 * 1024)}\r\n\r\n`));
    const junk = await tcpApp((socket) => socket.end("\u0000\u0001 binary junk\r\n\r\n"));
    const slowBody = await tcpApp((socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab");
      setTimeout(() => socket.end("cd"), 400);
    });
    const proxies = await Promise.all([front(huge.port, 60_000), front(junk.port, 60_000), front(slowBody.port, 200)]);
    try {
      assert.deepEqual(await get(proxies[0].port), { status: 599, body: "PREVIEW_APP_BAD_RESPONSE" });
      assert.deepEqual(await get(proxies[1].port), { status: 599, body: "PREVIEW_APP_BAD_RESPONSE" });
      assert.deepEqual(await get(proxies[2].port), { status: 200, body: "abcd" }, "the deadline is for the first byte only");
    } finally {
      for (const app of [huge, junk, slowBody]) app.close();
      for (const proxy of proxies) proxy.server.close();
    }
  });
});
