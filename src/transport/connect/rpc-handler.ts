/**
 * The Node request handler for the Connect, gRPC and gRPC-Web services: connect-node's
 * `connectNodeAdapter`, with request limits and one correction, and plain gRPC unary calls over
 * HTTP/2 served by a leaner path of our own (lean-grpc/) unless `leanGrpc` is off: the listener
 * offers it each HTTP/2 stream before Node's compatibility layer sees it (`serveStream`).
 *
 * connect-es answers a request message it cannot decode (truncated or malformed protobuf,
 * invalid UTF-8, nesting past the recursion limit, a compressed body that does not inflate)
 * with INTERNAL, as grpc-go does. The fault is the caller's, and our contract (like
 * connect-go) says INVALID_ARGUMENT. A unary request is decoded before any interceptor runs,
 * so the code is corrected on the way out, in each protocol's own error form; a streaming
 * request is decoded as the service reads it, so an interceptor corrects it there.
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  type ContextValues,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Compression, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type http2 from "node:http2";
import type { AddressedRequest } from "../client-address.js";
import type { RequestHandler, StreamHandler } from "../listener.js";
import { asCallerFault } from "./errors.js";
import { leanGrpcHandler } from "./lean-grpc/grpc-unary.js";

type NodeRequest = Parameters<RequestHandler>[0];

/**
 * The largest request message accepted, after decompression. The largest legitimate one, a
 * CreateClient at every field's cap, is under 100 KiB.
 */
export const RPC_READ_MAX_BYTES = 256 * 1024;

/** Set once a call's request was decoded and the interceptors run; absent, a failure is the request's. */
const decodedKey = createContextKey<{ decoded: boolean }>({ decoded: false }, { description: "request message decoded" });

/** A service and its implementation, as `rpcService` pairs them. */
export interface RpcService {
  readonly service: DescService;
  readonly implementation: object;
}

/** Pairs a service with its implementation, type-checked against each other. */
export function rpcService<T extends DescService>(service: T, implementation: Partial<ServiceImpl<T>>): RpcService {
  return { service, implementation };
}

export interface RpcHandlerOptions {
  services: readonly RpcService[];
  interceptors: Interceptor[];
  /** The call's context values, from what is known of the request before it is read. */
  contextValues(request: AddressedRequest): ContextValues;
  /** Serve plain gRPC unary calls on the lean path (lean-grpc/); false gives every call to connect-es. */
  leanGrpc: boolean;
}

/** The RPC side of the one port: the paths it serves, and serving a request on one of them. */
export interface RpcRequestHandler {
  /** `/<package>.<Service>/<Method>` of every method of every service. */
  readonly requestPaths: ReadonlySet<string>;
  /** Serves a request whose path (without query) is one of `requestPaths`. */
  serve(request: NodeRequest, response: Parameters<RequestHandler>[1], path: string): void;
  /** Serves an HTTP/2 stream on the lean gRPC path if it is a plain gRPC unary call (the listener's StreamHandler). */
  readonly serveStream: StreamHandler;
}

export function rpcRequestHandler(options: RpcHandlerOptions): RpcRequestHandler {
  const acceptCompression = [callerFaultOnFailure(compressionGzip), callerFaultOnFailure(compressionBrotli)];
  const router = createConnectRouter({
    interceptors: [undecodableStreamInterceptor, ...options.interceptors],
    acceptCompression,
    readMaxBytes: RPC_READ_MAX_BYTES,
  });
  for (const { service, implementation } of options.services) router.service(service, implementation);
  // The lean path decodes before any interceptor runs and answers its own decoding failures,
  // so it needs neither the marker nor the correction.
  const lean = options.leanGrpc
    ? leanGrpcHandler(options.services, { interceptors: options.interceptors, acceptCompression, readMaxBytes: RPC_READ_MAX_BYTES })
    : undefined;
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));

  return {
    requestPaths: new Set(handlers.keys()),
    serveStream: lean
      ? (stream, headers) => lean(stream, headers, () => options.contextValues({ socket: stream.session?.socket, headers }))
      : () => false,
    serve(request, response, path) {
      const handler = handlers.get(path)!;
      const marker = { decoded: false };
      const contextValues = options.contextValues(request).set(decodedKey, marker);
      handler(universalRequestFromNodeRequest(request, response, undefined, contextValues))
        .then((answer) => (marker.decoded ? answer : undecodableAsInvalidArgument(answer)))
        .then((answer) => universalResponseToNodeResponse(answer, response))
        .catch((reason: unknown) => {
          // The caller went away mid-answer; nothing is left to tell it.
          if (ConnectError.from(reason).code !== Code.Aborted) response.destroy();
        });
    },
  };
}

