/**
 * gRPC unary calls over HTTP/2, served without connect-es's streaming machinery.
 *
 * connect-es serves every gRPC call as a stream, unary ones too: about ten async generators per
 * call, a handler context with three AbortControllers (two of them aborted without a reason when
 * the call ends, which builds a DOMException each) and five WHATWG Headers. Under load that
 * garbage takes a large share of the event loop and keeps resident memory high.
 *
 * This path takes the call every gRPC client makes: POST over HTTP/2, `application/grpc` or
 * `application/grpc+proto`, an identity-encoded request, a unary method. It serves the HTTP/2
 * stream itself, before Node's compatibility layer would wrap it in a request and a response
 * object (two Node streams and nine listeners per call), and hands interceptors and
 * implementations plain-object headers (plain-headers.ts). It uses the pieces
 * connect-es exports for the protocol itself — the method's serialization with our size limits,
 * grpc-timeout parsing, response compression negotiation, the trailer status encoding — and
 * runs the same interceptors and service implementations. Every other request (the JSON codec,
 * a compressed request, gRPC-Web, Connect, HTTP/1.1, streaming methods) goes through connect-es
 * as before. A test sends the same inputs down both paths and compares the answers.
 *
 * `TESSERA_LEAN_GRPC=false` switches this path off (rpc-handler.ts then gives every call to
 * connect-es): the way out if a connect-es upgrade breaks the helpers it borrows.
 */
import http2 from "node:http2";
import { create, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, type Message, type MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createServiceImplSpec,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  compressedFlag,
  compressionNegotiate,
  contentTypeProto,
  createMethodSerializationLookup,
  encodeEnvelope,
  envelopeCompress,
  parseTimeout,
  setTrailerStatus,
  type Compression,
  type Serialization,
} from "./connect-es-internals.js";
import { discardBody } from "../../listener.js";
import { PlainHeaders } from "./plain-headers.js";
import { asCallerFault } from "../errors.js";

/** What the router was given for one method: its descriptor and implementation. */
export interface UnaryMethodSpec {
  readonly method: DescMethodUnary;
  readonly impl: (request: MessageShape<DescMessage>, context: HandlerContext) => unknown;
}

export interface GrpcUnaryOptions {
  interceptors: readonly Interceptor[];
  acceptCompression: readonly Compression[];
  readMaxBytes: number;
}

/** Serves one unary method on an HTTP/2 stream. */
export type GrpcUnaryRoute = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, values: ContextValues) => void;

/** Below this size a response message is not worth compressing (connect-es's default). */
const COMPRESS_MIN_BYTES = 1024;
const ENVELOPE_HEADER_BYTES = 5;

/** The call a request belongs to, for the implementation's context at the end of the interceptor chain. */
const unaryCallKey = createContextKey<UnaryCall | undefined>(undefined, { description: "gRPC unary call" });

/** True for a request this path serves; anything else goes to connect-es. */
export function isPlainGrpcRequest(headers: http2.IncomingHttpHeaders): boolean {
  const contentType = headers["content-type"];
  const encoding = headers["grpc-encoding"];
  return (
    headers[":method"] === "POST" &&
    (contentType === "application/grpc" || contentType === "application/grpc+proto") &&
    (encoding === undefined || encoding === "identity")
  );
}

/**
 * Serves an HTTP/2 stream on the lean path if it is a plain gRPC call of one of the unary
 * methods of `services`, and says whether it did; every other stream goes on to Node's
 * compatibility layer and from there to connect-es or the gateway.
 */
export type LeanGrpcHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  contextValues: () => ContextValues,
) => boolean;

export function leanGrpcHandler(services: readonly { service: DescService; implementation: object }[], options: GrpcUnaryOptions): LeanGrpcHandler {
  const routes = new Map<string, GrpcUnaryRoute>();
  for (const { service, implementation } of services) {
    for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) {
      if (spec.kind !== "unary") continue;
      routes.set(`/${service.typeName}/${spec.method.name}`, grpcUnaryRoute(spec as UnaryMethodSpec, options));
    }
  }
  return (stream, headers, contextValues) => {
    const path = headers[":path"];
    const route = path === undefined ? undefined : routes.get(path);
    if (!route || !isPlainGrpcRequest(headers)) return false;
    route(stream, headers, contextValues());
    return true;
  };
}

