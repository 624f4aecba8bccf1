import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createRedactor, MIN_SECRET_BYTES, type Redactor } from "../../src/domain/redaction.ts";
import { redactorFor, redactPayload } from "../../src/services/redact-output.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (data: Uint8Array) => decoder.decode(data);

/** Streams `chunks` through one stream of the redactor; what each push gave, and what flush gave. */
function streamThrough(redactor: Redactor, chunks: Uint8Array[]): { pushed: Uint8Array[]; flushed: Uint8Array; whole: string } {
  const stream = redactor.stream();
  const pushed = chunks.map((chunk) => Uint8Array.from(stream.push(chunk)));
  const flushed = stream.flush();
  return { pushed, flushed, whole: Buffer.concat([...pushed, flushed]).toString("utf8") };
}

/** The bytes of `input` cut at the given offsets. */
function cut(input: Uint8Array, at: number[]): Uint8Array[] {
  const edges = [0, ...at, input.byteLength];
  return edges.slice(1).map((end, index) => input.slice(edges[index], end));
}

describe("redactText", () => {
  test("every occurrence of every secret becomes its label; other text is untouched", () => {
    const redactor = createRedactor([
      { name: "API_KEY", value: "sk-live-4f9a8b7c" },
      { name: "DB_PASSWORD", value: "hunter2-but-longer" },
    ]);
    assert.equal(redactor.active, true);
    assert.equal(
      redactor.redactText("key=sk-live-4f9a8b7c pw=hunter2-but-longer again:sk-live-4f9a8b7csk-live-4f9a8b7c."),
      "key=[secret:API_KEY] pw=[secret:DB_PASSWORD] again:[secret:API_KEY][secret:API_KEY].",
    );
    assert.equal(redactor.redactText("nothing secret here"), "nothing secret here");
  });

  test(`values shorter than ${MIN_SECRET_BYTES} bytes are not redacted; with none long enough the redactor is inactive`, () => {
    const short = createRedactor([
      { name: "PIN", value: "123" },
      { name: "EMPTY", value: "" },
    ]);
    assert.equal(short.active, false);
    assert.equal(short.redactText("pin 123"), "pin 123");
    assert.deepEqual(text(short.stream().push(bytes("pin 123"))), "pin 123");
    assert.equal(createRedactor([]).active, false);
    // Four bytes are enough, even as one character.
    assert.equal(createRedactor([{ name: "EMOJI", value: "🔑" }]).redactText("a🔑b"), "a[secret:EMOJI]b");
  });

  test("when one value contains another, the longer one names the occurrence", () => {
    const redactor = createRedactor([
      { name: "SHORT", value: "abcd" },
      { name: "LONG", value: "abcd1234" },
      { name: "MIDDLE", value: "cd12" },
    ]);
    assert.equal(redactor.redactText("abcd1234 abcd cd12 xcd12x"), "[secret:LONG] [secret:SHORT] [secret:MIDDLE] x[secret:MIDDLE]x");
  });

  test("overlapping occurrences become one label, so no byte of either leaks", () => {
    const redactor = createRedactor([
      { name: "FIRST", value: "xxabc" },
      { name: "SECOND", value: "abcdef" },
    ]);
    assert.equal(redactor.redactText("<xxabcdef>"), "<[secret:FIRST]>");
    assert.equal(redactor.redactText("<xxabc><abcdef>"), "<[secret:FIRST]><[secret:SECOND]>");
    assert.equal(createRedactor([{ name: "A", value: "abab" }]).redactText("ababab abab"), "[secret:A] [secret:A]");
  });

  test("a value with line breaks is caught in plain output, in a terminal's CR LF form, trimmed, and inside JSON", () => {
    const redactor = createRedactor([{ name: "CERT", value: "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----\n" }]);
    assert.equal(redactor.redactText("cat: -----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----\n$ "), "cat: [secret:CERT]$ ");
    assert.equal(redactor.redactText("-----BEGIN KEY-----\r\nMIIBOgIBAAJBAK\r\n-----END KEY-----\r\n"), "[secret:CERT]");
    assert.equal(redactor.redactText('echo "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----"'), 'echo "[secret:CERT]"');
    const logged = JSON.stringify({ msg: "loaded", key: "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----\n" });
    assert.equal(redactor.redactText(logged), '{"msg":"loaded","key":"[secret:CERT]"}');
  });

  test("a value with quotes and backslashes is caught inside JSON", () => {
    const redactor = createRedactor([{ name: "PASS", value: 'pa"ss\\word' }]);
    assert.equal(redactor.redactText(JSON.stringify({ password: 'pa"ss\\word' })), '{"password":"[secret:PASS]"}');
  });

  test("encoded forms are not caught (as documented)", () => {
    const value = "sk-live-4f9a8b7c";
    const redactor = createRedactor([{ name: "API_KEY", value }]);
    const encoded = [Buffer.from(value).toString("base64"), Buffer.from(value).toString("hex"), value.toUpperCase()].join(" ");
    assert.equal(redactor.redactText(encoded), encoded);
  });
});

