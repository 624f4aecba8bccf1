// What the whole UI needs to know about its link to the server, outside React's tree so the
// API client and the event stream can report to it: whether the session still holds (a 401
// anywhere means it does not) and whether the server answers at all.
import { useSyncExternalStore } from "react";

export type SessionState = "unknown" | "active" | "signed-out" | "expired";

export interface ConnectionState {
  session: SessionState;
  reachable: boolean;
}

/** Remembered across visits: a 401 for someone who had a session means it expired. */
const HAD_SESSION_KEY = "outpost.hadSession";

let state: ConnectionState = { session: "unknown", reachable: true };
const listeners = new Set<() => void>();

function set(next: Partial<ConnectionState>): void {
  const merged = { ...state, ...next };
  if (merged.session === state.session && merged.reachable === state.reachable) return;
  state = merged;
  for (const listener of listeners) listener();
}

function hadSession(): boolean {
  try {
    return localStorage.getItem(HAD_SESSION_KEY) === "1";
  } catch {
    return false;
  }
}

export const connection = {
  get: () => state,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  sessionActive(): void {
    try {
      localStorage.setItem(HAD_SESSION_KEY, "1");
    } catch {
      // private mode: the expired page becomes the signed-out page, which says the same
    }
    set({ session: "active", reachable: true });
  },
  /** The server answered 401. */
  sessionLost(): void {
    set({ session: state.session === "active" || hadSession() ? "expired" : "signed-out" });
  },
  unreachable(): void {
    set({ reachable: false });
  },
  reachableAgain(): void {
    set({ reachable: true });
  },
};

export function useConnection(): ConnectionState {
  return useSyncExternalStore(connection.subscribe, connection.get);
}