/** A server for one unary method, with the interceptor chain built once rather than per call. */
export function grpcUnaryRoute(spec: UnaryMethodSpec, options: GrpcUnaryOptions): GrpcUnaryRoute {
  const serialization = createMethodSerializationLookup(spec.method, undefined, undefined, {
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: 0xffffffff,
  });
  const input = serialization.getI(true);
  const output = serialization.getO(true);
  const invoke = async (request: UnaryRequest): Promise<UnaryResponse> => {
    const call = request.contextValues.get(unaryCallKey)!;
    const context = request.header === call.requestHeader && request.contextValues === call.values ? call : call.withRequest(request);
    const message = create(spec.method.output, (await spec.impl(request.message, context)) as never);
    return { stream: false, message, method: spec.method, service: spec.method.parent, header: call.responseHeader, trailer: call.responseTrailer };
  };
  let chain = invoke as (request: UnaryRequest) => Promise<UnaryResponse>;
  for (const interceptor of [...options.interceptors].reverse()) chain = interceptor(chain as never) as typeof chain;

  const parts: RouteParts = { input, output, chain, acceptCompression: [...options.acceptCompression], readMaxBytes: options.readMaxBytes };
  return (stream, headers, values) => {
    serve(spec.method, stream, headers, values, parts).catch(() => {
      // Writing the answer failed (a header value node refuses, say): reset the stream rather
      // than leave the caller waiting.
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  };
}

interface RouteParts {
  input: Serialization<Message>;
  output: Serialization<Message>;
  chain: (request: UnaryRequest) => Promise<UnaryResponse>;
  acceptCompression: Compression[];
  readMaxBytes: number;
}

async function serve(
  method: DescMethodUnary,
  stream: http2.ServerHttp2Stream,
  header: http2.IncomingHttpHeaders,
  values: ContextValues,
  parts: RouteParts,
): Promise<void> {
  const compression = compressionNegotiate(parts.acceptCompression, null, stringHeader(header["grpc-accept-encoding"]), "grpc-accept-encoding");
  const call = new UnaryCall(method, stream, header, values);
  values.set(unaryCallKey, call);
  if (compression.response) call.responseHeader.set("grpc-encoding", compression.response.name);
  const onClose = () => call.abort(new ConnectError("the caller cancelled the call", Code.Canceled));
  stream.once("close", onClose);

  let body: Uint8Array | undefined;
  try {
    const timeout = parseTimeout(stringHeader(header["grpc-timeout"]), Number.MAX_SAFE_INTEGER);
    if (timeout.error) throw timeout.error;
    if (timeout.timeoutMs !== undefined) call.startDeadline(timeout.timeoutMs);
    const message = decodeRequest(await readBody(stream, parts.readMaxBytes), parts.input, parts.readMaxBytes);
    const answer = await parts.chain({
      stream: false,
      message,
      method,
      service: method.parent,
      requestMethod: "POST",
      get url() {
        return call.url;
      },
      get signal() {
        return call.signal;
      },
      header: call.requestHeader,
      contextValues: values,
    });
    if (answer.header !== call.responseHeader) copyHeaders(answer.header, call.responseHeader);
    if (answer.trailer !== call.responseTrailer) copyHeaders(answer.trailer, call.responseTrailer);
    const data = parts.output.serialize(answer.message);
    if (compression.response) {
      const envelope = await envelopeCompress({ flags: 0, data }, compression.response, COMPRESS_MIN_BYTES);
      body = encodeEnvelope(envelope.flags, envelope.data);
    } else {
      body = encodeEnvelope(0, data);
    }
  } catch (error) {
    setTrailerStatus(call.responseTrailer, error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error));
  } finally {
    call.finish();
    stream.off("close", onClose);
  }
  // The caller went away: nothing is left to tell it.
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  // A refused body the caller is still sending is read and dropped, so the stream stays open
  // until the caller has finished (see discardBody).
  if (!requestArrived(stream)) discardBody(stream);
  const trailer = call.responseTrailer;
  stream.once("wantTrailers", () => stream.sendTrailers(outgoing(trailer)));
  stream.respond(call.responseHeader.toOutgoing({ ":status": 200 }), { waitForTrailers: true });
  if (body) stream.end(body);
  else stream.end();
}

/** One envelope holding one message, as a unary request must be; connect-es's errors for the rest. */
function decodeRequest(body: Buffer, input: Serialization<Message>, readMaxBytes: number): Message {
  if (body.byteLength === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (body.byteLength < ENVELOPE_HEADER_BYTES) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0]!;
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) throw tooLarge(length, readMaxBytes);
  const end = ENVELOPE_HEADER_BYTES + length;
  // A second envelope is an extra message; a few stray bytes, or too few, are an envelope cut short.
  if (body.byteLength >= end + ENVELOPE_HEADER_BYTES) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  if (body.byteLength !== end) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  // Compressed with no grpc-encoding: nothing says how to inflate it. The caller's fault, as
  // every decoding failure is (see rpc-handler.ts).
  if ((flags & compressedFlag) === compressedFlag) {
    throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.InvalidArgument);
  }
  try {
    return input.parse(body.subarray(ENVELOPE_HEADER_BYTES, end));
  } catch (error) {
    throw asCallerFault(error);
  }
}