describe("a redacting stream", () => {
  const VALUE = "pässwörd-🔑-42"; // multi-byte characters: 1-, 2- and 4-byte UTF-8 sequences
  const redactor = createRedactor([{ name: "TOKEN", value: VALUE }]);

  test("a value split at any byte across two chunks is redacted, and no part of it is sent", () => {
    const input = bytes(`before ${VALUE} after`);
    const valueStart = bytes("before ").byteLength;
    const valueEnd = valueStart + bytes(VALUE).byteLength;
    for (let at = 0; at <= input.byteLength; at++) {
      const { pushed, whole } = streamThrough(redactor, cut(input, [at]));
      assert.equal(whole, "before [secret:TOKEN] after", `split at byte ${at}`);
      // What went out before the second chunk arrived: all it could, and no piece of the value.
      const sentEarly = Buffer.from(pushed[0]!).toString("latin1");
      const expected =
        at <= valueStart ? input.slice(0, at) : at < valueEnd ? bytes("before ") : Buffer.concat([bytes("before [secret:TOKEN]"), input.slice(valueEnd, at)]);
      assert.equal(sentEarly, Buffer.from(expected).toString("latin1"), `split at byte ${at}`);
    }
  });

  test("a chunk that does not end with the start of a secret passes whole at once", () => {
    const stream = redactor.stream();
    assert.equal(text(stream.push(bytes("line one\nline two pässw and more\n"))), "line one\nline two pässw and more\n");
    assert.equal(stream.flush().byteLength, 0);
  });

  test("only the bytes that could start a secret are held back, and flush sends them", () => {
    const stream = redactor.stream();
    assert.equal(text(stream.push(bytes("progress 50% päss"))), "progress 50% ");
    assert.equal(text(stream.push(bytes("w"))), "");
    assert.equal(text(stream.push(bytes("ing on"))), "pässwing on");
    assert.equal(text(stream.push(bytes(" pässwö"))), " ");
    assert.equal(text(stream.flush()), "pässwö");
  });

  test("a multi-byte character cut between chunks passes through intact", () => {
    const input = bytes("naïve 🙂 café");
    for (let at = 1; at < input.byteLength; at++) {
      assert.equal(streamThrough(redactor, cut(input, [at])).whole, "naïve 🙂 café", `split at byte ${at}`);
    }
  });

  test("one byte at a time, several secrets (one the prefix of another) come out as redactText gives them", () => {
    const many = createRedactor([
      { name: "PREFIX", value: "ghp_abcd" },
      { name: "FULL", value: "ghp_abcd_efgh_1234" },
      { name: "TOKEN", value: VALUE },
    ]);
    const input = `clone ghp_abcd_efgh_1234 then ghp_abcd, ${VALUE}${VALUE} ghp_abcd_efgh_12 end ghp_ab`;
    const expected = "clone [secret:FULL] then [secret:PREFIX], [secret:TOKEN][secret:TOKEN] [secret:PREFIX]_efgh_12 end ghp_ab";
    assert.equal(many.redactText(input), expected);
    const oneByteChunks = Array.from(bytes(input), (byte) => Uint8Array.of(byte));
    assert.equal(streamThrough(many, oneByteChunks).whole, expected);
  });

  test("two secrets where one is a prefix of the other, split at every pair of positions", () => {
    const pair = createRedactor([
      { name: "A", value: "abcd" },
      { name: "AB", value: "abcdef" },
    ]);
    const input = bytes("abcdefabcd-abcdeabcdef");
    const expected = pair.redactText("abcdefabcd-abcdeabcdef");
    assert.equal(expected, "[secret:AB][secret:A]-[secret:A]e[secret:AB]");
    for (let first = 0; first <= input.byteLength; first++) {
      for (let second = first; second <= input.byteLength; second++) {
        assert.equal(streamThrough(pair, cut(input, [first, second])).whole, expected, `cut at ${first} and ${second}`);
      }
    }
  });

  test("an endless run of overlapping occurrences does not stall the stream", () => {
    const run = createRedactor([{ name: "A", value: "aaaa" }]);
    const stream = run.stream();
    let sent = "";
    for (let i = 0; i < 10_000; i++) sent += text(stream.push(bytes("a")));
    assert.equal(sent, "[secret:A]", "the label goes out while the run still lasts");
    assert.equal(text(stream.push(bytes("!"))), "!");
    assert.equal(text(stream.flush()), "");
  });

  test("random chunkings of random output give what redactText gives", () => {
    // A small alphabet makes overlaps, prefixes and long runs common.
    let seed = 12345;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % below;
    };
    const alphabet = ["a", "b", "ä", "\n"];
    const word = (length: number) => Array.from({ length }, () => alphabet[random(alphabet.length)]).join("");
    for (let round = 0; round < 300; round++) {
      const secrets = Array.from({ length: 1 + random(3) }, (_, i) => ({ name: `S${i}`, value: word(2 + random(6)) }));
      const fuzz = createRedactor(secrets);
      const input = bytes(word(random(60)));
      const offsets = Array.from({ length: random(6) }, () => random(input.byteLength + 1)).sort((x, y) => x - y);
      const expected = fuzz.redactText(text(input));
      assert.equal(streamThrough(fuzz, cut(input, offsets)).whole, expected, JSON.stringify({ secrets, input: text(input), offsets }));
      for (const { value } of secrets) {
        if (Buffer.byteLength(value) >= MIN_SECRET_BYTES) assert.ok(!expected.includes(value), JSON.stringify({ secrets, input: text(input) }));
      }
    }
  });
});

test("an agent event's payload is redacted in every string, nested ones included; other values stay", () => {
  const redactor = redactorFor([{ name: "TOKEN", value: "tok-123456789" }])!;
  assert.deepEqual(
    redactPayload({ type: "tool_call", name: "Bash", input: { command: "curl -H tok-123456789", args: ["x", "tok-123456789"] }, seq: 4, ok: true }, redactor),
    {
      type: "tool_call",
      name: "Bash",
      input: { command: "curl -H [secret:TOKEN]", args: ["x", "[secret:TOKEN]"] },
      seq: 4,
      ok: true,
    },
  );
});
