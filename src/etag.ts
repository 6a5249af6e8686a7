/**
 * AIP-154 etags of the resources the admin APIs manage: `W/"<revision>"`, where the revision is
 * incremented on every change, so a client can make an update or delete conditional on what it read.
 */
import { TesseraError } from "./errors.js";

export function revisionEtag(resource: { readonly revision: number }): string {
  return `W/"${resource.revision}"`;
}

/** The revision an etag names; undefined for an empty etag, which means "whatever is current". */
export function parseEtag(etag: string): number | undefined {
  if (etag === "") return undefined;
  const match = /^(?:W\/)?"(\d{1,9})"$/.exec(etag);
  if (!match) throw new TesseraError("invalid_argument", "etag: is not an etag this server issued", "etag");
  return Number(match[1]);
}
