// The dialler against stub resolvers. Every real connection goes to a listener on
// 127.0.0.1: when a test needs a public address to be "dialled", the connect seam records
// the address and opens the socket to the local listener instead.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, isIP, type Server, Socket } from "node:net";
import type { NetworkInterfaceInfo } from "node:os";
import { after, before, describe, test } from "node:test";
import { DialError, type DialOptions, dialChecked, interfaceAddresses, type LookupAll } from "../../src/egress/dial.ts";

let echo: Server;
let echoPort: number;
let closedPort: number;
const accepted = new Set<Socket>();

before(async () => {
  echo = createServer((socket) => {
    accepted.add(socket);
    socket.on("close", () => accepted.delete(socket));
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  echoPort = (echo.address() as AddressInfo).port;
  // A port that was just free and is closed again: connections to it are refused.
  const closed = createServer().listen(0, "127.0.0.1");
  await once(closed, "listening");
  closedPort = (closed.address() as AddressInfo).port;
  closed.close();
  await once(closed, "close");
});

after(() => {
  for (const socket of accepted) socket.destroy();
  echo.close();
});

function answers(...addresses: string[]): LookupAll {
  return async () => addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
}

const noLookup: LookupAll = () => assert.fail("an IP literal must not be looked up");

/** A connect seam that records each checked address and connects to a 127.0.0.1 port instead. */
function localConnect(ports: (address: string) => number = () => echoPort) {
  const dialled: { address: string; family: 4 | 6; port: number }[] = [];
  const noDelay: (boolean | undefined)[] = [];
  const connectSeam = (address: string, family: 4 | 6, port: number): Socket => {
    dialled.push({ address, family, port });
    const socket = connect(ports(address), "127.0.0.1");
    const setNoDelay = socket.setNoDelay.bind(socket);
    socket.setNoDelay = (value?: boolean) => {
      noDelay.push(value);
      return setNoDelay(value);
    };
    return socket;
  };
  return { dialled, noDelay, connect: connectSeam };
}

async function dialError(options: DialOptions): Promise<DialError> {
  const outcome = await dialChecked(options).then(
    (result) => {
      result.socket.destroy();
      return new Error(`dialled ${result.address}`);
    },
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof DialError, `expected a DialError, got ${String(outcome)}`);
  return outcome;
}

async function assertEchoes(socket: Socket): Promise<void> {
  socket.write("ping");
  const [data] = await once(socket, "data");
  assert.equal(String(data), "ping");
  socket.destroy();
}

/** The seam for tests that expect no connection: a bug that dials anyway fails here instead of sending traffic. */
function refuseToDial(address: string): Socket {
  assert.fail(`this test must dial nothing, but dialled ${address}`);
}

const base = { port: 443, hostAddresses: () => new Set<string>(), connect: refuseToDial };

describe("refused addresses", () => {
  test("a name resolving to a private address is refused and nothing is dialled", async () => {
    const seam = localConnect();
    const error = await dialError({ ...base, host: "api.example.com", allowNonPublic: false, lookup: answers("10.0.0.5"), connect: seam.connect });
    assert.equal(error.code, "ADDRESS_REFUSED");
    assert.equal(error.addressClass, "private");
    assert.equal(error.address, "10.0.0.5");
    assert.match(error.message, /^api\.example\.com resolves to 10\.0\.0\.5 \(private\); .*allow rule naming this host exactly$/);
    assert.doesNotMatch(error.message, /\n/);
    assert.deepEqual(seam.dialled, []);
  });

  test("the cloud metadata address is refused as link-local", async () => {
    const seam = localConnect();
    const error = await dialError({ ...base, host: "metadata.example", allowNonPublic: false, lookup: answers("169.254.169.254"), connect: seam.connect });
    assert.equal(error.code, "ADDRESS_REFUSED");
    assert.equal(error.addressClass, "link-local");
    assert.deepEqual(seam.dialled, []);
  });

  test("an IPv4-mapped IPv6 answer is judged by the IPv4 address inside", async () => {
    const seam = localConnect();
    const error = await dialError({ ...base, host: "sneaky.example", allowNonPublic: false, lookup: answers("::ffff:127.0.0.1"), connect: seam.connect });
    assert.equal(error.code, "ADDRESS_REFUSED");
    assert.equal(error.addressClass, "loopback");
    assert.equal(error.address, "127.0.0.1");
    assert.deepEqual(seam.dialled, []);
  });

  test("one of the host's own addresses is refused as 'host'", async () => {
    const seam = localConnect();
    const error = await dialError({
      ...base,
      host: "me.example",
      allowNonPublic: false,
      lookup: answers("8.8.8.8"),
      hostAddresses: () => new Set(["8.8.8.8"]),
      connect: seam.connect,
    });
    assert.equal(error.addressClass, "host");
    assert.deepEqual(seam.dialled, []);
  });

  test("IP literals are classified without a lookup, in every spelling", async () => {
    for (const [host, address] of [
      ["127.0.0.1", "127.0.0.1"],
      ["0x7f.1", "127.0.0.1"],
      ["2130706433", "127.0.0.1"],
      ["[::ffff:169.254.169.254]", "169.254.169.254"],
    ]) {
      const seam = localConnect();
      const error = await dialError({ ...base, host: host!, allowNonPublic: false, lookup: noLookup, connect: seam.connect });
      assert.equal(error.code, "ADDRESS_REFUSED", host);
      assert.equal(error.address, address, host);
      assert.deepEqual(seam.dialled, [], host);
    }
  });

  test("a numeric-looking host that is no valid address is refused, never resolved", async () => {
    const error = await dialError({ ...base, host: "08.0.0.1", allowNonPublic: true, lookup: noLookup });
    assert.equal(error.code, "ADDRESS_REFUSED");
    assert.match(error.message, /neither a host name nor an IP address/);
  });

  test("the message lists at most three refused addresses", async () => {
    const error = await dialError({
      ...base,
      host: "lan.example",
      allowNonPublic: false,
      lookup: answers("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::1"),
    });
    assert.match(error.message, /^lan\.example resolves to 10\.0\.0\.1 \(private\), 10\.0\.0\.2 \(private\), 10\.0\.0\.3 \(private\) and 2 more;/);
  });
});

describe("what is dialled", () => {
  test("from a mix of public and private answers only the public address is dialled, with no delay", async () => {
    const seam = localConnect();
    const result = await dialChecked({
      ...base,
      host: "mixed.example",
      allowNonPublic: false,
      lookup: answers("10.0.0.5", "8.8.8.8", "169.254.169.254"),
      connect: seam.connect,
    });
    assert.deepEqual(seam.dialled, [{ address: "8.8.8.8", family: 4, port: 443 }]);
    assert.equal(result.address, "8.8.8.8");
    assert.equal(result.addressClass, "public");
    assert.deepEqual(seam.noDelay, [true]);
    await assertEchoes(result.socket);
  });

  test("a rebinding resolver is asked once and the checked address is the one dialled", async () => {
    let lookups = 0;
    const rebinding: LookupAll = async () => {
      lookups += 1;
      return [{ address: lookups === 1 ? "8.8.8.8" : "127.0.0.1", family: 4 }];
    };
    const seam = localConnect();
    const result = await dialChecked({ ...base, host: "rebind.example", allowNonPublic: false, lookup: rebinding, connect: seam.connect });
    assert.equal(lookups, 1);
    assert.deepEqual(
      seam.dialled.map((entry) => entry.address),
      ["8.8.8.8"],
    );
    assert.equal(result.address, "8.8.8.8");
    result.socket.destroy();
  });

  test("the connect seam is only ever handed IP addresses, never the name", async () => {
    const seam = localConnect();
    const result = await dialChecked({ ...base, host: "v6.example", allowNonPublic: false, lookup: answers("2606:4700:4700::1111"), connect: seam.connect });
    assert.deepEqual(seam.dialled, [{ address: "2606:4700:4700::1111", family: 6, port: 443 }]);
    result.socket.destroy();
  });

  test("when the first address refuses the connection, the next one is tried", async () => {
    const seam = localConnect((address) => (address === "8.8.8.8" ? closedPort : echoPort));
    const result = await dialChecked({ ...base, host: "two.example", allowNonPublic: false, lookup: answers("8.8.8.8", "8.8.4.4"), connect: seam.connect });
    assert.deepEqual(
      seam.dialled.map((entry) => entry.address),
      ["8.8.8.8", "8.8.4.4"],
    );
    assert.equal(result.address, "8.8.4.4");
    await assertEchoes(result.socket);
  });

  test("with a rule naming the host, a loopback listener is really dialled", async () => {
    const result = await dialChecked({ host: "db.internal", port: echoPort, allowNonPublic: true, lookup: answers("127.0.0.1") });
    assert.equal(result.address, "127.0.0.1");
    assert.equal(result.family, 4);
    // The default host addresses leave loopback out, so it keeps its own class.
    assert.equal(result.addressClass, "loopback");
    assert.equal(result.socket.remotePort, echoPort);
    await assertEchoes(result.socket);
  });

  test("an IP literal with a rule naming it is dialled without a lookup", async () => {
    const result = await dialChecked({ host: "127.0.0.1", port: echoPort, allowNonPublic: true, lookup: noLookup });
    assert.equal(result.addressClass, "loopback");
    await assertEchoes(result.socket);
  });
});

describe("failures", () => {
  test("a closed port is CONNECT_FAILED naming the refusal", async () => {
    const error = await dialError({ host: "127.0.0.1", port: closedPort, allowNonPublic: true, lookup: noLookup });
    assert.equal(error.code, "CONNECT_FAILED");
    assert.equal(error.address, "127.0.0.1");
    assert.match(error.message, /ECONNREFUSED/);
  });

  test("a resolver error is DNS_FAILED", async () => {
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.invalid"), { code: "ENOTFOUND" });
    };
    const error = await dialError({ ...base, host: "nowhere.invalid", allowNonPublic: false, lookup: failing });
    assert.equal(error.code, "DNS_FAILED");
    assert.equal(error.message, "cannot resolve nowhere.invalid (ENOTFOUND)");
  });

  test("a resolver that never answers is DNS_FAILED once the budget is spent", async () => {
    const error = await dialError({ ...base, host: "slow.example", allowNonPublic: false, lookup: () => new Promise(() => {}), connectTimeoutMs: 20 });
    assert.equal(error.code, "DNS_FAILED");
    assert.match(error.message, /took longer/);
  });

  test("no answers at all is NO_ADDRESS", async () => {
    const error = await dialError({ ...base, host: "empty.example", allowNonPublic: false, lookup: answers() });
    assert.equal(error.code, "NO_ADDRESS");
  });

  test("a connection that never completes is CONNECT_TIMEOUT and its socket is destroyed", async () => {
    const pending: Socket[] = [];
    const neverConnects = () => {
      const socket = new Socket();
      pending.push(socket);
      return socket;
    };
    const error = await dialError({
      ...base,
      host: "blackhole.example",
      allowNonPublic: false,
      lookup: answers("8.8.8.8"),
      connect: neverConnects,
      connectTimeoutMs: 20,
    });
    assert.equal(error.code, "CONNECT_TIMEOUT");
    assert.match(error.message, /tried 8\.8\.8\.8/);
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.destroyed, true);
  });
});

