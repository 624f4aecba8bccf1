import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AddressClass, classifyAddress, hostKind, isHostLiteral, normaliseHost } from "../../src/domain/egress-addresses.ts";

function assertClasses(cases: [string, AddressClass][]): void {
  for (const [ip, expected] of cases) assert.equal(classifyAddress(ip)?.class, expected, ip);
}

describe("address classes", () => {
  test("loopback in every spelling is loopback", () => {
    assertClasses([
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["::1", "loopback"],
      ["[::1]", "loopback"],
    ]);
  });

  test("the cloud metadata address and other link-local addresses are link-local", () => {
    assertClasses([
      ["169.254.169.254", "link-local"],
      ["fe80::1", "link-local"],
      ["fe80::1%eth0", "link-local"],
      ["fe80::1%br-1a2b.100", "link-local"],
    ]);
  });

  test("a zone id makes even a global-looking address link-local", () => {
    assert.equal(classifyAddress("2001:4860::1%eth0")?.class, "link-local");
  });

  test("RFC 1918, CGNAT and unique-local ranges are refused by class", () => {
    assertClasses([
      ["10.0.0.1", "private"],
      ["10.255.255.255", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.254", "private"],
      ["192.168.1.1", "private"],
      ["100.64.0.1", "carrier-grade-nat"],
      ["100.127.255.254", "carrier-grade-nat"],
      ["fc00::1", "unique-local"],
      ["fd12:3456::1", "unique-local"],
      ["fec0::1", "unique-local"],
    ]);
  });

  test("neighbours of the private ranges are public", () => {
    assertClasses([
      ["172.15.255.255", "public"],
      ["172.32.0.0", "public"],
      ["100.63.255.255", "public"],
      ["100.128.0.0", "public"],
      ["8.8.8.8", "public"],
      ["2606:4700:4700::1111", "public"],
    ]);
  });

  test("unspecified, multicast and broadcast addresses have their own classes", () => {
    assertClasses([
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["::", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.250", "multicast"],
      ["ff02::1", "multicast"],
      ["255.255.255.255", "broadcast"],
    ]);
  });

  test("documentation, benchmarking and future-use ranges are reserved", () => {
    assertClasses([
      ["192.0.0.8", "reserved"],
      ["192.0.2.1", "reserved"],
      ["198.18.0.1", "reserved"],
      ["198.19.255.254", "reserved"],
      ["198.51.100.1", "reserved"],
      ["203.0.113.1", "reserved"],
      ["240.0.0.1", "reserved"],
      ["2001:db8::1", "reserved"],
      ["100::1", "reserved"],
      // Outside 2000::/3, the only range allocated for global unicast.
      ["4000::1", "reserved"],
    ]);
  });
});

describe("IPv6 addresses that carry an IPv4 address", () => {
  test("IPv4-mapped addresses are judged, and reported, as their IPv4 address", () => {
    assert.deepEqual(classifyAddress("::ffff:127.0.0.1"), { address: "127.0.0.1", family: 4, class: "loopback" });
    assert.deepEqual(classifyAddress("::ffff:7f00:1"), { address: "127.0.0.1", family: 4, class: "loopback" });
    assert.deepEqual(classifyAddress("::ffff:a00:1"), { address: "10.0.0.1", family: 4, class: "private" });
    assert.deepEqual(classifyAddress("::FFFF:169.254.169.254"), { address: "169.254.169.254", family: 4, class: "link-local" });
    assert.deepEqual(classifyAddress("::ffff:8.8.8.8"), { address: "8.8.8.8", family: 4, class: "public" });
  });

  test("NAT64 addresses take the class of the IPv4 address they translate to", () => {
    assert.deepEqual(classifyAddress("64:ff9b::a00:1"), { address: "64:ff9b::a00:1", family: 6, class: "private" });
    assert.equal(classifyAddress("64:ff9b::7f00:1")?.class, "loopback");
    assert.equal(classifyAddress("64:ff9b::a9fe:a9fe")?.class, "link-local");
    // DNS64 networks answer public names this way: they must keep working.
    assert.equal(classifyAddress("64:ff9b::808:808")?.class, "public");
    // The local-use NAT64 prefix is operator-defined: reserved.
    assert.equal(classifyAddress("64:ff9b:1::a00:1")?.class, "reserved");
  });

  test("SIIT-translated addresses take the class of their IPv4 address", () => {
    assert.equal(classifyAddress("::ffff:0:a00:1")?.class, "private");
  });

  test("IPv4-compatible, 6to4 and Teredo addresses are refused by the IPv4 address inside, and reserved otherwise", () => {
    assertClasses([
      ["::127.0.0.1", "loopback"],
      ["::7f00:1", "loopback"],
      ["::a00:1", "private"],
      ["::8.8.8.8", "reserved"],
      ["2002:7f00:1::1", "loopback"],
      ["2002:a9fe:a9fe::", "link-local"],
      ["2002:808:808::1", "reserved"],
      // Teredo stores the client address inverted: f5ff:fffe is 10.0.0.1.
      ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"],
      // Server 10.0.0.1, client 8.8.8.8
      ["2001:0:a00:1::f7f7:f7f7", "private"],
      ["2001:0:808:808::f7f7:f7f7", "reserved"],
    ]);
  });

  test("IPv4-compatible addresses keep their IPv6 form (that is what a client would connect to)", () => {
    assert.deepEqual(classifyAddress("::127.0.0.1"), { address: "::7f00:1", family: 6, class: "loopback" });
  });
});

describe("the host's own addresses", () => {
  test("an address of the host is 'host', whatever its range", () => {
    const host = new Set(["203.0.113.7", "10.0.0.2", "2001:4860::9"]);
    assertClassesWith(host, [
      ["203.0.113.7", "host"],
      ["10.0.0.2", "host"],
      ["10.0.0.3", "private"],
    ]);
  });

  test("host addresses match in any spelling: mapped, embedded, uncompressed, bracketed", () => {
    const host = new Set(["8.8.4.4", "2001:4860:0:0::9", "[2001:4860::a]"]);
    assertClassesWith(host, [
      ["::ffff:8.8.4.4", "host"],
      ["2002:808:404::1", "host"],
      ["64:ff9b::808:404", "host"],
      ["2001:4860::9", "host"],
      ["2001:4860:0:0:0:0:0:a", "host"],
      ["8.8.8.8", "public"],
    ]);
  });

  function assertClassesWith(hostAddresses: ReadonlySet<string>, cases: [string, AddressClass][]): void {
    for (const [ip, expected] of cases) assert.equal(classifyAddress(ip, hostAddresses)?.class, expected, ip);
  }
});

describe("host literals and names", () => {
  test("classifyAddress answers null for anything that is not an IP address", () => {
    for (const text of ["example.com", "localhost", "", "08.0.0.1", "1.2.3.4.5", "256.0.0.1", "::1::2", "1.2.3.4%eth0", "fe80::1%"]) {
      assert.equal(classifyAddress(text), null, text);
    }
  });

  test("numeric IPv4 spellings resolvers accept are IP literals of the address they mean, never names", () => {
    const cases: [string, string][] = [
      ["2130706433", "127.0.0.1"],
      ["0177.0.0.1", "127.0.0.1"],
      ["0x7f.1", "127.0.0.1"],
      ["0x7F000001", "127.0.0.1"],
      ["127.1", "127.0.0.1"],
      ["0xa9.0xfe.0xa9.0xfe", "169.254.169.254"],
      ["012.0.0.1", "10.0.0.1"],
    ];
    for (const [text, meaning] of cases) {
      assert.equal(isHostLiteral(text), true, text);
      assert.equal(hostKind(text), "ip", text);
      assert.equal(normaliseHost(text), meaning, text);
      assert.notEqual(classifyAddress(text)?.class, "public", text);
      assert.equal(classifyAddress(text)?.address, meaning, text);
    }
  });

  test("hosts that look numeric but are no valid address are invalid, not names to resolve", () => {
    for (const text of ["08.0.0.1", "1.2.3.4.5", "256.0.0.1", "4294967296", "example.123", "example.0x1", "1.2.3.4%eth0"]) {
      assert.equal(isHostLiteral(text), false, text);
      assert.equal(hostKind(text), "invalid", text);
    }
  });

  test("hosts with characters or shapes no hostname has are invalid", () => {
    for (const text of ["", ".", "a..b", "ex ample.com", "example.com/path", "user@example.com", "[example.com", "[example.com]"]) {
      assert.equal(hostKind(text), "invalid", JSON.stringify(text));
    }
  });

  test("ordinary names are names", () => {
    for (const text of ["example.com", "api.github.com.", "localhost", "_dmarc.example.com", "123.example", "xn--bcher-kva.example"]) {
      assert.equal(hostKind(text), "name", text);
      assert.equal(isHostLiteral(text), false, text);
    }
  });

  test("IPv6 literals are recognised with or without brackets", () => {
    for (const text of ["::1", "[::1]", "[2001:db8::1]", "fe80::1%eth0", "[fe80::1%eth0]"]) assert.equal(isHostLiteral(text), true, text);
  });

  test("normaliseHost lowercases names and strips brackets and the trailing dot", () => {
    assert.equal(normaliseHost("API.GitHub.com."), "api.github.com");
    assert.equal(normaliseHost("[2001:DB8:0:0::1]"), "2001:db8::1");
    assert.equal(normaliseHost("[::FFFF:10.0.0.1]"), "10.0.0.1");
    assert.equal(normaliseHost("127.0.0.1."), "127.0.0.1");
    assert.equal(normaliseHost(" example.com "), "example.com");
  });

  test("classifyAddress and isHostLiteral agree on every input", () => {
    for (const text of ["127.0.0.1", "0x7f.1", "example.com", "::1", "[::1]", "08.0.0.1", "fe80::1%eth0", "1.2.3.4%eth0", ""]) {
      assert.equal(classifyAddress(text) !== null, isHostLiteral(text), text);
    }
  });
});
