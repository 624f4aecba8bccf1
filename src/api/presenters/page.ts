// A list page as the API answers it: each item presented, the cursor passed on as is.
import type { Page } from "../../domain/pagination.ts";

export function presentPage<Row, Resource>(page: Page<Row>, present: (row: Row) => Resource): Page<Resource> {
  return { items: page.items.map(present), nextCursor: page.nextCursor };
}