function tooLarge(size: number, readMaxBytes: number): ConnectError {
  return new ConnectError(`message size ${size} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
}

/**
 * The whole request body, refused once it is larger than one envelope at the limit plus the
 * header of a second (enough to tell an extra message from an oversized one). A refused body is
 * read on and dropped, up to a point, so the answer reaches the caller; past that the stream is
 * reset.
 */
function readBody(stream: http2.ServerHttp2Stream, readMaxBytes: number): Promise<Buffer> {
  const limit = 2 * ENVELOPE_HEADER_BYTES + readMaxBytes;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      discardBody(stream);
      const head = Buffer.concat(chunks);
      const promised = head.byteLength >= ENVELOPE_HEADER_BYTES ? head.readUInt32BE(1) : size;
      reject(promised > readMaxBytes ? tooLarge(promised, readMaxBytes) : new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented));
    };
    const stop = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(new ConnectError(error.message, Code.Canceled, undefined, undefined, error));
    };
    // A stream reset before its body ended emits no error, only close.
    const onClose = () => {
      stop();
      reject(new ConnectError("the caller reset the stream before its message arrived", Code.Canceled));
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}

/** Whether the client has ended its side of the stream (END_STREAM), read or not. */
function requestArrived(stream: http2.ServerHttp2Stream): boolean {
  return stream.readableEnded || stream.state.remoteClose === 1;
}

/**
 * The handler context of one call, with what few calls use (the abort signal, the URL) made
 * only when asked for: most calls never look, and each is garbage under load.
 */
class UnaryCall implements HandlerContext {
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly requestHeader: PlainHeaders;
  readonly responseHeader = PlainHeaders.ofValid({ "content-type": contentTypeProto });
  readonly responseTrailer = PlainHeaders.ofValid({ "grpc-status": "0" });
  #controller: AbortController | undefined;
  #reason: unknown;
  #deadline: { at: number; timer: NodeJS.Timeout } | undefined;
  #done = false;

  constructor(
    readonly method: DescMethod,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    readonly values: ContextValues,
  ) {
    this.service = method.parent;
    this.requestHeader = PlainHeaders.fromIncoming(headers);
  }

  get url(): string {
    const socket = this.stream.session?.socket;
    const scheme = socket && "encrypted" in socket && socket.encrypted ? "https" : "http";
    return `${scheme}://${this.headers[":authority"] ?? this.headers.host ?? ""}${this.headers[":path"] ?? ""}`;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  readonly timeoutMs = (): number | undefined => (this.#deadline ? this.#deadline.at - Date.now() : undefined);

  startDeadline(ms: number): void {
    const abort = () => this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (ms <= 0) abort();
    else this.#deadline = { at: Date.now() + ms, timer: setTimeout(abort, ms) };
  }

  /** Aborts the signal with a reason, once, and only while the call is running. */
  abort(reason: unknown): void {
    if (this.#done || this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** The call has its answer: the deadline no longer matters, and a later close is not a cancel. */
  finish(): void {
    this.#done = true;
    if (this.#deadline) clearTimeout(this.#deadline.timer);
  }

  /** This context with what an interceptor replaced in the request. */
  withRequest(request: UnaryRequest): HandlerContext {
    return {
      method: this.method,
      service: request.service,
      signal: request.signal,
      timeoutMs: this.timeoutMs,
      requestMethod: this.requestMethod,
      requestHeader: request.header,
      responseHeader: this.responseHeader,
      responseTrailer: this.responseTrailer,
      protocolName: this.protocolName,
      values: request.contextValues,
      url: request.url,
    };
  }
}

function stringHeader(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

/** Trailers as Node sends them: a PlainHeaders as it is, any other Headers copied. */
function outgoing(headers: Headers): http2.OutgoingHttpHeaders {
  if (headers instanceof PlainHeaders) return headers.toOutgoing();
  const out: http2.OutgoingHttpHeaders = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

function copyHeaders(from: Headers, to: Headers): void {
  for (const name of [...to.keys()]) to.delete(name);
  from.forEach((value, name) => to.set(name, value));
}
