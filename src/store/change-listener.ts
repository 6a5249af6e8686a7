/**
 * The ChangeSource on the database's LISTEN: embedded PGlite and PostgreSQL alike, so replicas
 * and the single embedded process run the same code path.
 */
import { parseChange, type ChangeSource } from "../sync/change.js";
import { changeChannel } from "./change-feed.js";
import type { Database } from "./database.js";

export function databaseChangeSource(database: Database): ChangeSource {
  return {
    subscribe: (handlers) =>
      database.listen(changeChannel(database.schema), {
        onMessage(payload) {
          const change = parseChange(payload);
          if (change) handlers.onChange(change);
        },
        onReconnect: () => handlers.onResync(),
      }),
  };
}
