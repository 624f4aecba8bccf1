// The service layer's promise to the API: whatever a use case throws can be shown as an
// OutpostError. Database outages and values the database refused (from the store, the only
// part that knows PostgreSQL) become DATABASE_UNAVAILABLE and VALIDATION_FAILED; anything
// else passes through for the API to call INTERNAL.
import { translatePgError } from "../store/database.ts";

export function asServiceFailure(error: unknown): unknown {
  return translatePgError(error);
}
