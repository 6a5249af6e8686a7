/**
 * Opaque page tokens for ListClients (AIP-158): a keyset position plus a fingerprint of the
 * filters, so a token cannot be replayed with different filters and silently skip rows.
 */
import { createHash } from "node:crypto";
import { CLIENT_ID_PATTERN } from "./client.js";
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

/** `isId` says whether a decoded id could be one of the listed resource's (client ids by default). */
export function decodePageToken(token: string, filter: object, isId: (id: string) => boolean = (id) => CLIENT_ID_PATTERN.test(id)): PagePosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("page_token", "is not a token this server issued");
  }
  const { t, i, f } = (decoded ?? {}) as { t?: unknown; i?: unknown; f?: unknown };
  // Tokens are not signed: a hand-made one can only choose where a listing the caller may read
  // resumes. It must still hold a real position, or the query would fail instead of refusing it.
  if (
    typeof t !== "number" ||
    !Number.isSafeInteger(t) ||
    Number.isNaN(new Date(t).getTime()) ||
    typeof i !== "string" ||
    !isId(i) ||
    typeof f !== "string"
  ) {
    throw invalidArgument("page_token", "is not a token this server issued");
  }
  if (f !== fingerprint(filter)) throw invalidArgument("page_token", "was issued for different filters");
  return { createTime: new Date(t), id: i };
}
