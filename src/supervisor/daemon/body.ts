// Reads a JSON request body with a hard size cap, so one request cannot make the daemon
// buffer more than MAX_JSON_BODY_BYTES. Past the cap the rest of the body is still read
// and thrown away, and the 413 is answered only once the client has finished sending: a
// client still writing when the answer (and the connection's end) comes would get EPIPE
// or ECONNRESET instead of the 413 — a race that busy machines lose. Bodies declared
// larger than DISCARD_LIMIT are refused at once (the connection may then be cut).
import { MAX_JSON_BODY_BYTES } from "../protocol.ts";
import { SupervisorError } from "./errors.ts";
import type { SupervisorRequest } from "./http-types.ts";

const DISCARD_LIMIT = 64 * 1024 * 1024;

export function readJsonBody(request: SupervisorRequest, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const tooLarge = () => new SupervisorError("PAYLOAD_TOO_LARGE", `The JSON body is larger than ${limit} bytes.`);
  const declared = Number(request.headers["content-length"]);
  const body = request.body;
  if (Number.isFinite(declared) && declared > limit) {
    body.resume(); // discard
    if (declared > DISCARD_LIMIT) return Promise.reject(tooLarge());
    return new Promise((_resolve, reject) => {
      body.once("end", () => reject(tooLarge()));
      body.once("close", () => reject(tooLarge()));
    });
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let overflowed = false;
    const fail = (error: SupervisorError) => {
      settled = true;
      chunks = [];
      reject(error);
    };
    body.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > DISCARD_LIMIT) fail(tooLarge());
      else if (size > limit) {
        overflowed = true;
        chunks = [];
      } else chunks.push(chunk);
    });
    body.once("end", () => {
      if (settled) return;
      if (overflowed) return fail(tooLarge());
      settled = true;
      const text = Buffer.concat(chunks, size).toString("utf8");
      if (text.trim() === "") return reject(new SupervisorError("INVALID_JSON", "The request needs a JSON body."));
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new SupervisorError("INVALID_JSON", `The body is not valid JSON: ${(error as Error).message}`));
      }
    });
    // The client went away mid-body: nobody will read the answer, but the handler must end.
    body.once("close", () => {
      if (!settled) fail(new SupervisorError("INVALID_JSON", "The request body ended early."));
    });
    body.once("error", () => {
      if (!settled) fail(new SupervisorError("INVALID_JSON", "The request body could not be read."));
    });
  });
}
