// Everything a benchmark starts (processes, temp dirs) registers how to undo it here, so
// run.ts can undo it all in a finally block or on Ctrl-C, even when a benchmark throws.

type Cleanup = () => Promise<void> | void;

const pending = new Map<number, { label: string; cleanup: Cleanup }>();
let nextId = 0;

/** Registers a cleanup; call the returned function once the thing was undone normally. */
export function deferCleanup(label: string, cleanup: Cleanup): () => void {
  const id = nextId++;
  pending.set(id, { label, cleanup });
  return () => {
    pending.delete(id);
  };
}

/** Runs every pending cleanup, newest first, including any registered meanwhile (a
 *  benchmark interrupted by Ctrl-C may still be starting something); reports failures
 *  instead of throwing. */
export async function runCleanups(): Promise<void> {
  while (pending.size) {
    const newest = Math.max(...pending.keys());
    const { label, cleanup } = pending.get(newest)!;
    pending.delete(newest);
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`bench: cleanup of ${label} failed: ${(error as Error).message}\n`);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