describe("cancellation", () => {
  test("an already aborted signal rejects with its reason before any lookup", async () => {
    const controller = new AbortController();
    controller.abort();
    let lookups = 0;
    const counting: LookupAll = async () => {
      lookups += 1;
      return [];
    };
    await assert.rejects(dialChecked({ ...base, host: "example.com", allowNonPublic: false, lookup: counting, signal: controller.signal }), {
      name: "AbortError",
    });
    assert.equal(lookups, 0);
  });

  test("an abort during the lookup rejects without waiting for the resolver", async () => {
    const controller = new AbortController();
    const hanging: LookupAll = () => {
      controller.abort();
      return new Promise(() => {});
    };
    await assert.rejects(dialChecked({ ...base, host: "example.com", allowNonPublic: false, lookup: hanging, signal: controller.signal }), {
      name: "AbortError",
    });
  });

  test("an abort during the connection destroys the half-open socket", async () => {
    const controller = new AbortController();
    const pending: Socket[] = [];
    const abortingConnect = () => {
      const socket = new Socket();
      pending.push(socket);
      controller.abort();
      return socket;
    };
    await assert.rejects(
      dialChecked({ ...base, host: "example.com", allowNonPublic: false, lookup: answers("8.8.8.8"), connect: abortingConnect, signal: controller.signal }),
      { name: "AbortError" },
    );
    assert.equal(pending[0]!.destroyed, true);
  });
});

describe("the host's interface addresses", () => {
  const nic = (address: string, internal = false) => ({ address, internal }) as NetworkInterfaceInfo;

  test("are read once per period and leave loopback out", () => {
    let reads = 0;
    let now = 0;
    const read = () => {
      reads += 1;
      return { lo: [nic("127.0.0.1", true), nic("::1", true)], eth0: [nic(reads === 1 ? "203.0.113.7" : "203.0.113.8"), nic("fe80::1")] };
    };
    const addresses = interfaceAddresses(30_000, read, () => now);
    assert.deepEqual([...addresses()], ["203.0.113.7", "fe80::1"]);
    now = 29_999;
    assert.deepEqual([...addresses()], ["203.0.113.7", "fe80::1"]);
    assert.equal(reads, 1);
    now = 30_000;
    assert.deepEqual([...addresses()], ["203.0.113.8", "fe80::1"]);
    assert.equal(reads, 2);
  });
});
