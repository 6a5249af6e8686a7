/**
 * The `Headers` the lean path hands to interceptors and implementations: a plain object of
 * lower-cased names, read straight from Node's incoming header object and written straight to
 * the outgoing one. The WHATWG Headers class validates and re-sorts on every access and cost the
 * path three allocations per call; this keeps its observable behaviour for what a unary call
 * does with headers (case-insensitive names, values trimmed and refused with CR, LF or NUL,
 * repeated values joined with ", ", iteration in sorted order).
 */
import type http2 from "node:http2";

/** RFC 9110 §5.6.2 token characters: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

export class PlainHeaders implements Headers {
  #values: Record<string, string> = Object.create(null) as Record<string, string>;

  /** Node's incoming headers without HTTP/2's pseudo-headers; arrays (set-cookie) joined. */
  static fromIncoming(headers: http2.IncomingHttpHeaders): PlainHeaders {
    const out = new PlainHeaders();
    const values = out.#values;
    for (const name in headers) {
      if (name.charCodeAt(0) === 0x3a /* ":" */) continue;
      const value = headers[name];
      if (value === undefined) continue;
      // Node lower-cases names and has already refused what HTTP/2 forbids.
      values[name] = typeof value === "string" ? value : value.join(", ");
    }
    return out;
  }

  /** Headers of our own making: lower-case names and values known to be valid, taken unchecked. */
  static ofValid(entries: Record<string, string>): PlainHeaders {
    const out = new PlainHeaders();
    Object.assign(out.#values, entries);
    return out;
  }

  /** The headers as Node's outgoing header object. */
  toOutgoing(into: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
    const values = this.#values;
    for (const name in values) into[name] = values[name];
    return into;
  }

  append(name: string, value: string): void {
    const key = headerName(name);
    const normalized = headerValue(value);
    const existing = this.#values[key];
    this.#values[key] = existing === undefined ? normalized : `${existing}, ${normalized}`;
  }

  delete(name: string): void {
    delete this.#values[headerName(name)];
  }

  get(name: string): string | null {
    return this.#values[headerName(name)] ?? null;
  }

  getSetCookie(): string[] {
    const value = this.#values["set-cookie"];
    return value === undefined ? [] : [value];
  }

  has(name: string): boolean {
    return this.#values[headerName(name)] !== undefined;
  }

  set(name: string, value: string): void {
    this.#values[headerName(name)] = headerValue(value);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  *entries(): HeadersIterator<[string, string]> {
    const values = this.#values;
    for (const key of Object.keys(values).sort()) yield [key, values[key]!];
  }

  *keys(): HeadersIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): HeadersIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }
}

function headerName(name: string): string {
  if (!TOKEN.test(name)) throw new TypeError(`invalid header name: "${name}"`);
  return name.toLowerCase();
}

function headerValue(value: string): string {
  const trimmed = String(value).replace(EDGE_WHITESPACE, "");
  if (FORBIDDEN_IN_VALUE.test(trimmed)) throw new TypeError(`invalid header value: "${trimmed}"`);
  return trimmed;
}
