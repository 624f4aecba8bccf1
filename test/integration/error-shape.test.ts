// Every error a client can get, including the ones raised before any route runs (bad URL
// encoding, an unknown method, oversized or malformed headers), comes in the one documented
// shape, with its status, a hint saying what to do, whether to retry, and a request id that
// is also in the x-request-id header.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { ERRORS } from "../../src/domain/error-registry.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Sends bytes as they are (fetch would refuse or fix them) and reads the answer until the server closes. */
function rawRequest(url: string, request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()] as const),
      );
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: body ? JSON.parse(body) : undefined });
    });
  });
}

function assertShape(res: { status: number; headers: Record<string, string> | Headers; body: any }, code: keyof typeof ERRORS): void {
  const header = res.headers instanceof Headers ? res.headers.get("x-request-id") : res.headers["x-request-id"];
  assert.equal(res.status, ERRORS[code].status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body ?? {}), ["error"], JSON.stringify(res.body));
  const { error } = res.body;
  assert.deepEqual(Object.keys(error).sort(), ["code", "details", "hint", "message", "requestId", "retryable"]);
  assert.equal(error.code, code);
  assert.ok(error.message.length > 0);
  assert.equal(error.hint, ERRORS[code].hint);
  assert.equal(error.retryable, ERRORS[code].retryable);
  assert.deepEqual(typeof error.details, "object");
  assert.match(error.requestId, /^req_[0-9a-f]{16}$/);
  assert.equal(header, error.requestId, "the header and the body name the same request");
}

describe("the error shape, before and after routing", () => {
  let s: TestServer;
  const host = () => new URL(s.url).host;
  before(async () => {
    s = await startTestServer("external");
  });
  after(async () => s?.close());

  test("a path that is not valid percent-encoding is 400 BAD_URL", async () => {
    const res = await fetch(`${s.url}/api/v1/projects/%E0%A4%A`, { headers: { authorization: `Bearer ${s.token}` } });
    assertShape({ status: res.status, headers: res.headers, body: await res.json() }, "BAD_URL");
  });

  test("a method HTTP does not know is 405 METHOD_NOT_ALLOWED, naming it", async () => {
    const res = await rawRequest(s.url, `BREW /api/v1/projects HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
    assertShape(res, "METHOD_NOT_ALLOWED");
    assert.match(res.body.error.message, /BREW/);
  });

  test("headers over node's 16 KiB limit are 431 HEADERS_TOO_LARGE", async () => {
    const res = await rawRequest(s.url, `GET /api/v1/projects HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`);
    assertShape(res, "HEADERS_TOO_LARGE");
  });

  test("a request line that is not HTTP is 400 INVALID_REQUEST", async () => {
    const res = await rawRequest(s.url, `GET /a b c\r\nHost: ${host()}\r\n\r\n`);
    assertShape(res, "INVALID_REQUEST");
  });

  test("an unknown route is 404 ROUTE_NOT_FOUND", async () => {
    const res = await api(s, "GET", "/api/v1/nope");
    assertShape(res, "ROUTE_NOT_FOUND");
    assert.match(res.body.error.message, /GET \/api\/v1\/nope/);
  });

  test("a missing resource and a validation failure carry their hints too", async () => {
    assertShape(await api(s, "GET", "/api/v1/projects/prj_doesnotexist00"), "PROJECT_NOT_FOUND");
    const invalid = await api(s, "POST", "/api/v1/projects", { body: { name: "Not A DNS Label" } });
    assertShape(invalid, "VALIDATION_FAILED");
    assert.ok(invalid.body.error.details.issues.length > 0);
  });

  test("a failure that knows its own fix shows it as the hint (no bubblewrap: the install command)", async () => {
    const nobwrap = await startTestServer("external", { bwrapPath: "/nonexistent/bwrap" });
    try {
      assert.equal((await api(nobwrap, "POST", "/api/v1/projects", { body: { name: "nobwrap" } })).status, 201);
      const res = await api(nobwrap, "POST", "/api/v1/projects/nobwrap/sandboxes");
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, "SANDBOX_RUNTIME_UNAVAILABLE");
      assert.match(res.body.error.hint, /apt-get install -y bubblewrap/);
      assert.equal(res.body.error.retryable, false, "installing bubblewrap is up to a person");
    } finally {
      await nobwrap.close();
    }
  });

  test("the server keeps serving after refusing malformed requests", async () => {
    assert.equal((await api(s, "GET", "/healthz", { token: null })).status, 200);
  });
});