/** Marks the call decoded, and corrects decoding failures of streamed request messages. */
const undecodableStreamInterceptor: Interceptor = (next) => async (request) => {
  request.contextValues.get(decodedKey).decoded = true;
  if (!request.stream) return next(request);
  const messages = request.message;
  async function* decoded() {
    try {
      yield* messages;
    } catch (error) {
      throw asCallerFault(error);
    }
  }
  return next({ ...request, message: decoded() });
};

/** connect-node's zlib codecs call some corrupt inputs (a truncated gzip stream) INTERNAL. */
function callerFaultOnFailure(compression: Compression): Compression {
  return {
    name: compression.name,
    compress: (bytes) => compression.compress(bytes),
    decompress: (bytes, readMaxBytes) =>
      compression.decompress(bytes, readMaxBytes).catch((error: unknown) => {
        throw asCallerFault(error);
      }),
  };
}

/**
 * A unary call that never reached the interceptors failed while its request was read. If it
 * failed INTERNAL, that was a decoding failure: answer INVALID_ARGUMENT in the protocol's form.
 * This is the error path only; the answer is short and read whole.
 */
async function undecodableAsInvalidArgument(answer: UniversalServerResponse): Promise<UniversalServerResponse> {
  // gRPC: the status travels in trailers, which the handler has already filled in.
  if (answer.trailer?.get("grpc-status") === String(Code.Internal)) {
    answer.trailer.set("grpc-status", String(Code.InvalidArgument));
    return answer;
  }
  if (answer.body === undefined) return answer;
  const frames: Uint8Array[] = [];
  for await (const frame of answer.body) frames.push(frame);
  const contentType = answer.header?.get("content-type") ?? "";
  // gRPC-Web: the status travels in a trailer frame at the end of the body.
  if (contentType.startsWith("application/grpc-web")) {
    return { ...answer, body: replay(frames.map(correctGrpcWebTrailerFrame)) };
  }
  // Connect unary: the error is a JSON body, with the HTTP status of its code.
  if (answer.status === 500 && contentType.startsWith("application/json")) {
    const error = JSON.parse(new TextDecoder().decode(Buffer.concat(frames))) as { code?: string; message?: string };
    if (error.code === "internal") {
      const body = new TextEncoder().encode(JSON.stringify({ code: "invalid_argument", message: error.message ?? "" }));
      const header = new Headers(answer.header);
      header.set("content-length", String(body.byteLength));
      return { ...answer, status: 400, header, body: replay([body]) };
    }
  }
  return { ...answer, body: replay(frames) };
}

/** An answer body read whole, handed back as the stream connect-node writes out. */
async function* replay(frames: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* frames;
}

const GRPC_WEB_TRAILER_FLAG = 0x80;
const GRPC_WEB_COMPRESSED_FLAG = 0x01;

function correctGrpcWebTrailerFrame(frame: Uint8Array): Uint8Array {
  if (frame.byteLength < 5 || (frame[0]! & GRPC_WEB_TRAILER_FLAG) === 0 || (frame[0]! & GRPC_WEB_COMPRESSED_FLAG) !== 0) return frame;
  const text = new TextDecoder().decode(frame.subarray(5));
  const corrected = text.replace(/^grpc-status: *13\r$/im, `grpc-status: ${Code.InvalidArgument}\r`);
  if (corrected === text) return frame;
  const payload = new TextEncoder().encode(corrected);
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = frame[0]!;
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}
