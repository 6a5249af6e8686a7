/**
 * The lean gRPC unary path (lean-grpc/grpc-unary.ts) against connect-es's own gRPC handler, over
 * h2c: every input is sent as the same plain gRPC request to two rpcRequestHandlers, one with the
 * lean path on (the default) and one with it switched off by TESSERA_LEAN_GRPC=false, and the
 * two answers must match: status, headers, trailers and body bytes. The handlers run on
 * Tessera's own listener, as in the server.
 */
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as ServingStatus } from "../../../../src/gen/grpc/health/v1/health_pb.js";
import { OAuthErrorSchema } from "../../../../src/gen/tessera/v1/oauth_error_pb.js";
import { loadConfig } from "../../../../src/config/config.js";
import { createLogger } from "../../../../src/log/logger.js";
import { RPC_READ_MAX_BYTES, rpcRequestHandler, rpcService } from "../../../../src/transport/connect/rpc-handler.js";
import { listen, type Listener } from "../../../../src/transport/listener.js";
import { oneOriginRouter } from "../../../../src/transport/router.js";

const CHECK = "/grpc.health.v1.Health/Check";

/** What the implementation saw of its last call, by service name. */
const seen = new Map<string, { lean: boolean; abortReason?: unknown; timeoutMs?: number }>();

/** The lean path makes the abort signal on first use; connect-es's context carries one from the start. */
const servedByLeanPath = (context: HandlerContext) => !Object.hasOwn(context, "signal");

const health = {
  async check(request: { service: string }, context: HandlerContext) {
    const record: { lean: boolean; abortReason?: unknown; timeoutMs?: number } = { lean: servedByLeanPath(context), timeoutMs: context.timeoutMs() };
    seen.set(request.service, record);
    if (request.service === "boom") throw new Error("a bug");
    if (request.service === "missing") throw new ConnectError("no such service", Code.NotFound, { "x-detail": "looked everywhere" });
    if (request.service === "detailed") {
      throw new ConnectError("not for you", Code.PermissionDenied, undefined, [{ desc: OAuthErrorSchema, value: { error: "invalid_scope", errorDescription: "not for you" } }]);
    }
    if (request.service === "echo") context.responseHeader.set("x-echo-bin", context.requestHeader.get("x-token-bin") ?? "");
    if (request.service.startsWith("slow")) {
      await new Promise<void>((resolve) => {
        if (context.signal.aborted) {
          record.abortReason = context.signal.reason;
          return resolve();
        }
        const timer = setTimeout(resolve, 2_000);
        context.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          record.abortReason = context.signal.reason;
          resolve();
        });
      });
      return { status: context.signal.aborted ? ServingStatus.NOT_SERVING : ServingStatus.SERVING };
    }
    context.responseHeader.set("x-implementation", "health");
    context.responseTrailer.set("x-trailer", "from the implementation");
    return { status: ServingStatus.SERVING };
  },
};

/** Sets a header on every answer and metadata on every error, as the logging interceptor does. */
const stamping: Interceptor = (next) => async (request) => {
  try {
    const response = await next(request);
    response.header.set("x-stamp", request.header.get("x-request-id") ?? "none");
    return response;
  } catch (error) {
    const connectError = ConnectError.from(error);
    connectError.metadata.set("x-stamp", "error");
    throw connectError;
  }
};

let server: Listener;
let session: http2.ClientHttp2Session;
/** The same handler with the lean path switched off: every call goes through connect-es. */
let connectEsServer: Listener;
let connectEsSession: http2.ClientHttp2Session;

async function start(leanGrpc: boolean): Promise<Listener> {
  const rpc = rpcRequestHandler({
    services: [rpcService(Health, health)],
    interceptors: [stamping],
    contextValues: () => createContextValues(),
    leanGrpc,
  });
  const handler = oneOriginRouter({
    rpc,
    gateway: (_request, response) => {
      response.writeHead(404);
      response.end();
    },
  });
  // Tessera's own listener: it drops the rest of a body connect-es refused without reading.
  return listen({ handler, streamHandler: rpc.serveStream, host: "127.0.0.1", port: 0, tls: undefined, limits: loadConfig({}).connectionLimits, log: createLogger({ level: "silent" }) });
}

beforeAll(async () => {
  server = await start(loadConfig({}).leanGrpc);
  session = http2.connect(`http://127.0.0.1:${server.port}`);
  connectEsServer = await start(loadConfig({ TESSERA_LEAN_GRPC: "false" }).leanGrpc);
  connectEsSession = http2.connect(`http://127.0.0.1:${connectEsServer.port}`);
});

afterAll(async () => {
  session?.close();
  connectEsSession?.close();
  await server?.close(1_000);
  await connectEsServer?.close(1_000);
});

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  trailers: Record<string, unknown>;
  body: string;
}

function send(body: Uint8Array, headers: http2.OutgoingHttpHeaders = {}, to = session): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = to.request({
      ":method": "POST",
      ":path": CHECK,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "identity",
      ...headers,
    });
    const answer: Answer = { status: 0, headers: {}, trailers: {}, body: "" };
    const chunks: Buffer[] = [];
    stream.on("response", (received) => {
      const { ":status": status, date: _date, ...rest } = received;
      answer.status = Number(status);
      answer.headers = rest;
    });
    stream.on("trailers", (received) => {
      answer.trailers = { ...received };
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.setTimeout(3_000, () => reject(new Error("no answer within 3 s")));
    // The answer is complete at the server's end of stream, even while a refused body is still
    // being sent: a gRPC client stops there.
    stream.on("end", () => {
      answer.body = Buffer.concat(chunks).toString("hex");
      resolve(answer);
      stream.close();
    });
    stream.end(body);
  });
}

