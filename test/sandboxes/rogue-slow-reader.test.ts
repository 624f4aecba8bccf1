// A rogue supervisor streams endless output for an exec while the API client reads none of
// it. Backpressure must reach the rogue (the SSE writes wait for the client's socket, the
// HTTP/2 stream's window is not reopened while nothing is read), so the rogue stalls after
// a few MiB instead of the control plane buffering everything it sends; and when the
// client goes away, the control plane cancels the exec on the link.
// The control plane runs in a process of its own (outpost serve), so its memory is its own.
import assert from "node:assert/strict";
import { type ClientRequest, request } from "node:http";
import { after, before, describe, test } from "node:test";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api } from "../helpers/server.ts";
import { waitUntil } from "../supervisor/helpers.ts";
import { memoryMiB, type Rogue, resetPeakMemory, type ServedControlPlane, serveControlPlane, takeOver } from "./rogue.ts";

const MiB = 1024 * 1024;

interface FloodState {
  written: number;
  waiting: boolean;
  done: boolean;
  closed: boolean;
}

describe("a rogue supervisor that floods an exec stream nobody reads", () => {
  let s: ServedControlPlane;
  let box: any;
  let rogue: Rogue;
  const readers: ClientRequest[] = [];
  before(async () => {
    s = await serveControlPlane();
    await api(s, "POST", "/api/v1/projects", { body: { name: "flood" } });
    box = await runningSandbox(s, "flood");
    rogue = await takeOver(s, box.id, "flood");
  });
  after(async () => {
    for (const reader of readers) reader.destroy();
    await rogue?.restore();
    await s?.close();
  });

  /** Starts a streamed exec of the rogue's flood `name` and reads nothing of its body; resolves with the status. */
  function floodNobodyReads(name: string): Promise<{ status: number; reader: ClientRequest }> {
    return new Promise((resolve, reject) => {
      const reader = request(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
      });
      readers.push(reader);
      reader.on("error", reject);
      // No 'data' listener: the response stays paused, its socket unread.
      reader.on("response", (response) => resolve({ status: response.statusCode ?? 0, reader }));
      reader.end(JSON.stringify({ command: ["flood", name] }));
    });
  }

  /**
   * Resolves once the rogue has written everything it meant to (256 MiB: nothing held it
   * back), or has been waiting for the link to drain, without progress, over three looks
   * 300 ms apart (it is held back).
   */
  async function floodSettled(name: string): Promise<FloodState> {
    let last = -1;
    let unchanged = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const state: FloodState | undefined = rogue.state(`flood-${name}.json`);
      if (state?.done) return state;
      if (state?.waiting && state.written === last) unchanged += 1;
      else unchanged = 0;
      if (unchanged >= 3) return state as FloodState;
      last = state?.written ?? -1;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    throw new Error(`the flood neither finished nor stalled within 60 s: ${JSON.stringify(rogue.state(`flood-${name}.json`))}`);
  }

  test("stalls the rogue after a few MiB, with the control plane's memory bounded", async () => {
    resetPeakMemory(s.pid);
    const before = memoryMiB(s.pid).rss;
    const { status } = await floodNobodyReads("stall");
    assert.equal(status, 200);
    const state = await floodSettled("stall");
    const growth = memoryMiB(s.pid).peak - before;
    assert.ok(!state.done, "the rogue could write all 256 MiB: nothing held it back");
    assert.ok(state.written < 64 * MiB, `the rogue wrote ${(state.written / MiB).toFixed(1)} MiB before it stalled`);
    assert.ok(growth < 100, `resident memory peaked ${growth.toFixed(0)} MiB above where it was`);
  });

  test("a client that goes away ends the exec on the link, and the control plane carries on", async () => {
    const { status, reader } = await floodNobodyReads("leave");
    assert.equal(status, 200);
    await waitUntil("the flood is under way", () => (rogue.state("flood-leave.json")?.written ?? 0) > 0);
    reader.destroy();
    await waitUntil("the rogue sees its exec stream cancelled", () => rogue.state("flood-leave.json")?.closed === true);
    assert.equal((await api(s, "GET", "/healthz")).status, 200);
  });
});
