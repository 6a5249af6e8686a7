/**
 * Reading request bodies with a cap and writing JSON answers: the only raw node:http plumbing
 * the gateway's routes share.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { TesseraError } from "../../errors.js";
import { REQUEST_ID_HEADER } from "../request-id.js";

export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** Without `write`, whose callback types differ between the two; we only use `end`. */
export type HttpResponse = Omit<ServerResponse, "write"> | Omit<Http2ServerResponse, "write">;

/** Largest body any gateway route accepts; token requests are a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

export class BodyTooLargeError extends TesseraError {
  constructor() {
    super("invalid_request", `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
}

/**
 * The client went away (closed the connection, reset the stream) or was cut off at the request
 * deadline before its request arrived whole: there is nobody left to answer, and it is no
 * fault of the server's.
 */
export class RequestAbortedError extends Error {
  override readonly name = "RequestAbortedError";
}

/**
 * The whole body, or BodyTooLargeError past `limit` (the request is then destroyed, as leaving
 * an async iterator early would). Plain `on` listeners rather than `for await` or `once`: the
 * async iterator and `once`'s wrappers add promises and allocations to every request, and this
 * runs on every token request.
 */
export function readBody(request: HttpRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    request.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        fail(new BodyTooLargeError());
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // node:http reports a connection closed mid-body as an "aborted" error (ECONNRESET).
    request.on("error", (error: Error) => fail(new RequestAbortedError(`the request failed before its body arrived: ${error.message}`)));
    // A stream closed before its end (an HTTP/2 client's RST_STREAM) emits no error. Every
    // request closes once it is answered, so the Error (and its costly stack trace) is made
    // only when the body never came.
    request.on("close", () => {
      if (!settled) fail(new RequestAbortedError("the request closed before its body arrived"));
    });
  });
}

/**
 * Each answer's request id, set by the gateway as a request arrives and written with the head.
 * Not `setHeader`: once one header was set that way, node:http's `writeHead` passes every other
 * header through `setHeader` too (validation and lower-casing included), a noticeable cost on
 * every answer. A property of the response under a symbol of ours rather than a WeakMap entry:
 * a WeakMap entry per request costs a hash insertion, and the garbage collector ephemeron work
 * for as long as the request waits for its signature.
 */
const REQUEST_ID = Symbol("tessera.requestId");
type WithRequestId = { [REQUEST_ID]?: string };

export function setRequestId(response: HttpResponse, requestId: string): void {
  (response as WithRequestId)[REQUEST_ID] = requestId;
}

/** Writes the status and headers, with the answer's request id; every gateway answer goes through here. */
export function writeHead(response: HttpResponse, status: number, headers: Readonly<Record<string, string>>): void {
  const requestId = (response as WithRequestId)[REQUEST_ID];
  response.writeHead(status, requestId === undefined ? headers : { [REQUEST_ID_HEADER]: requestId, ...headers });
}

export function sendJson(
  response: HttpResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  // The head's headers in one object, built once (writeHead would copy them again to add the id).
  const head: Record<string, string> = { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(payload)), ...headers };
  const requestId = (response as WithRequestId)[REQUEST_ID];
  if (requestId !== undefined) head[REQUEST_ID_HEADER] = requestId;
  response.writeHead(status, head);
  response.end(payload);
}

/** RFC 6749 §5.1: token and error responses must not be cached. */
export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

/** The media type of a request without parameters, lower-cased. */
export function mediaType(request: HttpRequest): string {
  const header = request.headers["content-type"];
  // The spelling nearly every caller sends needs no splitting, trimming or lower-casing.
  if (header === "application/x-www-form-urlencoded") return header;
  return (typeof header === "string" ? header.split(";")[0] ?? "" : "").trim().toLowerCase();
}