function envelope(message: Uint8Array, flags = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([header, message]);
}

const check = (service: string) => toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));

/** Sent both ways; the answers must be the same. */
const CASES: [string, Uint8Array, http2.OutgoingHttpHeaders?][] = [
  ["a valid request", envelope(check("")), { "x-request-id": "req-1" }],
  ["a refusal with metadata", envelope(check("missing"))],
  ["an implementation that throws", envelope(check("boom"))],
  ["a refusal with error details (grpc-status-details-bin)", envelope(check("detailed"))],
  ["binary request metadata", envelope(check("echo")), { "x-token-bin": Buffer.from([0, 1, 2, 250]).toString("base64") }],
  ["an empty body", new Uint8Array()],
  ["three bytes", Buffer.from([0, 0, 0])],
  ["an envelope shorter than it promises", Buffer.concat([envelope(check("x")).subarray(0, 5), Buffer.from([0x0a])])],
  ["two envelopes", Buffer.concat([envelope(check("a")), envelope(check("b"))])],
  ["an envelope and two stray bytes", Buffer.concat([envelope(check("a")), Buffer.from([0, 0])])],
  ["an envelope promising more than the limit", (() => {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(RPC_READ_MAX_BYTES + 1, 1);
    return Buffer.concat([header, Buffer.alloc(100)]);
  })()],
  ["a message over the limit", envelope(check("x".repeat(RPC_READ_MAX_BYTES + 10)))],
  ["an undecodable message", envelope(Buffer.from([0x0a, 0x05]))],
  ["a malformed grpc-timeout", envelope(check("")), { "grpc-timeout": "soon" }],
  ["a deadline already passed", envelope(check("slow-zero")), { "grpc-timeout": "0S" }],
];

describe("the lean gRPC unary path", () => {
  it.each(CASES)("answers %s exactly as connect-es does", async (_name, body, headers = {}) => {
    const [lean, connect] = await Promise.allSettled([send(body, headers), send(body, headers, connectEsSession)]);
    expect(lean).toEqual(connect);
  });

  it.each(CASES)("answers %s as connect-es does when a request is labelled compressed", async (_name, body, headers = {}) => {
    const [lean, connect] = await Promise.allSettled([send(body, headers), send(body, { ...headers, "grpc-encoding": "gzip" })]);
    expect(lean).toEqual(connect);
  });

  it("is on by default, and TESSERA_LEAN_GRPC=false gives plain gRPC requests to connect-es", async () => {
    expect(loadConfig({}).leanGrpc).toBe(true);
    expect(() => loadConfig({ TESSERA_LEAN_GRPC: "yes" })).toThrow(/TESSERA_LEAN_GRPC must be true or false/);
    await send(envelope(check("switched-off")), {}, connectEsSession);
    expect(seen.get("switched-off")?.lean).toBe(false);
  });

  it("takes plain gRPC requests, and leaves compressed ones to connect-es", async () => {
    await send(envelope(check("plain")));
    await send(envelope(check("labelled")), { "grpc-encoding": "gzip" });
    expect(seen.get("plain")?.lean).toBe(true);
    expect(seen.get("labelled")?.lean).toBe(false);
  });

  it("answers a valid request with the implementation's headers and trailers, and a request id from the interceptor", async () => {
    const answer = await send(envelope(check("")), { "x-request-id": "req-2" });
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({ "content-type": "application/grpc+proto", "x-implementation": "health", "x-stamp": "req-2" });
    expect(answer.trailers).toMatchObject({ "grpc-status": "0", "x-trailer": "from the implementation" });
    expect(answer.body).toBe(envelope(Buffer.from([0x08, ServingStatus.SERVING])).toString("hex"));
  });

  it("carries error details in grpc-status-details-bin and binary metadata as sent", async () => {
    const refused = await send(envelope(check("detailed")));
    expect(refused.trailers).toMatchObject({ "grpc-status": String(Code.PermissionDenied), "grpc-message": "not%20for%20you" });
    expect(String(refused.trailers["grpc-status-details-bin"] ?? "")).not.toBe("");
    const token = Buffer.from([0, 1, 2, 250]).toString("base64");
    const echoed = await send(envelope(check("echo")), { "x-token-bin": token });
    expect(echoed.headers["x-echo-bin"]).toBe(token);
  });

  it("refuses a compressed envelope that says nothing of its compression as the caller's fault", async () => {
    const answer = await send(envelope(check(""), 1));
    expect(answer.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
  });

  it("aborts the call's signal at its deadline, and says how long is left", async () => {
    const answer = await send(envelope(check("slow-deadline")), { "grpc-timeout": "50m" });
    expect(answer.trailers["grpc-status"]).toBe("0");
    const record = seen.get("slow-deadline")!;
    expect(record.lean).toBe(true);
    expect(record.timeoutMs).toBeGreaterThan(0);
    expect(record.timeoutMs).toBeLessThanOrEqual(50);
    expect(record.abortReason).toBeInstanceOf(ConnectError);
    expect((record.abortReason as ConnectError).code).toBe(Code.DeadlineExceeded);
  });

  it("aborts the call's signal when the caller resets the stream", async () => {
    const stream = session.request({ ":method": "POST", ":path": CHECK, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    stream.end(envelope(check("slow-cancel")));
    await expect.poll(() => seen.get("slow-cancel")).toBeDefined();
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await expect.poll(() => seen.get("slow-cancel")?.abortReason).toBeInstanceOf(ConnectError);
    expect((seen.get("slow-cancel")!.abortReason as ConnectError).code).toBe(Code.Canceled);
  });

  it("still serves calls after all of the above", async () => {
    const answer = await send(envelope(check("")));
    expect(answer.trailers["grpc-status"]).toBe("0");
  });
});
