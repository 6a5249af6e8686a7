/**
 * Announcing committed changes to every replica with PostgreSQL NOTIFY. Sent inside the change's
 * own transaction, a notification is delivered only if the change commits (PostgreSQL queues it
 * until COMMIT), so no replica ever reloads a change that was rolled back.
 */
import type { Change } from "../sync/change.js";
import type { Prisma, PrismaClient } from "./generated/client.js";

/**
 * Channels are database-wide while Tessera's tables live in one schema, so the channel carries
 * the schema's name: deployments in different schemas of one database never hear each other.
 */
export const CHANGE_CHANNEL_PREFIX = "tessera_changes_";

export function changeChannel(schema: string): string {
  return `${CHANGE_CHANNEL_PREFIX}${schema}`;
}

export async function announceChange(db: Prisma.TransactionClient | PrismaClient, change: Change): Promise<void> {
  await db.$executeRaw`SELECT pg_notify(${CHANGE_CHANNEL_PREFIX} || current_schema(), ${JSON.stringify(change)})`;
}
