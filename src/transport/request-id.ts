/**
 * Request ids: taken from a well-formed incoming `x-request-id` (so a trace spans proxies),
 * otherwise generated. Both transports put it in logs, audit events and the response.
 */
import { randomId } from "../random-id.js";

export const REQUEST_ID_HEADER = "x-request-id";
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(incoming: string | string[] | null | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && WELL_FORMED.test(value) ? value : randomId(9);
}
