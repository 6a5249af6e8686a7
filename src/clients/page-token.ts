/**
 * Opaque page tokens for ListClients (AIP-158): a keyset position plus a fingerprint of the
 * filters, so a token cannot be replayed with different filters and silently skip rows.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "./client-validation.js";

export interface PagePosition {
  readonly createTime: Date;
  readonly id: string;
}

function fingerprint(filter: object): string {
  return createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 12);
}

export function encodePageToken(position: PagePosition, filter: object): string {
  return Buffer.from(JSON.stringify({ t: position.createTime.getTime(), i: position.id, f: fingerprint(filter) })).toString("base64url");
}

export function decodePageToken(token: string, filter: object): PagePosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("page_token", "is not a token this server issued");
  }
  const { t, i, f } = (decoded ?? {}) as { t?: unknown; i?: unknown; f?: unknown };
  if (typeof t !== "number" || typeof i !== "string" || typeof f !== "string") {
    throw invalidArgument("page_token", "is not a token this server issued");
  }
  if (f !== fingerprint(filter)) throw invalidArgument("page_token", "was issued for different filters");
  return { createTime: new Date(t), id: i };
}
